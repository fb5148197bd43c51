/* conf: roost-admin configuration (conf.h). */
#include "conf.h"
#include "store/seal.h"

#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/err.h"
#include "fleet.h"

#ifndef ROOST_CONSOLE_DIR_DEFAULT
#define ROOST_CONSOLE_DIR_DEFAULT "services/admin/console"
#endif
#ifndef ROOST_CONSOLE_VENDOR_DIR_DEFAULT
#define ROOST_CONSOLE_VENDOR_DIR_DEFAULT "services/admin/console/vendor"
#endif

static const char SUMMARY[] =
    "roost-admin: the only writer of Roost's access data (clients, groups, group rules, ACLs).\n"
    "\n"
    "Doors, one operations layer behind them (validated, atomic in Redis, audited, then a\n"
    "ChangeEvent on the PUB socket):\n"
    "  HTTP   --http-bind:--http-port   JSON API under /api/v1/, /healthz, /metrics, and the\n"
    "                                   web console's files from --console-dir at /\n"
    "  RPC    --rpc-bind (ROUTER)       protobuf AdminRequest/AdminReply, used by roostctl\n"
    "  PUB    --pub-bind                ChangeEvents [roost.change][ChangeEvent] for authd and brokers\n"
    "\n"
    "Overview and Instances (/api/v1/overview, /api/v1/instances, roostctl status): brokers\n"
    "and authd put a record of their figures into Redis every second; a thread here reads\n"
    "them every 2 s into one hour of history per instance (fixed memory).\n"
    "\n"
    "Threads: libmicrohttpd runs --http-threads workers; the main thread runs the ZeroMQ\n"
    "loop (RPC requests and the PUB socket). Each thread borrows its own Redis handle.\n"
    "\n"
    "Operator tokens: every API and RPC call needs 'Authorization: Bearer <token>' (RPC:\n"
    "the token field). At first start, when Redis holds no token, ROOST_ADMIN_TOKEN (env\n"
    "only, never a flag) becomes the first token; without it admin creates one and writes\n"
    "it to --token-file (mode 0600, directories created); the log names the file and the\n"
    "token's first 10 characters, never the token.\n"
    "Tokens are stored as BLAKE2b hashes; create/list/revoke them with /api/v1/tokens or\n"
    "'roostctl tokens'.\n"
    "\n"
    "SIGTERM/SIGINT: clean exit.";

int conf_load(admin_conf_t *c, int argc, char **argv, FILE *out, FILE *err)
{
    *c = (admin_conf_t){
        .http_bind = "127.0.0.1", .http_port = 8080,
        .http_threads = 4, .http_per_address = 32, .http_timeout = 5, .http_header_timeout = 10, .rpc_bind = "tcp://127.0.0.1:5570", .pub_bind = "tcp://127.0.0.1:5571",
        .curve_secret = "",
        .token_file = "var/admin-token", .console_dir = ROOST_CONSOLE_DIR_DEFAULT, .log_level = "info",
        .vendor_dir = ROOST_CONSOLE_VENDOR_DIR_DEFAULT, .mqtt_endpoints = "", .tls_key_secret = "",
    };
    const cfg_opt_t opts[] = {
        {"http-bind", "ROOST_ADMIN_HTTP_BIND", CFG_STR, &c->http_bind, 0, 0, "IPv4 address of the HTTP API."},
        {"http-port", "ROOST_ADMIN_HTTP_PORT", CFG_INT, &c->http_port, 1, 65535, "HTTP API port."},
        {"http-threads", "ROOST_ADMIN_HTTP_THREADS", CFG_INT, &c->http_threads, 1, 64, "HTTP worker threads."},
        {"http-max-per-address", "ROOST_ADMIN_HTTP_MAX_PER_ADDRESS", CFG_INT, &c->http_per_address, 1, 512,
         "Open HTTP connections one client address may hold (of 512 in all); more are closed at once."},
        {"http-timeout", "ROOST_ADMIN_HTTP_TIMEOUT", CFG_INT, &c->http_timeout, 1, 600,
         "Seconds an HTTP connection may stay silent (headers or body not arriving, or idle) before it "
         "is closed."},
        {"http-header-timeout", "ROOST_ADMIN_HTTP_HEADER_TIMEOUT", CFG_INT, &c->http_header_timeout, 1, 600,
         "Seconds a connection has, from its accept or its previous request, to send a whole request "
         "header; one dribbling it byte by byte is closed too."},
        {"rpc-bind", "ROOST_ADMIN_RPC_BIND", CFG_STR, &c->rpc_bind, 0, 0, "ZeroMQ ROUTER endpoint of the admin RPC."},
        {"pub-bind", "ROOST_ADMIN_PUB_BIND", CFG_STR, &c->pub_bind, 0, 0, "ZeroMQ PUB endpoint for ChangeEvents."},
        {"curve-secret", "ROOST_ADMIN_CURVE_SECRET", CFG_STR, &c->curve_secret, 0, 0,
         "CurveZMQ secret key (Z85 or a file holding it): the RPC and the change-event PUB are "
         "encrypted; clients need its public key (ROOST_ADMIN_CURVE_PUBLIC). Empty: plain."},
        {"token-file", "ROOST_ADMIN_TOKEN_FILE", CFG_STR, &c->token_file, 0, 0,
         "Where a generated first token is written (relative to the working directory)."},
        {"console-dir", "ROOST_ADMIN_CONSOLE_DIR", CFG_STR, &c->console_dir, 0, 0,
         "Directory of the web console's static files (default: the source tree's, set at build time)."},
        {"console-vendor-dir", "ROOST_ADMIN_CONSOLE_VENDOR_DIR", CFG_STR, &c->vendor_dir, 0, 0,
         "Directory of the console's third-party files (uPlot), served under /vendor/ (default: the "
         "build's, fetched from npm by the build)."},
        {"mqtt-endpoints", "ROOST_ADMIN_MQTT_ENDPOINTS", CFG_STR, &c->mqtt_endpoints, 0, 0,
         "Comma-separated URLs devices connect to (mqtt://, mqtts://, ws://, wss://), shown on the "
         "console's Overview."},
        {"argon2-ops", "ROOST_ARGON2_OPS", CFG_INT, &c->argon2_ops, 0, 1000,
         "argon2id opslimit for new passwords (0: libsodium interactive)."},
        {"argon2-mem", "ROOST_ARGON2_MEM", CFG_INT, &c->argon2_mem, 0, 4LL << 30,
         "argon2id memlimit in bytes for new passwords (0: libsodium interactive)."},
        {"tls-key-secret", "ROOST_TLS_KEY_SECRET", CFG_STR, &c->tls_key_secret, 0, 0,
         "Key sealing the TLS server key stored from the Certificates page (32 bytes: 64 hex or 43 "
         "base64url characters, or a file holding them; roost-keys makes tls-key.secret). Brokers "
         "need the same one. Empty: the key is stored in Redis in clear (logged at start)."},
        {"log-level", "ROOST_LOG_LEVEL", CFG_STR, &c->log_level, 0, 0, "debug, info, warn or error."},
    };
    redis_conf_init(&c->redis, "127.0.0.1:6379");
    int rc = redis_conf_parse(&c->redis, REDIS_CONF_REQUIRE_AUTH | REDIS_CONF_WAIT, NULL, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                              argc, argv, SUMMARY, out, err);
    if (rc)
        return rc;
    if (c->tls_key_secret[0]) {
        if (seal_key_parse(c->tls_key_secret, c->tls_seal) < 0) {
            fprintf(err, "error: --tls-key-secret: not 64 hex or 43 base64url characters, nor a file holding them\n");
            return ROOST_ECONFIG;
        }
        c->has_tls_seal = true;
    }
    const char *why;
    if (fleet_check_endpoints(c->mqtt_endpoints, &why) < 0) {
        fprintf(err, "error: --mqtt-endpoints: %s (got '%s')\n", why, c->mqtt_endpoints);
        return ROOST_ECONFIG;
    }
    return 0;
}
