/* roost-broker: parse config, build the modules, run the loop, tear down. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/log.h"
#include "base/loop.h"
#include "authc.h"
#include "config.h"
#include "handlers.h"
#include "server.h"
#include "store/store.h"

static loop_t *main_loop;

static volatile sig_atomic_t reload_requested;

/* SIGHUP: reload the TLS certificate files at the next sweep. */
static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    if (main_loop)
        loop_stop(main_loop);
}

int main(int argc, char **argv)
{
    broker_config_t cfg;
    int rc = config_load(&cfg, argc, argv, stdout, stderr);
    if (rc == CFG_EXIT_HELP)
        return 0;
    if (rc)
        return 2;
    if (log_setup_from("broker", cfg.log_level, stderr) < 0)
        return 2;
    if (sodium_init() < 0) {
        log_error("startup_failed", "reason=\"libsodium init failed\"");
        return 1;
    }
    if (cfg.redis.require_auth && redis_conf_on(&cfg.redis) && redis_conf_check_require_auth(&cfg.redis) < 0)
        return 1;
    if (cfg.authd[0] && cfg.insecure_no_auth) {
        fprintf(stderr, "error: --authd and --insecure-no-auth exclude each other\n");
        return 2;
    }
    if (!cfg.authd[0] && !cfg.insecure_no_auth) {
        fprintf(stderr, "error: no --authd endpoint: give --authd tcp://HOST:PORT, or "
                        "--insecure-no-auth for development\n");
        return 2;
    }
    if (cfg.insecure_no_auth)
        log_warn("insecure_no_auth", "detail=\"every CONNECT is accepted without authd; "
                                     "development only\"");
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_hup};
    sigaction(SIGHUP, &hup, NULL);

    broker_t b;
    main_loop = loop_new();
    if (!main_loop || server_init(&b, &cfg, main_loop) < 0) {
        log_error("startup_failed", "reason=\"out of memory\"");
        return 1;
    }
    if (cfg.authd[0]) {
        b.authc = authc_new(&b, cfg.authd, (int)cfg.auth_timeout_ms, cfg.authd_server_key,
                            cfg.authd_client_key, connect_accept);
        rc = b.authc ? authc_start(b.authc) : -ENOMEM;
        if (rc) {
            log_error("startup_failed", "reason=\"cannot start the authd client\" rc=%d", rc);
            server_fini(&b);
            loop_destroy(&main_loop);
            return 1;
        }
    }
    if (redis_conf_on(&cfg.redis) && (rc = server_join_cluster(&b)) < 0) {
        server_fini(&b);
        loop_destroy(&main_loop);
        return 1;
    }
    b.reload_flag = &reload_requested;
    rc = server_start(&b);
    if (rc == 0) {
        rc = loop_run(main_loop);
        log_info("stopping", "connections=%u", b.nconns);
    }
    server_fini(&b);
    loop_destroy(&main_loop);
    log_info("stopped", "%s", "");
    return rc ? 1 : 0;
}
