#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "base/err.h"
#include "base/log.h"
#include "coalesce.h"
#include "pool.h"
#include "queue.h"
#include "rpc/curve.h"
#include "rpc/rpc.h"
#include "rpc/zap.h"

/* A request slowed by the throttling policy (guard.h) waits here, on a loop
 * timer, before it joins the lookup queue. */
typedef struct delayed {
    server_t *srv;
    auth_job_t *job;
    uint64_t timer;
    struct delayed *prev, *next;
} delayed_t;

struct server {
    loop_t *loop;
    void *zctx;
    const authd_conf_t *conf;
    auth_ctx_t *auth;
    void *router, *sub;
    int router_fd, sub_fd;
    rpc_zap_t *zap; /* with --curve-clients: only those keys may ask */
    queue_t *lookup_q, *hash_q, *done_q;
    pool_t *lookup_pool, *hash_pool;
    coalesce_t *coalesce;  /* identical verifications in flight (hash workers) */
    delayed_t *delayed; /* slowed requests, newest first */
    size_t n_delayed;
    bool in_loop;
};

/* ---- workers ------------------------------------------------------------ */

typedef struct lookup_worker {
    server_t *srv;
    store_t *store;
} lookup_worker_t;

static void *lookup_init(void *arg, unsigned index)
{
    server_t *s = arg;
    lookup_worker_t *w = calloc(1, sizeof(*w));
    if (!w) {
        log_error("worker_oom", "index=%u", index);
        abort(); /* a worker without state cannot run; startup-time only */
    }
    w->srv = s;
    w->store = redis_conf_store(&s->conf->redis, NULL);
    if (!w->store) {
        log_error("worker_oom", "index=%u", index);
        abort();
    }
    int t = (int)s->conf->redis.timeout_ms;
    store_set_timeouts(w->store, t, t);
    return w;
}

static void lookup_fini(void *state)
{
    lookup_worker_t *w = state;
    store_destroy(&w->store);
    free(w);
}

static void lookup_run(void *state, queue_node_t *n)
{
    lookup_worker_t *w = state;
    auth_job_t *j = (auth_job_t *)n;
    auth_lookup(w->srv->auth, w->store, j);
    queue_push(j->next == AUTH_NEXT_HASH ? w->srv->hash_q : w->srv->done_q, &j->node);
}

/* One argon2 run per distinct credential in flight (coalesce.h): a job
 * whose credential reached the cache while it waited needs none; one
 * identical to a verification running now waits for it and shares its
 * result. Decoys (unknown users) are not keyed and run alone. */
static void hash_run(void *state, queue_node_t *n)
{
    server_t *s = state;
    auth_job_t *j = (auth_job_t *)n;
    if (j->decoy) {
        auth_verify(s->auth, j);
        queue_push(s->done_q, &j->node);
        return;
    }
    int led = coalesce_join(s->coalesce, j->cache_key, j);
    if (led == 1)
        return; /* the leader hands it back */
    /* Leading: a leader that finished before we joined put its result in
     * the cache first (so joining after its end still runs argon2 once). */
    bool ok = true, ran = true;
    if (!auth_verify_cached(s->auth, j)) {
        ok = auth_verify(s->auth, j);
        ran = j->next != AUTH_NEXT_DROP && !j->unverified; /* a late leader verified nothing */
    }
    void **waiting;
    size_t nw = led == 0 ? coalesce_end(s->coalesce, j->cache_key, &waiting) : 0;
    queue_push(s->done_q, &j->node); /* (the loop may free j from here on) */
    for (size_t i = 0; i < nw; i++) {
        auth_job_t *w = waiting[i];
        if (ran)
            auth_verify_shared(s->auth, w, ok);
        else
            auth_verify(s->auth, w);
        queue_push(s->done_q, &w->node);
    }
    if (nw)
        free(waiting);
}

/* ---- replies (loop thread) ------------------------------------------------ */

static metrics_result_t result_of(rpc_auth_status_t st)
{
    switch (st) {
    case RPC_AUTH_OK: return MET_OK;
    case RPC_AUTH_BAD_CREDENTIALS: return MET_BAD_CREDENTIALS;
    case RPC_AUTH_NOT_AUTHORIZED:
    case RPC_AUTH_BANNED: return MET_NOT_AUTHORIZED;
    case RPC_AUTH_UNAVAILABLE: return MET_UNAVAILABLE;
    case RPC_AUTH_THROTTLED: return MET_THROTTLED;
    case RPC_AUTH_BAD_REQUEST: return MET_BAD_REQUEST;
    }
    return MET_BAD_REQUEST;
}

static void send_reply(server_t *s, const rpc_envelope_t *env, const rpc_auth_reply_t *r)
{
    int rc = rpc_auth_reply_send(s->router, env, r);
    if (rc == ROOST_EINVAL || rc == ROOST_EPROTO_TOO_LARGE) {
        /* Store data the contract cannot carry: fail closed, loudly. */
        log_error("auth_reply_invalid", "request_id=%llu rc=%d err=\"%s\"", (unsigned long long)r->request_id,
                  rc, roost_strerror(rc));
        rpc_auth_reply_t un = {.request_id = r->request_id, .status = RPC_AUTH_UNAVAILABLE};
        rc = rpc_auth_reply_send(s->router, env, &un);
    }
    if (rc)
        log_warn("auth_reply_send_failed", "request_id=%llu rc=%d err=\"%s\"", (unsigned long long)r->request_id,
                 rc, roost_strerror(rc));
}

/* A refusal decided in the loop, before any worker saw the request. */
static void refuse_now(server_t *s, const rpc_envelope_t *env, const rpc_auth_request_t *req,
                       rpc_auth_status_t st, const char *reason)
{
    rpc_auth_reply_t r = {.request_id = req ? req->request_id : 0, .status = st};
    send_reply(s, env, &r);
    metrics_request(s->auth->metrics, result_of(st), 0);
    log_info("auth_refused", "result=%s reason=%s username=%s peer=%s client_id=%s",
             rpc_auth_status_name(st), reason, req && req->username ? req->username : "",
             req ? req->peer : "", req ? req->client_id : "");
}

static void finish_job(server_t *s, auth_job_t *j)
{
    uint64_t us = (loop_clock_ms() - j->received_ms) * 1000u;
    if (j->next == AUTH_NEXT_DROP) {
        metrics_request(s->auth->metrics, MET_DROPPED_DEADLINE, us);
        log_debug("auth_dropped", "reason=%s request_id=%llu", j->reason, (unsigned long long)j->req.request_id);
        return;
    }
    rpc_auth_reply_t r;
    auth_job_reply(j, &r);
    send_reply(s, &j->env, &r);
    metrics_request(s->auth->metrics, result_of(j->status), us);
    log_level_t lvl = j->status == RPC_AUTH_OK ? LOG_DEBUG : LOG_INFO;
    LOG_AT(lvl, "auth",
           "result=%s reason=%s username=%s client_id=%s peer=%s broker=%s cert=%s groups=%zu acl=%zu ms=%llu",
           rpc_auth_status_name(j->status), j->reason ? j->reason : "", j->req.username ? j->req.username : "",
           j->req.client_id, j->req.peer, j->req.broker_id,
           j->req.tls_cert_fingerprint && j->req.tls_cert_fingerprint[0] ? j->req.tls_cert_fingerprint : "-",
           r.n_groups, r.n_acl, (unsigned long long)(us / 1000u));
}

/* ---- requests (loop thread) ------------------------------------------------ */

static void unlink_delayed(server_t *s, delayed_t *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        s->delayed = d->next;
    if (d->next)
        d->next->prev = d->prev;
    s->n_delayed--;
}

static uint64_t on_delay_over(loop_t *l, void *arg)
{
    delayed_t *d = arg;
    server_t *s = d->srv;
    unlink_delayed(s, d);
    queue_push(s->lookup_q, &d->job->node);
    free(d);
    return 0;
}

static int delay_job(server_t *s, auth_job_t *j, uint64_t ms)
{
    delayed_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    *d = (delayed_t){.srv = s, .job = j, .next = s->delayed};
    if (!(d->timer = loop_add_timer(s->loop, ms, on_delay_over, d))) {
        free(d);
        return -ENOMEM;
    }
    if (s->delayed)
        s->delayed->prev = d;
    s->delayed = d;
    s->n_delayed++;
    return 0;
}

static void accept_request(server_t *s, const rpc_envelope_t *env, rpc_auth_request_t *req)
{
    if (req->deadline_ms <= rpc_unix_ms()) {
        metrics_request(s->auth->metrics, MET_DROPPED_DEADLINE, 0);
        log_debug("auth_dropped", "reason=deadline_passed request_id=%llu", (unsigned long long)req->request_id);
        return;
    }
    uint64_t now = loop_clock_ms(), delay = 0;
    const char *why = "";
    guard_verdict_t v = guard_check(s->auth->guard, req->username, req->peer, now, &delay, &why);
    if (v == GUARD_REFUSE) {
        refuse_now(s, env, req, RPC_AUTH_THROTTLED, why);
        return;
    }
    if (queue_len(s->lookup_q) + s->n_delayed >= (size_t)s->conf->max_queue) {
        refuse_now(s, env, req, RPC_AUTH_UNAVAILABLE, "overloaded");
        return;
    }
    auth_job_t *j = auth_job_new();
    if (!j) {
        refuse_now(s, env, req, RPC_AUTH_UNAVAILABLE, "out_of_memory");
        return;
    }
    j->env = *env;
    j->req = *req; /* moves ownership of the decoded request */
    memset(req, 0, sizeof(*req));
    j->received_ms = now;
    if (v != GUARD_SLOW) {
        queue_push(s->lookup_q, &j->node);
        return;
    }
    log_info("auth_slowed", "reason=%s username=%s peer=%s delay_ms=%llu", why, j->req.username, j->req.peer,
             (unsigned long long)delay);
    if (delay_job(s, j, delay)) {
        refuse_now(s, &j->env, &j->req, RPC_AUTH_UNAVAILABLE, "out_of_memory");
        auth_job_destroy(&j);
    }
}

static void drain_router(server_t *s)
{
    for (;;) {
        rpc_envelope_t env;
        rpc_auth_request_t req;
        int rc = rpc_auth_request_recv(s->router, &env, &req);
        if (rc == -EAGAIN || rc == -ETERM || rc == -ENOTSOCK)
            return;
        if (rc == 0)
            accept_request(s, &env, &req);
        else if (env.n > 0)
            refuse_now(s, &env, NULL, RPC_AUTH_BAD_REQUEST, "malformed");
        else
            log_debug("auth_unroutable", "rc=%d", rc);
        rpc_auth_request_fini(&req);
    }
}

static void on_router(loop_t *l, int fd, unsigned ev, void *arg)
{
    drain_router(arg);
}

static void on_done(loop_t *l, int fd, unsigned ev, void *arg)
{
    server_t *s = arg;
    queue_ack(s->done_q);
    queue_node_t *n;
    while ((n = queue_pop_nowait(s->done_q))) {
        auth_job_t *j = (auth_job_t *)n;
        finish_job(s, j);
        auth_job_destroy(&j);
    }
    /* Sending may have consumed the ROUTER's edge: look for input now. */
    drain_router(s);
}

static void on_changes(loop_t *l, int fd, unsigned ev, void *arg)
{
    server_t *s = arg;
    for (;;) {
        rpc_change_event_t e;
        int rc = rpc_change_event_recv(s->sub, &e);
        if (rc == -EAGAIN || rc == -ETERM || rc == -ENOTSOCK)
            return;
        if (rc) {
            log_warn("change_event_malformed", "rc=%d", rc);
            continue;
        }
        metrics_inc(s->auth->metrics, MET_CHANGE_EVENT);
        /* The credential cache holds verified credentials only, so only
         * client changes concern it; a kick or a group edit leaves it alone.
         * A rules/groups/ACL change drops the config snapshot early: only to
         * free it sooner, since the next request would miss anyway (its
         * version differs; authz.h). Nothing here is needed for correctness. */
        size_t dropped = 0, snap_dropped = 0;
        if (e.kind == RPC_CHANGE_CLIENT)
            dropped = e.username[0] ? cache_drop_user(s->auth->cache, e.username) : cache_clear(s->auth->cache);
        if (e.kind == RPC_CHANGE_GROUP || e.kind == RPC_CHANGE_RULE || e.kind == RPC_CHANGE_ACL ||
            e.kind == RPC_CHANGE_ALL)
            snap_dropped = authz_cache_drop(s->auth->authz);
        if (snap_dropped)
            metrics_inc(s->auth->metrics, MET_AUTHZ_DROP);
        log_debug("change_event", "kind=%d op=%d object_id=%s version=%llu cache_dropped=%zu config_dropped=%zu",
                  (int)e.kind, (int)e.op, e.object_id, (unsigned long long)e.version, dropped, snap_dropped);
        rpc_change_event_fini(&e);
    }
}

/* ---- lifecycle -------------------------------------------------------------- */

server_t *server_new(loop_t *loop, void *zctx, const authd_conf_t *conf, auth_ctx_t *auth)
{
    server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    *s = (server_t){.loop = loop, .zctx = zctx, .conf = conf, .auth = auth, .router_fd = -1, .sub_fd = -1};
    s->lookup_q = queue_new(false);
    s->hash_q = queue_new(false);
    s->done_q = queue_new(true);
    s->coalesce = coalesce_new();
    if (s->lookup_q && s->hash_q && s->done_q && s->coalesce) {
        s->lookup_pool = pool_new(s->lookup_q, (unsigned)conf->workers, lookup_init, lookup_run, lookup_fini, s);
        s->hash_pool = pool_new(s->hash_q, (unsigned)conf->hash_workers, NULL, hash_run, NULL, s);
    }
    if (!s->lookup_pool || !s->hash_pool)
        server_destroy(&s);
    return s;
}

static int zfd(void *sock, int *fd)
{
    size_t sz = sizeof(*fd);
    return zmq_getsockopt(sock, ZMQ_FD, fd, &sz) ? -zmq_errno() : 0;
}

static void *open_socket(server_t *s, int type)
{
    void *sock = zmq_socket(s->zctx, type);
    int zero = 0;
    if (sock)
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    return sock;
}

static void on_zap(loop_t *l, int fd, unsigned ev, void *arg)
{
    server_t *s = arg;
    rpc_zap_drain(s->zap);
}

/* Who may ask (the ZAP handler must exist before the ROUTER binds), and a
 * warning naming the risk when that is anyone: the peer address in a request
 * feeds the per-address throttle, so an unchecked asker can rotate it. */
static int start_trust(server_t *s, int curve)
{
    int rc;
    if (!curve) {
        log_warn("authd_unauthenticated", "bind=%s detail=\"no --curve-secret: anyone who reaches this port can "
                 "test passwords and choose the peer address that throttling counts\"", s->conf->bind);
        return 0;
    }
    if (!s->conf->curve_clients[0]) {
        log_warn("authd_any_curve_client", "bind=%s detail=\"no --curve-clients: any CurveZMQ key may ask and "
                 "choose the peer address that throttling counts\"", s->conf->bind);
        return 0;
    }
    if ((rc = rpc_zap_new(s->zctx, s->conf->curve_clients, "authd", &s->zap)))
        return rc;
    return loop_add_fd(s->loop, rpc_zap_fd(s->zap), LOOP_READ | LOOP_EDGE, on_zap, s);
}

static int start_changes(server_t *s)
{
    if (!s->conf->changes[0])
        return 0;
    int rc, curve;
    if (!(s->sub = open_socket(s, ZMQ_SUB)))
        return -zmq_errno();
    if ((curve = rpc_curve_client(s->sub, s->conf->changes_curve_server, NULL)) < 0)
        return curve;
    if (zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC)) ||
        zmq_connect(s->sub, s->conf->changes))
        return -zmq_errno();
    if ((rc = zfd(s->sub, &s->sub_fd)) || (rc = loop_add_fd(s->loop, s->sub_fd, LOOP_READ | LOOP_EDGE, on_changes, s)))
        return rc;
    log_info("changes_connected", "endpoint=%s curve=%s", s->conf->changes, curve ? "on" : "off");
    return 0;
}

int server_start(server_t *s)
{
    int rc, curve;
    if ((rc = pool_start(s->lookup_pool)) || (rc = pool_start(s->hash_pool)))
        goto fail;
    if (!(s->router = open_socket(s, ZMQ_ROUTER))) {
        rc = -zmq_errno();
        goto fail;
    }
    if ((curve = rpc_curve_server(s->router, s->conf->curve_secret)) < 0) {
        rc = curve;
        goto fail;
    }
    if ((rc = start_trust(s, curve)))
        goto fail;
    if (zmq_bind(s->router, s->conf->bind)) {
        rc = -zmq_errno();
        goto fail;
    }
    if ((rc = zfd(s->router, &s->router_fd)) ||
        (rc = loop_add_fd(s->loop, s->router_fd, LOOP_READ | LOOP_EDGE, on_router, s)) ||
        (rc = loop_add_fd(s->loop, queue_fd(s->done_q), LOOP_READ, on_done, s)))
        goto fail;
    s->in_loop = true;
    if ((rc = start_changes(s)))
        goto fail;
    log_info("listening", "bind=%s curve=%s curve_clients=%zu workers=%lld hash_workers=%lld", s->conf->bind,
             curve ? "on" : "off", rpc_zap_keys(s->zap), (long long)s->conf->workers,
             (long long)s->conf->hash_workers);
    drain_router(s); /* anything that arrived before the fd joined the loop */
    return 0;
fail:
    log_error("server_start_failed", "bind=%s changes=%s rc=%d err=\"%s\"", s->conf->bind, s->conf->changes, rc,
              rc == -zmq_errno() ? zmq_strerror(zmq_errno()) : roost_strerror(rc));
    return rc;
}

static void free_queued(queue_t *q)
{
    queue_node_t *n;
    while (q && (n = queue_pop_nowait(q))) {
        auth_job_t *j = (auth_job_t *)n;
        auth_job_destroy(&j);
    }
}

void server_stop(server_t *s)
{
    if (s->in_loop) {
        loop_del_fd(s->loop, s->router_fd);
        loop_del_fd(s->loop, queue_fd(s->done_q));
        s->in_loop = false;
    }
    if (s->sub_fd >= 0) {
        loop_del_fd(s->loop, s->sub_fd);
        s->sub_fd = -1;
    }
    /* Queued work is abandoned (brokers time out); only the jobs in hand finish. */
    while (s->delayed) {
        delayed_t *d = s->delayed;
        loop_del_timer(s->loop, d->timer);
        unlink_delayed(s, d);
        auth_job_destroy(&d->job);
        free(d);
    }
    free_queued(s->lookup_q);
    if (s->lookup_pool)
        pool_stop(s->lookup_pool);
    free_queued(s->hash_q);
    if (s->hash_pool)
        pool_stop(s->hash_pool);
    free_queued(s->done_q);
    if (s->zap) {
        loop_del_fd(s->loop, rpc_zap_fd(s->zap));
        rpc_zap_destroy(&s->zap);
    }
    if (s->router)
        zmq_close(s->router);
    if (s->sub)
        zmq_close(s->sub);
    s->router = s->sub = NULL;
}

void server_destroy(server_t **sp)
{
    server_t *s = *sp;
    if (!s)
        return;
    server_stop(s);
    pool_destroy(&s->lookup_pool);
    pool_destroy(&s->hash_pool);
    coalesce_destroy(&s->coalesce);
    queue_destroy(&s->lookup_q);
    queue_destroy(&s->hash_q);
    queue_destroy(&s->done_q);
    free(s);
    *sp = NULL;
}

size_t server_lookup_depth(server_t *s)
{
    return queue_len(s->lookup_q);
}

size_t server_hash_depth(server_t *s)
{
    return queue_len(s->hash_q);
}
