/* conf: roost-forwarder's options (flags and ROOST_* variables, base/cfg). */
#ifndef ROOST_FORWARDER_CONF_H
#define ROOST_FORWARDER_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "store/redis_conf.h"

typedef struct fwd_conf {
    redis_conf_t redis;
    const char *consumer;     /* "" = <hostname>-<pid> */
    const char *http_bind;
    int64_t http_port;
    int64_t claim_idle_ms;    /* entries idle this long with a dead consumer are taken over */
    int64_t backoff_base_ms, backoff_max_ms, retry_after_max_s;
    int64_t inflight;         /* requests in flight per pipeline */
    int64_t routes_poll_ms;   /* 0: 500 ms, or 5 s with admin_events (a fallback then) */
    const char *admin_events; /* admin's change-event PUB; "" = poll only */
    const char *admin_key;    /* admin's CurveZMQ public key (spec); "" = plain */
    int64_t drain_ms;
    const char *ca_file;      /* "" = the system's CA store */
    const char *log_level;
} fwd_conf_t;

/* CFG_RUN, CFG_EXIT_HELP or ROOST_ECONFIG (message printed). */
int conf_parse(fwd_conf_t *c, int argc, char **argv);

#endif
