/* conf: roost-admin's flags and ROOST_* environment (lib/base/cfg.h), and
 * the --help text that describes the service. */
#ifndef ROOST_ADMIN_CONF_H
#define ROOST_ADMIN_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store/redis_conf.h"

typedef struct admin_conf {
    redis_conf_t redis;
    const char *http_bind;
    int64_t http_port, http_threads, http_per_address, http_timeout, http_header_timeout;
    const char *rpc_bind, *pub_bind;
    const char *curve_secret; /* CurveZMQ secret key (spec) for the RPC and PUB; "" = plain */
    const char *token_file, *console_dir, *vendor_dir;
    const char *mqtt_endpoints; /* comma-separated device URLs shown on the Overview */
    int64_t argon2_ops, argon2_mem;
    const char *log_level;
    const char *tls_key_secret;  /* seal key spec for the stored TLS key (seal.h); "" = none */
    uint8_t tls_seal[32];        /* parsed from it */
    bool has_tls_seal;
} admin_conf_t;

/* Fills c from defaults, environment and argv. 0 (run), CFG_EXIT_HELP, or
 * ROOST_ECONFIG after printing the problem to err. */
int conf_load(admin_conf_t *c, int argc, char **argv, FILE *out, FILE *err);

#endif
