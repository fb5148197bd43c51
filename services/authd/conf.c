#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/err.h"

#define SUMMARY                                                                                        \
    "roost-authd: answers brokers' CONNECT credential checks (ZeroMQ ROUTER) from the Redis store.\n" \
    "Usage: roost-authd [options]"

int conf_parse(authd_conf_t *c, int argc, char **argv)
{
    *c = (authd_conf_t){
        .bind = "tcp://127.0.0.1:5560", .changes = "",
        .http_bind = "127.0.0.1", .curve_secret = "", .curve_clients = "", .changes_curve_server = "", .log_level = "info", .id = "",
        .http_port = 9560, .workers = 4, .hash_workers = 0, .max_queue = 10000,
        .cache_size = 100000, .cache_ttl = 600,
        .throttle_after = 5, .throttle_peer_after = 20, .throttle_user_after = 10, .throttle_window = 60, .throttle_max = 60,
        .argon2_ops = 0, .argon2_mem = 0,
        .flapping_max = 0, .flapping_window = 60, .flapping_ban = 300,
    };
    const cfg_opt_t opts[] = {
        {"bind", "ROOST_AUTHD_BIND", CFG_STR, &c->bind, 0, 0, "ZeroMQ ROUTER endpoint brokers connect to."},
        {"workers", "ROOST_AUTHD_WORKERS", CFG_INT, &c->workers, 1, 256,
         "Lookup worker threads (one Redis connection each)."},
        {"hash-workers", "ROOST_AUTHD_HASH_WORKERS", CFG_INT, &c->hash_workers, 0, 256,
         "argon2id verification threads; 0 = one per CPU core (argon2 is CPU-bound: more threads "
         "than cores only add waiting)."},
        {"max-queue", "ROOST_AUTHD_MAX_QUEUE", CFG_INT, &c->max_queue, 1, 10000000,
         "Requests waiting beyond this are answered UNAVAILABLE."},
        {"cache-size", "ROOST_AUTHD_CACHE_SIZE", CFG_INT, &c->cache_size, 0, 100000000,
         "Verified-credential cache entries (0 disables)."},
        {"cache-ttl", "ROOST_AUTHD_CACHE_TTL", CFG_INT, &c->cache_ttl, 1, 86400 * 30,
         "Seconds a verified credential stays cached."},
        {"throttle-after", "ROOST_AUTHD_THROTTLE_AFTER", CFG_INT, &c->throttle_after, 0, 1000000,
         "Failures of one username from one address before refusing that pair (0 disables all "
         "throttling; README \"Login throttling\")."},
        {"throttle-peer-after", "ROOST_AUTHD_THROTTLE_PEER_AFTER", CFG_INT, &c->throttle_peer_after, 0, 1000000,
         "Failures from one address, any usernames, before refusing the address; a success does not "
         "reset it (0 disables)."},
        {"throttle-user-after", "ROOST_AUTHD_THROTTLE_USER_AFTER", CFG_INT, &c->throttle_user_after, 0, 1000000,
         "Failures of one username, any addresses, before that username is slowed (up to 1 s) from "
         "clean addresses and refused from addresses with failures (0 disables)."},
        {"throttle-window", "ROOST_AUTHD_THROTTLE_WINDOW", CFG_INT, &c->throttle_window, 1, 86400,
         "Seconds without a failure after which a key (pair, address, username) is forgiven."},
        {"throttle-max", "ROOST_AUTHD_THROTTLE_MAX", CFG_INT, &c->throttle_max, 1, 86400,
         "Longest refusal in seconds (the delay doubles from 1 s)."},
        {"flapping-max", "ROOST_AUTHD_FLAPPING_MAX", CFG_INT, &c->flapping_max, 0, 1000000,
         "Flapping detection: an MQTT client id that CONNECTs with the right credentials more than this many times in "
         "--flapping-window is banned for --flapping-ban (a ban in the bans list; 0: off; one "
         "Redis INCR per CONNECT when on). EMQX's default is 15 a minute."},
        {"flapping-window", "ROOST_AUTHD_FLAPPING_WINDOW", CFG_INT, &c->flapping_window, 1, 86400,
         "Seconds the CONNECTs of a client id are counted over."},
        {"flapping-ban", "ROOST_AUTHD_FLAPPING_BAN", CFG_INT, &c->flapping_ban, 1, 86400 * 30,
         "Seconds a flapping client id stays banned."},
        {"allow-anonymous", "ROOST_ALLOW_ANONYMOUS", CFG_BOOL, &c->allow_anonymous, 0, 0,
         "Accept CONNECTs without a username (groups from mqtt_client_id rules only)."},
        {"changes", "ROOST_AUTHD_CHANGES", CFG_STR, &c->changes, 0, 0,
         "admin's change-event PUB endpoint (optional)."},
        {"http-bind", "ROOST_AUTHD_HTTP_BIND", CFG_STR, &c->http_bind, 0, 0, "Address for /healthz and /metrics."},
        {"http-port", "ROOST_AUTHD_HTTP_PORT", CFG_INT, &c->http_port, 0, 65535, "HTTP port (0 disables)."},
        {"curve-secret", "ROOST_AUTHD_CURVE_SECRET", CFG_STR, &c->curve_secret, 0, 0,
         "CurveZMQ secret key (Z85 or key file) for the ROUTER; unset = plain (a warning: anyone who "
         "reaches --bind may ask, and the peer address it sends is trusted)."},
        {"curve-clients", "ROOST_AUTHD_CURVE_CLIENTS", CFG_STR, &c->curve_clients, 0, 0,
         "Brokers' CurveZMQ public keys (comma-separated, Z85 or key files; the public half of each "
         "broker's --authd-client-key): only they may ask. Needs --curve-secret; unset = any key."},
        {"changes-curve-server", "ROOST_ADMIN_CURVE_PUBLIC", CFG_STR, &c->changes_curve_server, 0, 0,
         "admin PUB's CurveZMQ public key (Z85 or key file); unset = plain."},
        {"argon2-ops", "ROOST_ARGON2_OPS", CFG_INT, &c->argon2_ops, 0, 1000,
         "Target argon2id opslimit (rehash notes, decoy hash); 0 = libsodium interactive."},
        {"argon2-mem", "ROOST_ARGON2_MEM", CFG_INT, &c->argon2_mem, 0, 4LL << 30,
         "Target argon2id memlimit in bytes; 0 = libsodium interactive."},
        {"id", "ROOST_AUTHD_ID", CFG_STR, &c->id, 0, 0,
         "This replica's name in admin's Instances page; default HOSTNAME-PID."},
        {"log-level", "ROOST_LOG_LEVEL", CFG_STR, &c->log_level, 0, 0, "debug, info, warn or error."},
    };
    redis_conf_init(&c->redis, "127.0.0.1:6379");
    int rc = redis_conf_parse(&c->redis, REDIS_CONF_REQUIRE_AUTH | REDIS_CONF_TIMEOUT, NULL, opts,
                              (int)(sizeof(opts) / sizeof(opts[0])), argc, argv, SUMMARY, stdout, stderr);
    if (rc != CFG_RUN)
        return rc;
    if (c->hash_workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c->hash_workers = cores > 0 ? (cores < 256 ? cores : 256) : 2;
    }
    if (c->curve_clients[0] && !c->curve_secret[0]) {
        fprintf(stderr, "roost-authd: --curve-clients needs --curve-secret (a plain socket cannot check keys)\n");
        return ROOST_ECONFIG;
    }
    return CFG_RUN;
}
