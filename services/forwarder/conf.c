#include "conf.h"

#include <stdio.h>

#include "base/cfg.h"
#include "base/err.h"

#define SUMMARY                                                                                          \
    "roost-forwarder: POSTs the messages of each pipeline's Redis Stream to its HTTP API, at least\n"   \
    "once (consumer group \"forwarders\"; run any number of replicas).\n"                                \
    "Headers sent: Content-Type: application/json; Authorization: Bearer <authorization token> and\n"  \
    "X-Network-Token: <network token> when the pipeline has them; Idempotency-Key: <message id> on\n"   \
    "one-message requests. Body: one JSON object per message, or a JSON array of them when the\n"      \
    "pipeline's batch_size > 1. 2xx acknowledges; 408, 5xx, timeouts and connection errors retry with\n" \
    "exponential backoff and jitter; 429 waits for Retry-After; other 4xx and max_attempts failures\n" \
    "go to the pipeline's dead-letter stream.\n"                                                         \
    "Usage: roost-forwarder [options]"

int conf_parse(fwd_conf_t *c, int argc, char **argv)
{
    *c = (fwd_conf_t){
        .consumer = "",
        .http_bind = "127.0.0.1", .http_port = 9590, .claim_idle_ms = 30000, .backoff_base_ms = 500,
        .backoff_max_ms = 30000, .retry_after_max_s = 300, .inflight = 1, .routes_poll_ms = 0,
        .admin_events = "", .admin_key = "",
        .drain_ms = 10000, .ca_file = "", .log_level = "info",
    };
    const cfg_opt_t opts[] = {
        {"consumer", "ROOST_FORWARDER_CONSUMER", CFG_STR, &c->consumer, 0, 0,
         "Consumer name in the group; empty: <hostname>-<pid>."},
        {"claim-idle-ms", "ROOST_FORWARDER_CLAIM_IDLE_MS", CFG_INT, &c->claim_idle_ms, 100, 86400000,
         "Entries held this long by a forwarder that stopped refreshing them (it died) are taken over."},
        {"inflight", "ROOST_FORWARDER_INFLIGHT", CFG_INT, &c->inflight, 1, 64,
         "HTTP requests in flight per pipeline. 1 keeps the order per topic across retries; more is faster "
         "and may reorder retried messages."},
        {"backoff-base-ms", "ROOST_FORWARDER_BACKOFF_BASE_MS", CFG_INT, &c->backoff_base_ms, 1, 3600000,
         "First retry delay; doubles per attempt, with jitter (half fixed, half random)."},
        {"backoff-max-ms", "ROOST_FORWARDER_BACKOFF_MAX_MS", CFG_INT, &c->backoff_max_ms, 1, 3600000,
         "Longest retry delay."},
        {"retry-after-max-s", "ROOST_FORWARDER_RETRY_AFTER_MAX_S", CFG_INT, &c->retry_after_max_s, 0, 86400,
         "Longest 429 Retry-After honoured."},
        {"routes-poll-ms", "ROOST_FORWARDER_ROUTES_POLL_MS", CFG_INT, &c->routes_poll_ms, 0, 60000,
         "How often the pipeline list is checked for changes (routes:version); 0: every 500 ms, or every "
         "5 s with --admin-events, whose change events bring changes at once."},
        {"admin-events", "ROOST_ADMIN_EVENTS", CFG_STR, &c->admin_events, 0, 0,
         "roost-admin's change-event endpoint (tcp://HOST:5571): pipeline and mapping changes apply at "
         "once instead of at the next poll. Empty: poll only."},
        {"admin-events-server-key", "ROOST_ADMIN_CURVE_PUBLIC", CFG_STR, &c->admin_key, 0, 0,
         "CurveZMQ public key of admin (Z85 or file), when admin runs with --curve-secret."},
        {"drain-ms", "ROOST_FORWARDER_DRAIN_MS", CFG_INT, &c->drain_ms, 0, 600000,
         "On SIGTERM: stop reading, keep delivering what is held for at most this long, then exit "
         "(what is left is taken over by other forwarders after --claim-idle-ms)."},
        {"ca-file", "ROOST_FORWARDER_CA_FILE", CFG_STR, &c->ca_file, 0, 0,
         "PEM CA bundle for https pipelines; empty: the system store. Verification is always on."},
        {"http-bind", "ROOST_FORWARDER_HTTP_BIND", CFG_STR, &c->http_bind, 0, 0, "Address for /healthz and /metrics."},
        {"http-port", "ROOST_FORWARDER_HTTP_PORT", CFG_INT, &c->http_port, 0, 65535, "HTTP port (0 disables)."},
        {"log-level", "ROOST_LOG_LEVEL", CFG_STR, &c->log_level, 0, 0, "debug, info, warn or error."},
    };
    redis_conf_init(&c->redis, "127.0.0.1:6379");
    int rc = redis_conf_parse(&c->redis, REDIS_CONF_TIMEOUT, NULL, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                              argc, argv, SUMMARY, stdout, stderr);
    if (rc != CFG_RUN)
        return rc;
    if (!c->routes_poll_ms)
        c->routes_poll_ms = c->admin_events[0] ? 5000 : 500;
    if (c->backoff_max_ms < c->backoff_base_ms) {
        fprintf(stderr, "roost-forwarder: --backoff-max-ms must be at least --backoff-base-ms\n");
        return ROOST_ECONFIG;
    }
    return CFG_RUN;
}
