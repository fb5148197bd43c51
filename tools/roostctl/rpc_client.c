/* rpc_client: roostctl's admin RPC transport (ctl.h "RPC mode"): one DEALER,
 * one request, one reply, a deadline. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/err.h"
#include "ctl.h"
#include "rpc/admin.h"
#include "rpc/curve.h"

int ctl_rpc_call(const ctl_rpc_t *r, const rpc_admin_request_t *req_in, unsigned *status, json_t **doc)
{
    *status = 0;
    *doc = NULL;
    int rc = CTL_UNAVAILABLE;
    void *zctx = zmq_ctx_new();
    void *s = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    if (!s) {
        fputs("roostctl: cannot create a ZeroMQ socket\n", stderr);
        goto out;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    int crc = rpc_curve_client(s, r->admin_key, NULL);
    if (crc < 0) {
        fprintf(stderr, "roostctl: --admin-key: %s\n",
                crc == ROOST_ECONFIG ? "not 40 Z85 characters (or a file holding them)" : zmq_strerror(-crc));
        rc = CTL_USAGE;
        goto out;
    }
    if (zmq_connect(s, r->endpoint) < 0) {
        fprintf(stderr, "roostctl: bad --admin endpoint '%s': %s\n", r->endpoint, zmq_strerror(zmq_errno()));
        rc = CTL_USAGE;
        goto out;
    }
    rpc_admin_request_t req = *req_in;
    randombytes_buf(&req.request_id, sizeof(req.request_id));
    req.deadline_ms = rpc_unix_ms() + (uint64_t)r->timeout_ms;
    req.token = r->token;
    zmq_pollitem_t pi = {.socket = s, .events = ZMQ_POLLOUT};
    if (zmq_poll(&pi, 1, r->timeout_ms) <= 0 || rpc_admin_request_send(s, &req) < 0) {
        fprintf(stderr, "roostctl: cannot send to admin at %s\n", r->endpoint);
        goto out;
    }
    for (;;) {
        pi.events = ZMQ_POLLIN;
        int64_t left = (int64_t)req.deadline_ms - (int64_t)rpc_unix_ms();
        if (left <= 0 || zmq_poll(&pi, 1, (long)left) <= 0) {
            fprintf(stderr, "roostctl: no answer from admin at %s within %d ms\n", r->endpoint, r->timeout_ms);
            goto out;
        }
        rpc_admin_reply_t rep;
        int e = rpc_admin_reply_recv(s, &rep);
        if (e == -EAGAIN)
            continue;
        if (e < 0) {
            fprintf(stderr, "roostctl: bad reply from admin: %s\n", roost_strerror(e));
            goto out;
        }
        if (rep.request_id != req.request_id) {
            rpc_admin_reply_fini(&rep);
            continue;
        }
        *status = rep.status;
        if (rep.body[0])
            *doc = json_loads(rep.body, 0, NULL);
        rpc_admin_reply_fini(&rep);
        rc = CTL_OK;
        break;
    }
out:
    if (s)
        zmq_close(s);
    if (zctx)
        zmq_ctx_term(zctx);
    return rc;
}
