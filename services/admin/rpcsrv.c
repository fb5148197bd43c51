/* rpcsrv: admin RPC ROUTER and change-event PUB (rpcsrv.h). */
#include "rpcsrv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "base/err.h"
#include "base/log.h"
#include "rpc/admin.h"
#include "rpc/curve.h"

struct rpcsrv {
    loop_t *loop;
    void *router, *pub;
    int router_fd;
    ops_t *ops;
    events_t *events;
    metrics_t *metrics;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply(rpcsrv_t *s, const rpc_envelope_t *env, uint64_t id, ops_res_t *res)
{
    char *txt = res->doc ? json_dumps(res->doc, JSON_COMPACT) : NULL;
    json_decref(res->doc);
    res->doc = NULL;
    rpc_admin_reply_t rep = {.request_id = id, .status = res->status, .body = txt};
    int rc = rpc_admin_reply_send(s->router, env, &rep);
    if (rc < 0)
        log_warn("rpc_reply_failed", "rc=%d err=\"%s\"", rc, roost_strerror(rc));
    free(txt);
}

static void handle(rpcsrv_t *s, const rpc_envelope_t *env, const rpc_admin_request_t *q)
{
    double t0 = now_s();
    const char *name = rpc_admin_op_name(q->op);
    if (q->deadline_ms && rpc_unix_ms() > q->deadline_ms) {
        log_warn("rpc_late", "op=%s request_id=%llu", name, (unsigned long long)q->request_id);
        return;
    }
    ops_res_t res = {0};
    ops_actor_t actor;
    if (ops_authenticate(s->ops, q->token, &actor, &res) == 0) {
        ops_req_t r = {
            .op = q->op,
            .id = q->id[0] ? q->id : NULL,
            .cursor = q->cursor,
            .search = q->search,
            .limit = q->limit,
            .body = q->body,
            .body_len = strlen(q->body),
        };
        ops_call(s->ops, &actor, &r, &res);
    }
    unsigned status = res.status;
    reply(s, env, q->request_id, &res);
    metrics_observe(s->metrics, "rpc", name, "RPC", status, now_s() - t0);
}

static void on_router(loop_t *l, int fd, unsigned events, void *arg)
{
    rpcsrv_t *s = arg;
    while (rpc_readable(s->router)) {
        rpc_envelope_t env;
        rpc_admin_request_t q;
        int rc = rpc_admin_request_recv(s->router, &env, &q);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            log_warn("rpc_bad_request", "rc=%d err=\"%s\"", rc, roost_strerror(rc));
            if (env.n > 0) {
                ops_res_t res = {0};
                ops_error(&res, 400, "malformed AdminRequest");
                reply(s, &env, 0, &res);
            }
            continue;
        }
        handle(s, &env, &q);
        rpc_admin_request_fini(&q);
    }
}

static void on_events(loop_t *l, int fd, unsigned events, void *arg)
{
    rpcsrv_t *s = arg;
    events_flush(s->events, s->pub);
}

/* curve: a CurveZMQ secret key spec, or "" for a plain socket. */
static void *bound(void *zctx, int type, const char *ep, const char *curve, int *rc)
{
    void *sock = zmq_socket(zctx, type);
    int zero = 0, one = 1;
    if (!sock) {
        *rc = -zmq_errno();
        return NULL;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    if ((*rc = rpc_curve_server(sock, curve)) < 0) {
        log_error("curve_failed", "endpoint=%s rc=%d detail=\"--curve-secret: 40 Z85 characters or a "
                  "file holding them\"", ep, *rc);
        zmq_close(sock);
        return NULL;
    }
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    if (zmq_bind(sock, ep) < 0) {
        *rc = -zmq_errno();
        log_error("bind_failed", "endpoint=%s err=\"%s\"", ep, zmq_strerror(-*rc));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

int rpcsrv_start(loop_t *loop, void *zctx, const char *rpc_bind, const char *pub_bind,
                 const char *curve_secret, ops_t *ops, events_t *events, metrics_t *metrics,
                 rpcsrv_t **out)
{
    *out = NULL;
    rpcsrv_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *s = (rpcsrv_t){.loop = loop, .ops = ops, .events = events, .metrics = metrics, .router_fd = -1};
    int rc = 0;
    size_t sz = sizeof(s->router_fd);
    if (!(s->router = bound(zctx, ZMQ_ROUTER, rpc_bind, curve_secret, &rc)) ||
        !(s->pub = bound(zctx, ZMQ_PUB, pub_bind, curve_secret, &rc)))
        goto fail;
    if (zmq_getsockopt(s->router, ZMQ_FD, &s->router_fd, &sz) < 0) {
        rc = -zmq_errno();
        goto fail;
    }
    if ((rc = loop_add_fd(loop, s->router_fd, LOOP_READ | LOOP_EDGE, on_router, s)) < 0)
        goto fail;
    if ((rc = loop_add_fd(loop, events_fd(events), LOOP_READ, on_events, s)) < 0) {
        loop_del_fd(loop, s->router_fd);
        goto fail;
    }
    on_router(loop, s->router_fd, LOOP_READ, s); /* edge-triggered: drain what is already there */
    *out = s;
    return 0;
fail:
    if (s->router)
        zmq_close(s->router);
    if (s->pub)
        zmq_close(s->pub);
    free(s);
    return rc;
}

void rpcsrv_destroy(rpcsrv_t **sp)
{
    if (!sp || !*sp)
        return;
    rpcsrv_t *s = *sp;
    events_flush(s->events, s->pub);
    loop_del_fd(s->loop, s->router_fd);
    loop_del_fd(s->loop, events_fd(s->events));
    zmq_close(s->router);
    zmq_close(s->pub);
    free(s);
    *sp = NULL;
}
