/* rpc/admin: AdminRequest / AdminReply codec and framing (admin.h). */
#include "rpc/admin.h"

#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "base/err.h"
#include "proto/roost.pb-c.h"
#include "rpc/rpc_priv.h"

static const char *const OP_NAMES[RPC_ADMIN_OP_COUNT] = {
    [RPC_ADMIN_CLIENT_LIST] = "client.list",       [RPC_ADMIN_CLIENT_GET] = "client.get",
    [RPC_ADMIN_CLIENT_CREATE] = "client.create",   [RPC_ADMIN_CLIENT_UPDATE] = "client.update",
    [RPC_ADMIN_CLIENT_DELETE] = "client.delete",   [RPC_ADMIN_GROUP_LIST] = "group.list",
    [RPC_ADMIN_GROUP_GET] = "group.get",           [RPC_ADMIN_GROUP_CREATE] = "group.create",
    [RPC_ADMIN_GROUP_UPDATE] = "group.update",     [RPC_ADMIN_GROUP_DELETE] = "group.delete",
    [RPC_ADMIN_RULE_LIST] = "rule.list",           [RPC_ADMIN_RULE_GET] = "rule.get",
    [RPC_ADMIN_RULE_CREATE] = "rule.create",       [RPC_ADMIN_RULE_UPDATE] = "rule.update",
    [RPC_ADMIN_RULE_DELETE] = "rule.delete",       [RPC_ADMIN_CONNECTION_LIST] = "connection.list",
    [RPC_ADMIN_CONNECTION_KICK] = "connection.kick", [RPC_ADMIN_EXPLAIN] = "explain",
    [RPC_ADMIN_AUDIT_LIST] = "audit.list",         [RPC_ADMIN_TOKEN_LIST] = "token.list",
    [RPC_ADMIN_TOKEN_CREATE] = "token.create",     [RPC_ADMIN_TOKEN_REVOKE] = "token.revoke",
    [RPC_ADMIN_PIPELINE_LIST] = "pipeline.list",   [RPC_ADMIN_PIPELINE_GET] = "pipeline.get",
    [RPC_ADMIN_PIPELINE_CREATE] = "pipeline.create", [RPC_ADMIN_PIPELINE_UPDATE] = "pipeline.update",
    [RPC_ADMIN_PIPELINE_DELETE] = "pipeline.delete", [RPC_ADMIN_MAPPING_LIST] = "mapping.list",
    [RPC_ADMIN_MAPPING_GET] = "mapping.get",       [RPC_ADMIN_MAPPING_CREATE] = "mapping.create",
    [RPC_ADMIN_MAPPING_UPDATE] = "mapping.update", [RPC_ADMIN_MAPPING_DELETE] = "mapping.delete",
    [RPC_ADMIN_OVERVIEW] = "overview",             [RPC_ADMIN_INSTANCE_LIST] = "instance.list",
    [RPC_ADMIN_INSTANCE_GET] = "instance.get",
    [RPC_ADMIN_CERTIFICATES_GET] = "certificates.get", [RPC_ADMIN_CERTIFICATES_PUT] = "certificates.put",
    [RPC_ADMIN_BAN_LIST] = "ban.list",
    [RPC_ADMIN_BAN_CREATE] = "ban.create",         [RPC_ADMIN_BAN_DELETE] = "ban.delete",
};

const char *rpc_admin_op_name(rpc_admin_op_t op)
{
    return op > 0 && op < RPC_ADMIN_OP_COUNT && OP_NAMES[op] ? OP_NAMES[op] : "unknown";
}

static char *opt(const char *s)
{
    return (char *)(s ? s : "");
}

static const char *view(const char *s)
{
    return s ? s : "";
}

static int too_long(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) > max ? ROOST_EPROTO_TOO_LARGE : 0;
}

static int check_request(const rpc_admin_request_t *r)
{
    int rc;
    if (r->op < 1 || r->op >= RPC_ADMIN_OP_COUNT)
        return ROOST_EINVAL;
    if ((rc = too_long(r->token, RPC_ADMIN_MAX_TOKEN)) || (rc = too_long(r->id, RPC_MAX_MQTT_STR)) ||
        (rc = too_long(r->cursor, RPC_MAX_MQTT_STR * 2 + 2)) || (rc = too_long(r->search, RPC_MAX_MQTT_STR)))
        return rc;
    return 0;
}

static int pack(const ProtobufCMessage *m, void *buf, size_t cap)
{
    size_t need = protobuf_c_message_get_packed_size(m);
    if (need > RPC_MAX_BODY)
        return ROOST_EPROTO_TOO_LARGE;
    if (need <= cap && buf)
        protobuf_c_message_pack(m, buf);
    return (int)need;
}

int rpc_admin_request_encode(const rpc_admin_request_t *r, void *buf, size_t cap)
{
    int rc = check_request(r);
    if (rc)
        return rc;
    Roost__AdminRequest m = ROOST__ADMIN_REQUEST__INIT;
    m.has_request_id = m.has_deadline_ms = m.has_op = m.has_limit = 1;
    m.request_id = r->request_id;
    m.deadline_ms = r->deadline_ms;
    m.op = (Roost__AdminOp)r->op;
    m.limit = r->limit;
    m.token = opt(r->token);
    m.id = opt(r->id);
    m.cursor = opt(r->cursor);
    m.search = opt(r->search);
    m.body = opt(r->body);
    return pack(&m.base, buf, cap);
}

int rpc_admin_request_decode(const void *buf, size_t len, rpc_admin_request_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_pre_decode(&roost__admin_request__descriptor, buf, len);
    if (rc)
        return rc;
    Roost__AdminRequest *m = roost__admin_request__unpack(NULL, len, buf);
    if (!m)
        return ROOST_EPROTO_MALFORMED;
    rpc_admin_request_t r = {
        .request_id = m->request_id,
        .deadline_ms = m->deadline_ms,
        .token = view(m->token),
        .op = (rpc_admin_op_t)m->op,
        .id = view(m->id),
        .cursor = view(m->cursor),
        .limit = m->limit,
        .search = view(m->search),
        .body = view(m->body),
        .owned_ = m,
    };
    rc = m->has_request_id && m->has_op ? check_request(&r) : ROOST_EPROTO_MALFORMED;
    if (rc) {
        rpc_admin_request_fini(&r);
        return rc == ROOST_EINVAL ? ROOST_EPROTO_MALFORMED : rc;
    }
    *out = r;
    return 0;
}

void rpc_admin_request_fini(rpc_admin_request_t *r)
{
    Roost__AdminRequest *m = r->owned_;
    if (m) {
        if (m->token)
            sodium_memzero(m->token, strlen(m->token));
        roost__admin_request__free_unpacked(m, NULL);
    }
    memset(r, 0, sizeof(*r));
}

int rpc_admin_reply_encode(const rpc_admin_reply_t *r, void *buf, size_t cap)
{
    if (r->status < 100 || r->status > 599)
        return ROOST_EINVAL;
    Roost__AdminReply m = ROOST__ADMIN_REPLY__INIT;
    m.has_request_id = m.has_status = 1;
    m.request_id = r->request_id;
    m.status = r->status;
    m.body = opt(r->body);
    return pack(&m.base, buf, cap);
}

int rpc_admin_reply_decode(const void *buf, size_t len, rpc_admin_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_pre_decode(&roost__admin_reply__descriptor, buf, len);
    if (rc)
        return rc;
    Roost__AdminReply *m = roost__admin_reply__unpack(NULL, len, buf);
    if (!m)
        return ROOST_EPROTO_MALFORMED;
    if (!m->has_request_id || !m->has_status || m->status < 100 || m->status > 599) {
        roost__admin_reply__free_unpacked(m, NULL);
        return ROOST_EPROTO_MALFORMED;
    }
    *out = (rpc_admin_reply_t){m->request_id, m->status, view(m->body), m};
    return 0;
}

void rpc_admin_reply_fini(rpc_admin_reply_t *r)
{
    if (r->owned_)
        roost__admin_reply__free_unpacked(r->owned_, NULL);
    memset(r, 0, sizeof(*r));
}

/* ---- framing (frame.c) ------------------------------------------------- */

static int enc_req(const void *m, void *b, size_t c) { return rpc_admin_request_encode(m, b, c); }
static int enc_rep(const void *m, void *b, size_t c) { return rpc_admin_reply_encode(m, b, c); }
static int dec_req(const void *b, size_t n, void *o) { return rpc_admin_request_decode(b, n, o); }
static int dec_rep(const void *b, size_t n, void *o) { return rpc_admin_reply_decode(b, n, o); }

/* The body goes out from a heap copy wiped on release (the request carries
 * a token). */
int rpc_admin_request_send(void *dealer, const rpc_admin_request_t *r)
{
    int rc = check_request(r);
    if (rc || (rc = rpc_priv_send_frame(dealer, "", 0, ZMQ_SNDMORE)))
        return rc;
    return rpc_priv_send_body(dealer, enc_req, r);
}

int rpc_admin_reply_recv(void *dealer, rpc_admin_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_recv_header(dealer, "", 0);
    return rc ? rc : rpc_priv_recv_body(dealer, dec_rep, out);
}

int rpc_admin_request_recv(void *router, rpc_envelope_t *env, rpc_admin_request_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_recv_envelope(router, env);
    return rc ? rc : rpc_priv_recv_body(router, dec_req, out);
}

int rpc_admin_reply_send(void *router, const rpc_envelope_t *env, const rpc_admin_reply_t *r)
{
    int rc = rpc_admin_reply_encode(r, NULL, 0);
    if (rc < 0)
        return rc;
    if ((rc = rpc_priv_send_envelope(router, env)))
        return rc;
    return rpc_priv_send_body(router, enc_rep, r);
}
