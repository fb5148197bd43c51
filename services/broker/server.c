#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adopt.h"
#include "base/proc.h"
#include "beacon.h"
#include "authc.h"
#include "cluster.h"
#include "routes.h"
#include "http.h"
#include "kick.h"
#include "pipeline.h"
#include "store/sstore.h"
#include "base/log.h"
#include "conn.h"
#include "route.h"
#include "session.h"
#include "shared.h"
#include "tlssync.h"
#include "xport_tls.h"
#include "xport_ws.h"
#include "conn5.h"
#include "will.h"
#include "mqtt/reason.h"

#define SWEEP_MS 250
#define ACCEPT_PAUSE_MS 100
/* Cluster: how long connections wait in the listen backlog for the first
 * read of the persistent-subscription index; then (Redis unreachable) they
 * are taken in and refused with CONNACK 3 until it is read (adopt_start). */
#define ACCEPT_HOLD_MS 5000

static void before_sleep(loop_t *l, void *arg)
{
    broker_t *b = arg;
    if (b->authc)
        authc_poll(b->authc); /* replies to requests sent during this batch */
    if (b->shared)
        shared_flush(b->shared); /* shared-subscription frames to peers */
    if (b->cluster)
        cluster_poll(b->cluster); /* sends bus batches when due, reads the bus */
    conn_flush_all(b);
    conn_reap(b);
    conn_flush_all(b); /* wills published while reaping */
    if (b->cluster && cluster_pending(b->cluster))
        loop_no_sleep(l); /* batched bus messages go out next turn */
}

static uint64_t on_sweep(loop_t *l, void *arg)
{
    broker_t *b = arg;
    conn_sweep(b);
    if (b->authc)
        authc_sweep(b->authc);
    if (b->cluster)
        adopt_sweep(b);
    if (b->tls)
        xtls_server_poll(b->tls, b->reload_flag);
    if (b->tlssync)
        tlssync_tick(b->tlssync);
    return SWEEP_MS;
}

static void on_accept(loop_t *l, int fd, unsigned events, void *arg);
static void on_accept_tls(loop_t *l, int fd, unsigned events, void *arg);
static void on_accept_ws(loop_t *l, int fd, unsigned events, void *arg);
static void on_accept_wss(loop_t *l, int fd, unsigned events, void *arg);

/* The listeners: fd and its accept handler. */
#define NLISTENERS 4
static int *listener_fds(broker_t *b, int i)
{
    int *fds[NLISTENERS] = {&b->listen_fd, &b->tls_listen_fd, &b->ws_listen_fd, &b->wss_listen_fd};
    return fds[i];
}
static const loop_fd_fn listener_fns[NLISTENERS] = {on_accept, on_accept_tls, on_accept_ws, on_accept_wss};

static uint64_t resume_accept(loop_t *l, void *arg)
{
    broker_t *b = arg;
    for (int i = 0; i < NLISTENERS; i++)
        if (*listener_fds(b, i) >= 0 && !b->draining)
            loop_add_fd(l, *listener_fds(b, i), LOOP_READ, listener_fns[i], b);
    return 0;
}

/* Ends the hold of the listeners at startup (cluster_ready, or the bound). */
static void accept_release(broker_t *b, const char *why)
{
    if (!b->accept_held)
        return;
    b->accept_held = false;
    if (b->accept_hold_timer)
        loop_del_timer(b->loop, b->accept_hold_timer);
    b->accept_hold_timer = 0;
    if (strcmp(why, "ready") == 0)
        log_info("accepting", "broker_id=%s held_ms=%llu", b->id,
                 (unsigned long long)(proc_wall_ms() - b->started_ms));
    else
        log_warn("accepting_unready", "broker_id=%s held_ms=%d detail=\"persistent-subscription index "
                 "not read from Redis yet: CONNECTs refused (server unavailable) until it is\"",
                 b->id, ACCEPT_HOLD_MS);
    resume_accept(b->loop, b);
}

static uint64_t on_accept_hold_timeout(loop_t *l, void *arg)
{
    broker_t *b = arg;
    b->accept_hold_timer = 0; /* this one-shot timer is done */
    accept_release(b, "timeout");
    return 0;
}

static void on_cluster_ready(broker_t *b) { accept_release(b, "ready"); }

static void accept_batch(broker_t *b, int fd, const xport_kind_t *kind)
{
    /* bounded batch per wake so a connect storm cannot starve live clients */
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: a level-triggered listener would wake us
                 * forever; stop watching it for a moment */
                log_warn("accept_paused", "reason=\"%s\" connections=%u pause_ms=%d",
                         strerror(errno), b->nconns, ACCEPT_PAUSE_MS);
                for (int j = 0; j < NLISTENERS; j++)
                    if (*listener_fds(b, j) >= 0)
                        loop_del_fd(b->loop, *listener_fds(b, j));
                loop_add_timer(b->loop, ACCEPT_PAUSE_MS, resume_accept, b);
            }
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_new(b, cfd, (struct sockaddr *)&ss, kind);
    }
}

static void on_accept(loop_t *l, int fd, unsigned events, void *arg)
{
    accept_batch(arg, fd, NULL);
}

static void on_accept_tls(loop_t *l, int fd, unsigned events, void *arg)
{
    broker_t *b = arg;
    xport_kind_t kind = xtls_kind(b->tls);
    accept_batch(b, fd, &kind);
}

static void on_accept_ws(loop_t *l, int fd, unsigned events, void *arg)
{
    broker_t *b = arg;
    xport_kind_t kind = xws_kind(b->ws, false);
    accept_batch(b, fd, &kind);
}

static void on_accept_wss(loop_t *l, int fd, unsigned events, void *arg)
{
    broker_t *b = arg;
    xport_kind_t kind = xws_kind(b->ws, true);
    accept_batch(b, fd, &kind);
}

int server_init(broker_t *b, const broker_config_t *cfg, loop_t *loop)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->loop = loop;
    b->listen_fd = -1;
    b->tls_listen_fd = -1;
    b->ws_listen_fd = b->wss_listen_fd = -1;
    b->started_ms = proc_wall_ms();
    map_init(&b->sessions);
    map_init(&b->conns_by_serial);
    map_init(&b->adopting);
    map_init(&b->wills);
    if (cfg->id[0]) {
        snprintf(b->id, sizeof(b->id), "%s", cfg->id);
    } else {
        char host[48] = "broker";
        gethostname(host, sizeof(host) - 1);
        snprintf(b->id, sizeof(b->id), "%s-%d", host, (int)getpid());
    }
    b->trie = subtrie_new();
    b->retained = topictree_new();
    b->scratch = malloc(BROKER_READ_CHUNK);
    b->shared = shared_new(b);
    if (!b->trie || !b->retained || !b->scratch || !b->shared)
        return -ENOMEM;
    loop_set_before_sleep(loop, before_sleep, b);
    return 0;
}

/* A listening socket on bind:port_num, watched with fn. Its fd into *fd_out
 * and the port it got into *bound. 0 or a negative code (logged). */
static int listen_on(broker_t *b, int port_num, loop_fd_fn fn, int *fd_out, int *bound_out)
{
    const broker_config_t *cfg = b->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", port_num);
    int rc = getaddrinfo(cfg->bind, port, &hints, &ai);
    if (rc) {
        log_error("listen_failed", "bind=%s reason=\"%s\"", cfg->bind, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        rc = -errno;
        log_error("listen_failed", "bind=%s port=%d reason=\"%s\"", cfg->bind, port_num,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return rc;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    if (!b->accept_held && (rc = loop_add_fd(b->loop, fd, LOOP_READ, fn, b)) < 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *bound_out = bound;
    return 0;
}

/* --ws-port and --wss-port (wss: TLS, set up before, under the WebSocket). */
static int start_ws(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    int rc, ws_bound = 0, wss_bound = 0;
    /* --wss-port unset: 8084 when there is TLS, else none */
    int64_t wss_port = cfg->wss_port >= 0 ? cfg->wss_port : b->tls ? 8084 : 0;
    if (!cfg->ws_port && !wss_port)
        return 0;
    if (wss_port && !b->tls) {
        log_error("startup_failed", "reason=\"--wss-port needs TLS: --tls-cert (or --tls-port in cluster mode)\"");
        return ROOST_ECONFIG;
    }
    xport_kind_t tls = b->tls ? xtls_kind(b->tls) : (xport_kind_t){0};
    if (!(b->ws = xws_server_new(cfg, b->tls ? &tls : NULL)))
        return -ENOMEM;
    if (cfg->ws_port && (rc = listen_on(b, (int)cfg->ws_port, on_accept_ws, &b->ws_listen_fd, &ws_bound)) < 0)
        return rc;
    if (wss_port && (rc = listen_on(b, (int)wss_port, on_accept_wss, &b->wss_listen_fd, &wss_bound)) < 0)
        return rc;
    log_info("listening_ws", "broker_id=%s bind=%s ws_port=%d wss_port=%d path=%s allowed_origins=\"%s\"",
             b->id, cfg->bind, ws_bound, wss_bound, cfg->ws_path,
             cfg->ws_allowed_origins[0] ? cfg->ws_allowed_origins : "any");
    return 0;
}

int server_start(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    int rc, bound, tls_bound = 0;
    /* cluster: connections wait in the backlog until the index is read */
    b->accept_held = b->cluster && !cluster_ready(b->cluster);
    /* TLS from files, or (cluster mode, --tls-port given) from admin alone */
    if (cfg->tls_cert[0] || (cfg->tls_port >= 0 && b->cluster)) {
        char err[512];
        if (!(b->tls = xtls_server_new(cfg, err, sizeof(err)))) {
            log_error("startup_failed", "reason=\"%s\"", err);
            return ROOST_ECONFIG;
        }
        int tls_port = cfg->tls_port < 0 ? 8883 : (int)cfg->tls_port;
        if ((rc = listen_on(b, tls_port, on_accept_tls, &b->tls_listen_fd, &tls_bound)) < 0)
            return rc;
        if (b->cluster && !(b->tlssync = tlssync_new(b)))
            return -ENOMEM;
    } else if (cfg->tls_key[0] || cfg->tls_ca[0]) {
        log_error("startup_failed", "reason=\"--tls-key and --tls-ca need --tls-cert\"");
        return ROOST_ECONFIG;
    }
    if ((rc = listen_on(b, (int)cfg->port, on_accept, &b->listen_fd, &bound)) < 0)
        return rc;
    if ((rc = start_ws(b)) < 0)
        return rc;
    loop_add_timer(b->loop, SWEEP_MS, on_sweep, b);
    if (b->accept_held) {
        log_info("accept_held", "broker_id=%s max_ms=%d detail=\"until the persistent-subscription "
                 "index is read from Redis\"", b->id, ACCEPT_HOLD_MS);
        b->accept_hold_timer = loop_add_timer(b->loop, ACCEPT_HOLD_MS, on_accept_hold_timeout, b);
    }
    if (cfg->http_port && !(b->http = http_new(b, cfg->http_bind, (int)cfg->http_port)))
        return -EADDRINUSE;
    if (b->tls)
        log_info("listening", "broker_id=%s bind=%s port=%d tls_port=%d", b->id, cfg->bind, bound,
                 tls_bound);
    else
        log_info("listening", "broker_id=%s bind=%s port=%d", b->id, cfg->bind, bound);
    return 0;
}

static void on_bus_message(broker_t *b, msg_t *m, bool same_topic)
{
    /* the rest of a run of one topic in a bus frame goes to the sessions
     * matched for its first message: delivering changes no subscription */
    pipe_msg_t in = {.source = PIPE_BUS, .m = m, .same_topic = same_topic};
    pipeline_publish(b, &in, NULL);
}

static void on_retained_loaded(broker_t *b, msg_t *m)
{
    pipe_msg_t in = {.source = PIPE_STORED, .m = m};
    pipeline_publish(b, &in, NULL);
}

static void on_peer_gone(broker_t *b, const char *id)
{
    adopt_on_peer_gone(b, id);
    shared_peer_gone(b->shared, id);
}

static void on_shared_frame(broker_t *b, const uint8_t *f, size_t n)
{
    shared_on_frame(b->shared, f, n);
}

int server_join_cluster(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    cluster_config_t cc = {&cfg->redis, cfg->bus_bind, cfg->bus_advertise, cfg->bus_curve_secret};
    cluster_hooks_t hooks = {adopt_on_kick, adopt_on_released, on_bus_message,
                             adopt_on_peer_joined, on_retained_loaded, on_peer_gone,
                             on_shared_frame, route_retain_load_begin, route_retain_load_end,
                             on_cluster_ready};
    if (cfg->admin_events[0] && !(b->kick = kick_new(b, cfg->admin_events, cfg->admin_key)))
        return ROOST_ECONFIG;
    b->cluster = cluster_new(b, &cc, &hooks);
    if (!b->cluster || !(b->beacon = beacon_new(b)))
        return -ENOMEM;
    int rc = cluster_start(b->cluster);
    if (rc == 0 && !(b->routes = routes_new(b)))
        rc = -ENOMEM;
    return rc;
}

static void on_left(int rc, void *arg)
{
    broker_t *b = arg;
    loop_stop(b->loop);
}

static uint64_t on_drain_timeout(loop_t *l, void *arg)
{
    loop_stop(l);
    return 0;
}

void server_drain(broker_t *b)
{
    if (b->draining)
        return;
    b->draining = true;
    bool served = false;
    beacon_put_now(b->beacon); /* admin shows "draining" until the record expires */
    for (int i = 0; i < NLISTENERS; i++) {
        int *fd = listener_fds(b, i);
        if (*fd >= 0) {
            served = true;
            loop_del_fd(b->loop, *fd);
            close(*fd);
            *fd = -1;
        }
    }
    /* cluster: not ready and refusing new connections, but still serving
     * the ones it has until the balancer has seen that (they reconnect to
     * the other brokers afterwards); a second signal stops the wait */
    if (served && b->cluster && b->nconns && b->cfg->drain_delay_ms > 0) {
        log_info("draining", "broker_id=%s connections=%u delay_ms=%lld", b->id, b->nconns,
                 (long long)b->cfg->drain_delay_ms);
        uint64_t t = loop_add_timer(b->loop, (uint64_t)b->cfg->drain_delay_ms, on_drain_timeout, b);
        loop_run(b->loop);
        loop_del_timer(b->loop, t);
    }
    conn_flush_all(b);
    will_flush(b); /* wills held by a Will Delay: a broker going away cannot wait */
    for (conn_t *c = b->conns; c; c = c->next) {
        c->graceful = true;
        conn_disconnect(c, MQTT_RC_SERVER_SHUTTING_DOWN, "server shutting down", "shutdown");
    }
    conn_reap(b);
    /* cluster: leave the registry, and let every write for the sessions just
     * closed reach Redis (replies come in order) before exiting */
    if (b->cluster && sstore_connected(cluster_store(b->cluster)) &&
        sstore_broker_leave(cluster_store(b->cluster), b->id, on_left, b) == 0) {
        uint64_t t = loop_add_timer(b->loop, 3000, on_drain_timeout, b);
        loop_run(b->loop);
        loop_del_timer(b->loop, t);
    }
    log_info("drained", "broker_id=%s", b->id);
}

void server_fini(broker_t *b)
{
    server_drain(b);
    authc_destroy(&b->authc);
    size_t it = 0;
    map_entry_t *e;
    /* destroying edits the map: collect first */
    size_t n = b->sessions.count, k = 0;
    session_t **all = n ? malloc(n * sizeof(*all)) : NULL;
    while (all && map_next(&b->sessions, &it, &e))
        all[k++] = e->value;
    shared_stop(b->shared); /* members leaving now give nothing to each other */
    for (size_t i = 0; i < k; i++)
        session_destroy(b, &all[i]);
    free(all);
    map_fini(&b->sessions);
    shared_destroy(&b->shared); /* before the cluster: its frames die with it */
    cluster_destroy(&b->cluster);
    adopt_fini(b); /* after the cluster: a read it fails may arm a catch-up timer */
    route_fini(b); /* after the cluster: a will's write failing there still routes */
    tlssync_destroy(&b->tlssync); /* after the cluster: a read in flight has completed */
    beacon_destroy(&b->beacon); /* after the store: its pending put finishes into it */
    routes_destroy(&b->routes); /* after its load in flight failed with the cluster */
    kick_destroy(&b->kick);
    http_destroy(&b->http);
    xws_server_destroy(&b->ws);
    xtls_server_destroy(&b->tls);
    map_fini(&b->conns_by_serial);
    map_fini(&b->adopting);
    map_fini(&b->wills);
    subtrie_destroy(&b->trie);
    free(b->targets);
    free(b->subids);
    free(b->scratch);
}
