/* conf: roost-authd's settings from flags and ROOST_* environment variables
 * (lib/base/cfg), with --help. Strings are borrowed from argv/environ.
 */
#ifndef ROOST_AUTHD_CONF_H
#define ROOST_AUTHD_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "store/redis_conf.h"

typedef struct authd_conf {
    const char *bind;            /* ROUTER endpoint */
    redis_conf_t redis;
    const char *changes;         /* admin PUB endpoint, "" = none */
    const char *http_bind;
    const char *curve_secret;    /* this server's secret key (spec), "" = plain */
    const char *curve_clients;   /* allowed brokers' public keys (specs, comma-separated), "" = any */
    const char *changes_curve_server; /* admin PUB's public key (spec), "" = plain */
    const char *log_level;
    const char *id;              /* instance name for admin; "" = HOSTNAME-PID */
    int64_t http_port, workers, hash_workers, max_queue;
    int64_t cache_size, cache_ttl;
    int64_t throttle_after, throttle_peer_after, throttle_user_after, throttle_window, throttle_max;
    int64_t argon2_ops, argon2_mem;
    int64_t flapping_max, flapping_window, flapping_ban;
    bool allow_anonymous;
} authd_conf_t;

/* Fills defaults, parses. CFG_RUN (0), CFG_EXIT_HELP, or ROOST_ECONFIG (a
 * line was printed to stderr). */
int conf_parse(authd_conf_t *c, int argc, char **argv);

#endif
