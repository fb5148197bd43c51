/* roostctl: Roost's command-line tool.
 *
 * Two modes. The default, RPC mode (rpc_mode.c), talks to roost-admin over
 * its ZeroMQ RPC: the normal way, with validation, audit and change events.
 * With --redis HOST:PORT on the command line, the direct-to-store mode
 * below writes clients, groups and group rules straight into Redis through
 * lib/store, for bootstrapping and tests.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/cfg.h"
#include "ctl.h"
#include "store/redis_conf.h"
#include "rpc/curve.h"

static const char USAGE[] =
    "usage: roostctl --redis HOST:PORT [Redis options] [--json] NOUN VERB [ARGS]\n"
    "       roostctl --redis-sentinels HOST:PORT,... [Redis options] [--json] NOUN VERB [ARGS]\n"
    "\n"
    "Direct-to-store mode: reads and writes Roost's access model straight in\n"
    "Redis. Meant for bootstrapping and tests; it publishes no change events\n"
    "and writes no audit log. Without --redis or --redis-sentinels, roostctl\n"
    "uses the admin RPC\n"
    "(see `roostctl --help`).\n"
    "\n"
    "global options:\n"
    "  --json              print objects (and errors) as JSON on stdout\n"
    "  --pwhash-ops N      argon2id opslimit for new passwords (env ROOST_PWHASH_OPSLIMIT)\n"
    "  --pwhash-mem BYTES  argon2id memlimit for new passwords (env ROOST_PWHASH_MEMLIMIT)\n"
    "  --help              this text; `roostctl NOUN --help` for each noun\n"
    "\n"
    "nouns: clients, groups, rules\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 not found, 3 conflict, 4 invalid value,\n"
    "            5 store unavailable (or any other store failure)\n"
    "\n"
    "Redis options (the services' own, store/redis_conf.h):\n";

typedef struct {
    redis_conf_t redis;
    cfg_opt_t rows[REDIS_CONF_MAX_ROWS];
    int nrows;
    const char *ops, *mem;
    bool json;
    int first; /* index of the noun */
} opts_t;

static int parse_globals(int argc, char **argv, opts_t *o)
{
    redis_conf_init(&o->redis, "127.0.0.1:6379");
    o->nrows = redis_conf_rows(&o->redis, 0, NULL, o->rows);
    if (cfg_env(o->rows, o->nrows, stderr))
        return CTL_USAGE;
    o->ops = getenv("ROOST_PWHASH_OPSLIMIT");
    o->mem = getenv("ROOST_PWHASH_MEMLIMIT");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char **slot = NULL;
        const char *v = NULL;
        int taken = 0;
        if (ctl_is_help(argv[i])) {
            fputs(USAGE, stdout);
            cfg_print_options(o->rows, o->nrows, stdout);
            return -1;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = true;
            continue;
        } else if ((taken = cfg_take(o->rows, o->nrows, argc, argv, &i, stderr)) != 0) {
            if (taken < 0)
                return CTL_USAGE;
            continue;
        } else if (ctl_opt(argc, argv, &i, "pwhash-ops", &v)) {
            slot = &o->ops;
        } else if (ctl_opt(argc, argv, &i, "pwhash-mem", &v)) {
            slot = &o->mem;
        } else {
            return ctl_usage("unknown option %s", argv[i]);
        }
        if (!v)
            return ctl_usage("%s needs a value", argv[i]);
        *slot = v;
    }
    o->first = i;
    return redis_conf_check(&o->redis, 0, stderr) ? CTL_USAGE : 0;
}

/* `roostctl keygen [--json]`: a CurveZMQ key pair, for the cluster bus
 * (--bus-curve-secret) or the broker -> authd link. Needs neither admin nor
 * Redis. */
static int keygen(int argc, char **argv)
{
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help")) {
            puts("usage: roostctl keygen [--json]\n\n"
                 "Prints a new CurveZMQ key pair (Z85). The secret goes to every broker as\n"
                 "ROOST_BUS_CURVE_SECRET (one key pair per cluster), or to authd as\n"
                 "ROOST_AUTHD_CURVE_SECRET with the public half to the brokers as\n"
                 "ROOST_AUTHD_SERVER_KEY. Keep the secret in a secret store, not in a file\n"
                 "others can read.");
            return CTL_OK;
        } else
            return ctl_usage("keygen takes only --json, got '%s'", argv[i]);
    }
    char pub[RPC_CURVE_KEY_LEN + 1], sec[RPC_CURVE_KEY_LEN + 1];
    if (rpc_curve_keypair(pub, sec) < 0) {
        fputs("roostctl: this libzmq has no CURVE support\n", stderr);
        return CTL_UNAVAILABLE;
    }
    if (json)
        printf("{\"public\": \"%s\", \"secret\": \"%s\"}\n", pub, sec);
    else
        printf("public: %s\nsecret: %s\n", pub, sec);
    sodium_memzero(sec, sizeof(sec));
    return CTL_OK;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return keygen(argc, argv);
    if (!ctl_wants_direct(argc, argv))
        return ctl_rpc_main(argc, argv);
    opts_t o = {0};
    /* --json may also come after the noun: strip it wherever it is. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o.json = true;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    int rc = parse_globals(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? CTL_OK : rc;
    if (o.first >= argc)
        return ctl_usage("missing noun (clients, groups, rules)");
    const char *noun = argv[o.first];
    int (*run)(ctl_t *, int, char **) = !strcmp(noun, "clients") ? ctl_clients
                                        : !strcmp(noun, "groups") ? ctl_groups
                                        : !strcmp(noun, "rules")  ? ctl_rules
                                                                  : NULL;
    if (!run)
        return ctl_usage("unknown noun '%s'", noun);
    store_cost_t cost = {o.ops ? strtoull(o.ops, NULL, 10) : 0,
                         o.mem ? (size_t)strtoull(o.mem, NULL, 10) : 0};
    ctl_t c = {.s = redis_conf_store(&o.redis, &cost), .json = o.json};
    if (!c.s) {
        fputs("roostctl: out of memory\n", stderr);
        return CTL_UNAVAILABLE;
    }
    rc = run(&c, argc - o.first - 1, argv + o.first + 1);
    store_destroy(&c.s);
    return rc;
}
