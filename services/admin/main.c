/* roost-admin: parse config, build the modules, run the ZeroMQ loop on this
 * thread while libmicrohttpd serves HTTP on its own, tear down in reverse.
 * See conf.c's --help text for the service's shape. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "base/cfg.h"
#include "base/err.h"
#include "base/log.h"
#include "base/loop.h"
#include "conf.h"
#include "events.h"
#include "http.h"
#include "metrics.h"
#include "ops.h"
#include "rpcsrv.h"

static loop_t *main_loop;

static void on_signal(int sig)
{
    (void)sig;
    if (main_loop)
        loop_stop(main_loop);
}

/* Until Redis answers: the first-start token needs it. Keeps retrying (a
 * store that comes up later is normal in compose setups) unless signalled. */
typedef struct boot {
    ops_t *ops;
    const char *token_file;
} boot_t;

static uint64_t bootstrap_retry(loop_t *l, void *arg)
{
    boot_t *b = arg;
    return ops_bootstrap_tokens(b->ops, getenv("ROOST_ADMIN_TOKEN"), b->token_file) == 0 ? 0 : 1000;
}

int main(int argc, char **argv)
{
    admin_conf_t cfg;
    int rc = conf_load(&cfg, argc, argv, stdout, stderr);
    if (rc == CFG_EXIT_HELP)
        return 0;
    if (rc)
        return 2;
    if (log_setup_from("admin", cfg.log_level, stderr))
        return 2;
    if (sodium_init() < 0) {
        log_error("startup_failed", "reason=\"libsodium init failed\"");
        return 1;
    }
    if (cfg.redis.require_auth && redis_conf_check_require_auth(&cfg.redis) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int exit_code = 1;
    void *zctx = zmq_ctx_new();
    events_t *events = events_new();
    metrics_t *metrics = metrics_new();
    fleet_config_t fc = {&cfg.redis, cfg.mqtt_endpoints};
    fleet_t *fleet = fleet_new(&fc);
    ops_config_t oc = {&cfg.redis, {(unsigned long long)cfg.argon2_ops, (size_t)cfg.argon2_mem},
                       (int)cfg.http_threads + 1, fleet, cfg.has_tls_seal ? cfg.tls_seal : NULL};
    if (!cfg.has_tls_seal)
        log_warn("tls_key_unsealed", "detail=\"no --tls-key-secret: a server key uploaded through the "
                 "Certificates page is stored in Redis in clear\"");
    ops_t *ops = events ? ops_new(&oc, events) : NULL;
    loop_t *loop = loop_new();
    rpcsrv_t *rpc = NULL;
    http_t *http = NULL;
    if (!zctx || !events || !metrics || !fleet || !ops || !loop) {
        log_error("startup_failed", "reason=\"out of memory\"");
        goto out;
    }
    if ((rc = fleet_start(fleet)) < 0) {
        log_error("startup_failed", "reason=\"cannot start the instance collector\" rc=%d", rc);
        goto out;
    }
    main_loop = loop;
    if ((rc = rpcsrv_start(loop, zctx, cfg.rpc_bind, cfg.pub_bind, cfg.curve_secret, ops, events,
                           metrics, &rpc)) < 0)
        goto out;
    http_config_t hc = {cfg.http_bind, (int)cfg.http_port, cfg.console_dir, cfg.vendor_dir, (int)cfg.http_threads,
                        (int)cfg.http_per_address, (int)cfg.http_timeout, (int)cfg.http_header_timeout};
    if ((rc = http_start(&hc, ops, metrics, &http)) < 0) {
        log_error("startup_failed", "reason=\"cannot serve HTTP\" bind=%s port=%d", hc.bind, hc.port);
        goto out;
    }
    boot_t boot = {ops, cfg.token_file};
    if (bootstrap_retry(loop, &boot))
        loop_add_timer(loop, 1000, bootstrap_retry, &boot);
    log_info("listening", "http=%s:%d rpc=%s pub=%s redis=%s prefix=%s console=%s", hc.bind, hc.port,
             cfg.rpc_bind, cfg.pub_bind, cfg.redis.addr, cfg.redis.prefix, cfg.console_dir);
    rc = loop_run(loop);
    log_info("stopping", "rc=%d", rc);
    exit_code = rc < 0 ? 1 : 0;
out:
    main_loop = NULL;
    http_stop(&http);
    rpcsrv_destroy(&rpc);
    loop_destroy(&loop);
    ops_destroy(&ops);
    fleet_destroy(&fleet);
    metrics_destroy(&metrics);
    events_destroy(&events);
    if (zctx)
        zmq_ctx_term(zctx);
    return exit_code;
}
