#include "kick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/err.h"
#include "base/log.h"
#include "conn.h"
#include "rpc/curve.h"
#include "rpc/rpc.h"
#include "routes.h"
#include "session.h"
#include "tlssync.h"
#include "conn5.h"
#include "mqtt/reason.h"

struct kick {
    broker_t *b;
    void *ctx, *sub;
    int fd;
};

static void on_event(kick_t *k, const rpc_change_event_t *e)
{
    if (e->kind == RPC_CHANGE_CERTIFICATES) {
        if (k->b->tlssync)
            tlssync_refresh(k->b->tlssync); /* admin's certificates changed: load them now */
        return;
    }
    if (e->kind == RPC_CHANGE_ROUTES) {
        routes_refresh(k->b->routes); /* a mapping or pipeline changed: reload now */
        return;
    }
    if (e->kind != RPC_CHANGE_CONNECTION || e->op != RPC_CHANGE_DELETE || !e->object_id)
        return;
    session_t *s = map_get(&k->b->sessions, e->object_id, strlen(e->object_id));
    if (!s || !s->conn)
        return;
    char qid[LOG_QUOTE_CAP];
    log_info("conn_kicked", "client_id=%s by=admin", log_quote(qid, sizeof(qid), s->id, s->id_len));
    conn_disconnect(s->conn, MQTT_RC_ADMINISTRATIVE_ACTION, "disconnected by an administrator",
                    "kicked_by_admin");
}

static void on_readable(loop_t *l, int fd, unsigned events, void *arg)
{
    kick_t *k = arg;
    while (rpc_readable(k->sub)) {
        rpc_change_event_t e;
        int rc = rpc_change_event_recv(k->sub, &e);
        if (rc == -EAGAIN)
            break;
        if (rc < 0)
            continue;
        on_event(k, &e);
        rpc_change_event_fini(&e);
    }
}

kick_t *kick_new(broker_t *b, const char *endpoint, const char *server_key)
{
    kick_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->b = b;
    k->fd = -1;
    k->ctx = zmq_ctx_new();
    k->sub = k->ctx ? zmq_socket(k->ctx, ZMQ_SUB) : NULL;
    int zero = 0, rc;
    size_t sz = sizeof(k->fd);
    const char *why = NULL;
    if (!k->sub || zmq_setsockopt(k->sub, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
        zmq_setsockopt(k->sub, ZMQ_SUBSCRIBE, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC)) < 0)
        why = zmq_strerror(errno);
    else if ((rc = rpc_curve_client(k->sub, server_key, NULL)) < 0)
        why = rc == ROOST_ECONFIG ? "--admin-events-server-key: not 40 Z85 characters or a file "
                                    "holding them"
                                  : zmq_strerror(-rc);
    else if (zmq_connect(k->sub, endpoint) < 0 || zmq_getsockopt(k->sub, ZMQ_FD, &k->fd, &sz) < 0 ||
             loop_add_fd(b->loop, k->fd, LOOP_READ | LOOP_EDGE, on_readable, k) < 0)
        why = zmq_strerror(errno);
    if (why) {
        log_error("admin_events_failed", "endpoint=%s reason=\"%s\"", endpoint, why);
        k->fd = -1;
        kick_destroy(&k);
        return NULL;
    }
    log_info("admin_events", "endpoint=%s curve=%s", endpoint, server_key && server_key[0] ? "on" : "off");
    return k;
}

void kick_destroy(kick_t **kp)
{
    kick_t *k = *kp;
    if (!k)
        return;
    *kp = NULL;
    if (k->fd >= 0)
        loop_del_fd(k->b->loop, k->fd);
    if (k->sub)
        zmq_close(k->sub);
    if (k->ctx)
        zmq_ctx_term(k->ctx);
    free(k);
}
