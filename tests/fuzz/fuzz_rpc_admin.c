/* fuzz: roost_rpc */
/* The admin RPC decoders (AdminRequest, read by roost-admin from roostctl
 * and other clients; AdminReply, read by roostctl) and the ChangeEvent
 * decoder (read by authd and the broker from admin's PUB) over arbitrary
 * bytes: no crash, no leak, no read past the input; what decodes re-encodes
 * and decodes again to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/admin.h"
#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Encodes into a fresh buffer; NULL when it does not encode. */
static uint8_t *encoded(int n, int (*enc)(const void *, void *, size_t), const void *m, int *len)
{
    uint8_t *buf = n > 0 ? malloc((size_t)n) : malloc(1);
    if (!buf || enc(m, buf, (size_t)n) != n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int enc_req(const void *m, void *b, size_t c) { return rpc_admin_request_encode(m, b, c); }
static int enc_rep(const void *m, void *b, size_t c) { return rpc_admin_reply_encode(m, b, c); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_admin_request_t req, req2;
    if (rpc_admin_request_decode(data, size, &req) == 0) {
        int n = rpc_admin_request_encode(&req, NULL, 0), len = 0;
        uint8_t *buf = n >= 0 ? encoded(n, enc_req, &req, &len) : NULL;
        if (!buf || rpc_admin_request_decode(buf, (size_t)len, &req2) != 0)
            abort();
        if (req2.request_id != req.request_id || req2.deadline_ms != req.deadline_ms ||
            req2.op != req.op || req2.limit != req.limit || !same(req2.token, req.token) ||
            !same(req2.id, req.id) || !same(req2.cursor, req.cursor) ||
            !same(req2.search, req.search) || !same(req2.body, req.body))
            abort();
        rpc_admin_request_fini(&req2);
        free(buf);
        rpc_admin_request_fini(&req);
    }
    rpc_admin_reply_t rep, rep2;
    if (rpc_admin_reply_decode(data, size, &rep) == 0) {
        int n = rpc_admin_reply_encode(&rep, NULL, 0), len = 0;
        uint8_t *buf = n >= 0 ? encoded(n, enc_rep, &rep, &len) : NULL;
        if (!buf || rpc_admin_reply_decode(buf, (size_t)len, &rep2) != 0)
            abort();
        if (rep2.request_id != rep.request_id || rep2.status != rep.status ||
            !same(rep2.body, rep.body))
            abort();
        rpc_admin_reply_fini(&rep2);
        free(buf);
        rpc_admin_reply_fini(&rep);
    }
    rpc_change_event_t ev;
    if (rpc_change_event_decode(data, size, &ev) == 0) {
        if (rpc_change_event_encode(&ev, NULL, 0) < 0)
            abort();
        rpc_change_event_fini(&ev);
    }
    return 0;
}
