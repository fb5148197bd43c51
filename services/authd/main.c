/* roost-authd: parse config, build modules in dependency order, run the
 * loop until SIGTERM/SIGINT, tear down in reverse (STYLE.md 12). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "auth.h"
#include "base/cfg.h"
#include "base/err.h"
#include "base/log.h"
#include "base/loop.h"
#include "conf.h"
#include "beacon.h"
#include "base/proc.h"
#include "probe/probe.h"
#include "server.h"

typedef struct app {
    authd_conf_t conf;
    auth_ctx_t auth;
    loop_t *loop;
    void *zctx;
    server_t *server;
    store_t *health_store; /* used only on the HTTP thread */
    probe_t *http;
    store_beacon_t *beacon;
    uint64_t started_ms;
    int sigfd;
} app_t;

static int health(void *arg)
{
    app_t *a = arg;
    int64_t version;
    return store_config_version(a->health_store, &version);
}

static int render(void *arg, buf_t *out)
{
    app_t *a = arg;
    metrics_gauges_t g = {
        .lookup_queue = server_lookup_depth(a->server),
        .hash_queue = server_hash_depth(a->server),
        .cache_entries = cache_count(a->auth.cache),
        .throttled_keys = guard_count(a->auth.guard),
        .config_cache_version = authz_cache_version(a->auth.authz),
    };
    int rc = metrics_render(a->auth.metrics, &g, out);
    char proc[1024];
    int n = proc_metrics_text(proc, sizeof(proc), "authd", a->started_ms);
    return rc ? rc : n < 0 || (size_t)n >= sizeof(proc) ? -EINVAL : buf_append(out, proc, (size_t)n);
}

static void on_signal(loop_t *l, int fd, unsigned ev, void *arg)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        log_info("stopping", "signal=%u", si.ssi_signo);
    loop_stop(l);
}

static int setup(app_t *a)
{
    const authd_conf_t *c = &a->conf;
    a->auth.allow_anonymous = c->allow_anonymous;
    a->auth.flap_max = c->flapping_max;
    a->auth.flap_window_ms = c->flapping_window * 1000;
    a->auth.flap_ban_ms = c->flapping_ban * 1000;
    a->auth.rehash_ops = c->argon2_ops ? (unsigned long long)c->argon2_ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    a->auth.rehash_mem = c->argon2_mem ? (size_t)c->argon2_mem : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    a->auth.metrics = metrics_new();
    a->auth.cache = cache_new((size_t)c->cache_size, (uint64_t)c->cache_ttl * 1000u);
    a->auth.authz = authz_cache_new();
    a->auth.bans = bans_new();
    a->auth.guard = guard_new(&(guard_conf_t){
        .pair_after = (unsigned)c->throttle_after, .peer_after = (unsigned)c->throttle_peer_after,
        .user_after = (unsigned)c->throttle_user_after, .window_ms = (uint64_t)c->throttle_window * 1000u,
        .max_ms = (uint64_t)c->throttle_max * 1000u, .max_keys = 100000});
    a->loop = loop_new();
    a->zctx = zmq_ctx_new();
    a->health_store = redis_conf_store(&c->redis, NULL);
    if (!a->auth.metrics || !a->auth.cache || !a->auth.authz || !a->auth.guard || !a->auth.bans || !a->loop || !a->zctx || !a->health_store)
        return -ENOMEM;
    store_set_timeouts(a->health_store, 500, 500);
    int rc = auth_ctx_init(&a->auth); /* initialises libsodium, makes the decoy hash */
    if (rc)
        return rc;
    if (!(a->server = server_new(a->loop, a->zctx, c, &a->auth)))
        return -ENOMEM;
    if ((rc = server_start(a->server)))
        return rc;
    if (c->http_port) {
        if (!(a->http = probe_new(c->http_bind, (int)c->http_port, health, render, a)))
            return -ENOMEM;
        if ((rc = probe_start(a->http))) {
            log_error("http_start_failed", "bind=%s port=%lld rc=%d", c->http_bind, (long long)c->http_port, rc);
            return rc;
        }
    }
    if ((rc = beacon_start(c, a->auth.metrics, a->started_ms, &a->beacon)))
        return rc;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if ((a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        return -errno;
    return loop_add_fd(a->loop, a->sigfd, LOOP_READ, on_signal, a);
}

static void teardown(app_t *a)
{
    if (a->sigfd >= 0)
        close(a->sigfd);
    store_beacon_stop(&a->beacon);
    probe_destroy(&a->http);
    server_destroy(&a->server); /* joins the workers */
    store_destroy(&a->health_store);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    loop_destroy(&a->loop);
    guard_destroy(&a->auth.guard);
    bans_destroy(&a->auth.bans);
    cache_destroy(&a->auth.cache);
    authz_cache_destroy(&a->auth.authz);
    metrics_destroy(&a->auth.metrics);
}

int main(int argc, char **argv)
{
    app_t a = {.sigfd = -1};
    a.started_ms = proc_wall_ms();
    int rc = conf_parse(&a.conf, argc, argv);
    if (rc == CFG_EXIT_HELP)
        return 0;
    if (rc)
        return 2;
    if (log_setup_from("authd", a.conf.log_level, stderr))
        return 2;
    if (a.conf.redis.require_auth && redis_conf_check_require_auth(&a.conf.redis) < 0)
        return 1;
    /* Block the signals before any thread starts so only the signalfd sees them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    rc = setup(&a);
    if (rc == 0) {
        log_info("started", "redis=%s prefix=%s http=%s:%lld anonymous=%s", a.conf.redis.addr, a.conf.redis.prefix,
                 a.conf.http_bind, (long long)a.conf.http_port, a.conf.allow_anonymous ? "on" : "off");
        rc = loop_run(a.loop);
    } else {
        log_error("startup_failed", "rc=%d err=\"%s\"", rc, roost_strerror(rc));
    }
    teardown(&a);
    log_info("stopped", "rc=%d", rc);
    return rc ? 1 : 0;
}
