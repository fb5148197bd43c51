/* changes: admin's change events for the forwarder (changes.h). */
#include "changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/log.h"
#include "rpc/curve.h"
#include "rpc/rpc.h"

struct fwd_changes {
    void *ctx, *sub;
};

int changes_open(const char *endpoint, const char *server_key, fwd_changes_t **out)
{
    *out = NULL;
    fwd_changes_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->ctx = zmq_ctx_new()) || !(c->sub = zmq_socket(c->ctx, ZMQ_SUB))) {
        changes_close(&c);
        return -ENOMEM;
    }
    int curve = rpc_curve_client(c->sub, server_key, NULL), linger = 0;
    if (curve < 0) {
        changes_close(&c);
        return curve;
    }
    zmq_setsockopt(c->sub, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC)) ||
        zmq_connect(c->sub, endpoint)) {
        int rc = -zmq_errno();
        changes_close(&c);
        return rc;
    }
    log_info("changes_connected", "endpoint=%s curve=%s", endpoint, curve ? "on" : "off");
    *out = c;
    return 0;
}

bool changes_routes_changed(fwd_changes_t *c)
{
    bool changed = false;
    for (; c;) {
        rpc_change_event_t e;
        int rc = rpc_change_event_recv(c->sub, &e);
        if (rc == -EAGAIN || rc == -ETERM || rc == -ENOTSOCK)
            break;
        if (rc) {
            log_warn("change_event_malformed", "rc=%d", rc);
            continue;
        }
        if (e.kind == RPC_CHANGE_ROUTES || e.kind == RPC_CHANGE_ALL)
            changed = true;
        rpc_change_event_fini(&e);
    }
    return changed;
}

void changes_close(fwd_changes_t **cp)
{
    fwd_changes_t *c = cp ? *cp : NULL;
    if (!c)
        return;
    if (c->sub)
        zmq_close(c->sub);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *cp = NULL;
}
