#include "rpc/rpc.h"

#include "base/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "base/err.h"
#include "proto/roost.pb-c.h"
#include "rpc/rpc_priv.h"

/* ---- shared checks ----------------------------------------------------- */

/* A string field: NULL allowed unless required; at most max bytes. */
static int check_str(const char *s, size_t max, bool required)
{
    if (!s)
        return required ? ROOST_EINVAL : 0;
    return strnlen(s, max + 1) > max ? ROOST_EPROTO_TOO_LARGE : 0;
}

static char *opt_str(const char *s)
{
    return (char *)(s ? s : ""); /* protobuf-c's pack takes char * but only reads */
}

static const char *view(const char *s)
{
    return s ? s : "";
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return ROOST_EPROTO_MALFORMED;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return ROOST_EPROTO_MALFORMED;
}

/* protobuf-c copies a string field and appends a NUL, so a NUL inside the
 * wire bytes would silently shorten the C string ("alice\0x" -> "alice").
 * This walks the wire form once with the generated descriptors and refuses
 * any string field holding a NUL; it also rejects groups (never used by our
 * contracts) and bodies nested deeper than our messages go. */
static int scan_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth)
{
    const uint8_t *end = p + n;
    if (depth > 2)
        return ROOST_EPROTO_MALFORMED;
    while (p < end) {
        uint64_t tag, v;
        if (read_varint(&p, end, &tag))
            return ROOST_EPROTO_MALFORMED;
        switch (tag & 7) {
        case 0:
            if (read_varint(&p, end, &v))
                return ROOST_EPROTO_MALFORMED;
            break;
        case 1:
            if (end - p < 8)
                return ROOST_EPROTO_MALFORMED;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return ROOST_EPROTO_MALFORMED;
            p += 4;
            break;
        case 2: {
            if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return ROOST_EPROTO_MALFORMED;
            const ProtobufCFieldDescriptor *f =
                (tag >> 3) <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                                         : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)v))
                return ROOST_EPROTO_MALFORMED;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = scan_strings(f->descriptor, p, (size_t)v, depth + 1);
                if (rc)
                    return rc;
            }
            p += v;
            break;
        }
        default:
            return ROOST_EPROTO_MALFORMED;
        }
    }
    return 0;
}

static int pre_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len)
{
    if (len > RPC_MAX_BODY)
        return ROOST_EPROTO_TOO_LARGE;
    if (len && !buf)
        return ROOST_EINVAL;
    return scan_strings(d, buf, len, 0);
}

/* Packs into buf when it fits; returns the packed size either way. */
static int finish_pack(const ProtobufCMessage *m, void *buf, size_t cap)
{
    size_t need = protobuf_c_message_get_packed_size(m);
    if (need > RPC_MAX_BODY)
        return ROOST_EPROTO_TOO_LARGE;
    if (need <= cap && buf)
        protobuf_c_message_pack(m, buf);
    return (int)need;
}

/* ---- AuthRequest -------------------------------------------------------- */

static int check_request(const rpc_auth_request_t *r)
{
    int rc;
    if ((rc = check_str(r->broker_id, RPC_MAX_ID, true)) || (rc = check_str(r->client_id, RPC_MAX_MQTT_STR, true)) ||
        (rc = check_str(r->username, RPC_MAX_MQTT_STR, false)) || (rc = check_str(r->peer, RPC_MAX_ID, false)) ||
        (rc = check_str(r->tls_sni, RPC_MAX_ID, false)) ||
        (rc = check_str(r->tls_cert_fingerprint, RPC_MAX_ID, false)) ||
        (rc = check_str(r->tls_cert_subject, RPC_MAX_ID, false)) ||
        (rc = check_str(r->tls_cert_issuer, RPC_MAX_ID, false)) ||
        (rc = check_str(r->tls_cert_serial, RPC_MAX_ID, false)))
        return rc;
    if (r->has_password && r->password_len > RPC_MAX_MQTT_STR)
        return ROOST_EPROTO_TOO_LARGE;
    if (r->has_password && r->password_len && !r->password)
        return ROOST_EINVAL;
    return 0;
}

int rpc_auth_request_encode(const rpc_auth_request_t *r, void *buf, size_t cap)
{
    int rc = check_request(r);
    if (rc)
        return rc;
    Roost__AuthRequest m = ROOST__AUTH_REQUEST__INIT;
    m.has_request_id = 1;
    m.request_id = r->request_id;
    m.has_deadline_ms = 1;
    m.deadline_ms = r->deadline_ms;
    m.broker_id = opt_str(r->broker_id);
    m.client_id = opt_str(r->client_id);
    m.username = (char *)r->username;
    if (r->has_password) {
        m.has_password = 1;
        m.password.len = r->password_len;
        m.password.data = (uint8_t *)r->password;
    }
    m.peer = opt_str(r->peer);
    m.has_protocol_version = 1;
    m.protocol_version = r->protocol_version;
    m.tls_sni = opt_str(r->tls_sni);
    m.tls_cert_fingerprint = opt_str(r->tls_cert_fingerprint);
    m.tls_cert_subject = opt_str(r->tls_cert_subject);
    m.tls_cert_issuer = opt_str(r->tls_cert_issuer);
    m.tls_cert_serial = opt_str(r->tls_cert_serial);
    m.has_tls_cert_not_before = m.has_tls_cert_not_after = r->tls_cert_not_after != 0;
    m.tls_cert_not_before = r->tls_cert_not_before;
    m.tls_cert_not_after = r->tls_cert_not_after;
    return finish_pack(&m.base, buf, cap);
}

int rpc_auth_request_decode(const void *buf, size_t len, rpc_auth_request_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pre_decode(&roost__auth_request__descriptor, buf, len);
    if (rc)
        return rc;
    Roost__AuthRequest *m = roost__auth_request__unpack(NULL, len, buf);
    if (!m)
        return ROOST_EPROTO_MALFORMED;
    rpc_auth_request_t r = {
        .request_id = m->request_id,
        .deadline_ms = m->deadline_ms,
        .broker_id = view(m->broker_id),
        .client_id = view(m->client_id),
        .username = m->username,
        .has_password = m->has_password,
        .password = m->has_password ? (m->password.data ? m->password.data : (const uint8_t *)"") : NULL,
        .password_len = m->has_password ? m->password.len : 0,
        .peer = view(m->peer),
        .protocol_version = m->protocol_version,
        .tls_sni = view(m->tls_sni),
        .tls_cert_fingerprint = view(m->tls_cert_fingerprint),
        .tls_cert_subject = view(m->tls_cert_subject),
        .tls_cert_issuer = view(m->tls_cert_issuer),
        .tls_cert_serial = view(m->tls_cert_serial),
        .tls_cert_not_before = m->tls_cert_not_before,
        .tls_cert_not_after = m->tls_cert_not_after,
        .owned_ = m,
    };
    if (!m->has_request_id || !m->has_deadline_ms)
        rc = ROOST_EPROTO_MALFORMED;
    else
        rc = check_request(&r);
    if (rc) {
        rpc_auth_request_fini(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void rpc_auth_request_wipe_password(rpc_auth_request_t *r)
{
    Roost__AuthRequest *m = r->owned_;
    if (!m)
        return;
    if (m->has_password && m->password.data)
        sodium_memzero(m->password.data, m->password.len);
    r->password_len = 0;
}

void rpc_auth_request_fini(rpc_auth_request_t *r)
{
    if (r->owned_) {
        rpc_auth_request_wipe_password(r);
        roost__auth_request__free_unpacked(r->owned_, NULL);
    }
    memset(r, 0, sizeof(*r));
}

/* ---- AuthReply ---------------------------------------------------------- */

typedef struct reply_owned {
    Roost__AuthReply *m;
    rpc_acl_entry_t acl[]; /* m->n_acl */
} reply_owned_t;

static bool status_valid(int s)
{
    return s >= RPC_AUTH_OK && s <= RPC_AUTH_BANNED;
}

static int check_reply(const rpc_auth_reply_t *r)
{
    int rc;
    if (!status_valid((int)r->status))
        return ROOST_EINVAL;
    if ((rc = check_str(r->client_id, RPC_MAX_ID, false)) || (rc = check_str(r->client_name, RPC_MAX_ID, false)))
        return rc;
    if (r->n_groups > RPC_MAX_GROUPS || r->n_acl > RPC_MAX_ACL)
        return ROOST_EPROTO_TOO_LARGE;
    if ((r->n_groups && !r->groups) || (r->n_acl && !r->acl))
        return ROOST_EINVAL;
    for (size_t i = 0; i < r->n_groups; i++)
        if ((rc = check_str(r->groups[i], RPC_MAX_ID, true)))
            return rc;
    for (size_t i = 0; i < r->n_acl; i++) {
        const rpc_acl_entry_t *e = &r->acl[i];
        if (e->permission < RPC_ACL_ALLOW || e->permission > RPC_ACL_DENY || e->action < RPC_ACL_PUBLISH ||
            e->action > RPC_ACL_BOTH || !e->topic || !e->topic[0])
            return ROOST_EINVAL;
        if ((rc = check_str(e->topic, RPC_MAX_MQTT_STR, true)))
            return rc;
    }
    return 0;
}

int rpc_auth_reply_encode(const rpc_auth_reply_t *r, void *buf, size_t cap)
{
    int rc = check_reply(r);
    if (rc)
        return rc;
    Roost__AuthReply m = ROOST__AUTH_REPLY__INIT;
    Roost__AclEntry *entries = NULL;
    Roost__AclEntry **ptrs = NULL;
    if (r->n_acl) {
        entries = calloc(r->n_acl, sizeof(*entries));
        ptrs = calloc(r->n_acl, sizeof(*ptrs));
        if (!entries || !ptrs) {
            rc = -ENOMEM;
            goto out;
        }
    }
    m.has_request_id = 1;
    m.request_id = r->request_id;
    m.has_status = 1;
    m.status = (Roost__AuthStatus)r->status;
    m.client_id = opt_str(r->client_id);
    m.client_name = opt_str(r->client_name);
    m.n_groups = r->n_groups;
    m.groups = (char **)r->groups;
    for (size_t i = 0; i < r->n_acl; i++) {
        Roost__AclEntry e = ROOST__ACL_ENTRY__INIT;
        e.has_permission = 1;
        e.permission = (Roost__AclPermission)r->acl[i].permission;
        e.has_action = 1;
        e.action = (Roost__AclAction)r->acl[i].action;
        e.topic = (char *)r->acl[i].topic;
        entries[i] = e;
        ptrs[i] = &entries[i];
    }
    m.n_acl = r->n_acl;
    m.acl = ptrs;
    m.has_config_version = 1;
    m.config_version = r->config_version;
    m.has_max_msg_rate = r->max_msg_rate != 0;
    m.max_msg_rate = r->max_msg_rate;
    m.has_max_byte_rate = r->max_byte_rate != 0;
    m.max_byte_rate = r->max_byte_rate;
    rc = finish_pack(&m.base, buf, cap);
out:
    free(entries);
    free(ptrs);
    return rc;
}

int rpc_auth_reply_decode(const void *buf, size_t len, rpc_auth_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pre_decode(&roost__auth_reply__descriptor, buf, len);
    if (rc)
        return rc;
    Roost__AuthReply *m = roost__auth_reply__unpack(NULL, len, buf);
    if (!m)
        return ROOST_EPROTO_MALFORMED;
    if (m->n_acl > RPC_MAX_ACL || m->n_groups > RPC_MAX_GROUPS) {
        roost__auth_reply__free_unpacked(m, NULL);
        return ROOST_EPROTO_TOO_LARGE;
    }
    reply_owned_t *o = malloc(sizeof(*o) + m->n_acl * sizeof(rpc_acl_entry_t));
    if (!o) {
        roost__auth_reply__free_unpacked(m, NULL);
        return -ENOMEM;
    }
    o->m = m;
    rc = (m->has_request_id && m->has_status) ? 0 : ROOST_EPROTO_MALFORMED;
    for (size_t i = 0; i < m->n_acl; i++) {
        const Roost__AclEntry *e = m->acl[i];
        o->acl[i] = (rpc_acl_entry_t){
            .permission = (rpc_acl_permission_t)e->permission,
            .action = (rpc_acl_action_t)e->action,
            .topic = e->topic, /* NULL when absent: check_reply rejects it */
        };
    }
    rpc_auth_reply_t r = {
        .request_id = m->request_id,
        .status = (rpc_auth_status_t)m->status,
        .client_id = view(m->client_id),
        .client_name = view(m->client_name),
        .groups = (const char *const *)m->groups,
        .n_groups = m->n_groups,
        .acl = o->acl,
        .n_acl = m->n_acl,
        .config_version = m->config_version,
        .max_msg_rate = m->max_msg_rate,
        .max_byte_rate = m->max_byte_rate,
        .owned_ = o,
    };
    if (!rc)
        rc = check_reply(&r);
    if (rc) {
        rpc_auth_reply_fini(&r);
        return rc == ROOST_EINVAL ? ROOST_EPROTO_MALFORMED : rc;
    }
    *out = r;
    return 0;
}

void rpc_auth_reply_fini(rpc_auth_reply_t *r)
{
    reply_owned_t *o = r->owned_;
    if (o) {
        roost__auth_reply__free_unpacked(o->m, NULL);
        free(o);
    }
    memset(r, 0, sizeof(*r));
}

const char *rpc_auth_status_name(rpc_auth_status_t s)
{
    switch (s) {
    case RPC_AUTH_OK: return "ok";
    case RPC_AUTH_BAD_CREDENTIALS: return "bad_credentials";
    case RPC_AUTH_NOT_AUTHORIZED: return "not_authorized";
    case RPC_AUTH_UNAVAILABLE: return "unavailable";
    case RPC_AUTH_THROTTLED: return "throttled";
    case RPC_AUTH_BAD_REQUEST: return "bad_request";
    case RPC_AUTH_BANNED: return "banned";
    }
    return "unknown";
}

const char *rpc_acl_permission_name(rpc_acl_permission_t p)
{
    return p == RPC_ACL_ALLOW ? "allow" : p == RPC_ACL_DENY ? "deny" : "unknown";
}

const char *rpc_acl_action_name(rpc_acl_action_t a)
{
    switch (a) {
    case RPC_ACL_PUBLISH: return "publish";
    case RPC_ACL_SUBSCRIBE: return "subscribe";
    case RPC_ACL_BOTH: return "both";
    }
    return "unknown";
}

/* ---- ChangeEvent -------------------------------------------------------- */

static int check_change(const rpc_change_event_t *e)
{
    int rc;
    if (e->kind < RPC_CHANGE_CLIENT || e->kind > RPC_CHANGE_CERTIFICATES || e->op < RPC_CHANGE_CREATE ||
        e->op > RPC_CHANGE_DELETE)
        return ROOST_EINVAL;
    size_t id_max = e->kind == RPC_CHANGE_CONNECTION ? RPC_MAX_MQTT_STR : RPC_MAX_ID;
    if ((rc = check_str(e->object_id, id_max, false)) || (rc = check_str(e->username, RPC_MAX_MQTT_STR, false)))
        return rc;
    return 0;
}

int rpc_change_event_encode(const rpc_change_event_t *e, void *buf, size_t cap)
{
    int rc = check_change(e);
    if (rc)
        return rc;
    Roost__ChangeEvent m = ROOST__CHANGE_EVENT__INIT;
    m.has_kind = 1;
    m.kind = (Roost__ChangeKind)e->kind;
    m.has_op = 1;
    m.op = (Roost__ChangeOp)e->op;
    m.object_id = opt_str(e->object_id);
    m.username = opt_str(e->username);
    m.has_version = 1;
    m.version = e->version;
    m.has_time_ms = 1;
    m.time_ms = e->time_ms;
    return finish_pack(&m.base, buf, cap);
}

/* Forward compatibility: an event kind this build does not know decodes as
 * RPC_CHANGE_ALL (the receiver drops everything it cached, the safe
 * reading), and an unknown op as RPC_CHANGE_UPDATE. */
int rpc_change_event_decode(const void *buf, size_t len, rpc_change_event_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pre_decode(&roost__change_event__descriptor, buf, len);
    if (rc)
        return rc;
    Roost__ChangeEvent *m = roost__change_event__unpack(NULL, len, buf);
    if (!m)
        return ROOST_EPROTO_MALFORMED;
    int kind = (int)m->kind, op = (int)m->op;
    rpc_change_event_t e = {
        .kind = (kind >= RPC_CHANGE_CLIENT && kind <= RPC_CHANGE_CERTIFICATES) ? (rpc_change_kind_t)kind
                                                                             : RPC_CHANGE_ALL,
        .op = (op >= RPC_CHANGE_CREATE && op <= RPC_CHANGE_DELETE) ? (rpc_change_op_t)op : RPC_CHANGE_UPDATE,
        .object_id = view(m->object_id),
        .username = view(m->username),
        .version = m->version,
        .time_ms = m->time_ms,
        .owned_ = m,
    };
    if ((rc = check_change(&e))) {
        rpc_change_event_fini(&e);
        return rc == ROOST_EINVAL ? ROOST_EPROTO_MALFORMED : rc;
    }
    *out = e;
    return 0;
}

void rpc_change_event_fini(rpc_change_event_t *e)
{
    if (e->owned_)
        roost__change_event__free_unpacked(e->owned_, NULL);
    memset(e, 0, sizeof(*e));
}

/* ---- ZeroMQ framing (frame.c) ------------------------------------------ */

static int enc_request(const void *m, void *b, size_t c) { return rpc_auth_request_encode(m, b, c); }
static int enc_reply(const void *m, void *b, size_t c) { return rpc_auth_reply_encode(m, b, c); }
static int enc_change(const void *m, void *b, size_t c) { return rpc_change_event_encode(m, b, c); }
static int dec_request(const void *b, size_t n, void *o) { return rpc_auth_request_decode(b, n, o); }
static int dec_reply(const void *b, size_t n, void *o) { return rpc_auth_reply_decode(b, n, o); }
static int dec_change(const void *b, size_t n, void *o) { return rpc_change_event_decode(b, n, o); }

int rpc_auth_request_send(void *dealer, const rpc_auth_request_t *r)
{
    int rc = check_request(r);
    if (rc || (rc = rpc_priv_send_frame(dealer, "", 0, ZMQ_SNDMORE)))
        return rc;
    return rpc_priv_send_body(dealer, enc_request, r);
}

int rpc_auth_reply_recv(void *dealer, rpc_auth_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_recv_header(dealer, "", 0);
    return rc ? rc : rpc_priv_recv_body(dealer, dec_reply, out);
}

int rpc_auth_request_recv(void *router, rpc_envelope_t *env, rpc_auth_request_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_recv_envelope(router, env);
    return rc ? rc : rpc_priv_recv_body(router, dec_request, out);
}

int rpc_auth_reply_send(void *router, const rpc_envelope_t *env, const rpc_auth_reply_t *r)
{
    int rc = check_reply(r);
    if (rc || (rc = rpc_priv_send_envelope(router, env)))
        return rc;
    return rpc_priv_send_body(router, enc_reply, r);
}

int rpc_change_event_send(void *pub, const rpc_change_event_t *e)
{
    int rc = check_change(e);
    if (rc || (rc = rpc_priv_send_frame(pub, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC), ZMQ_SNDMORE)))
        return rc;
    return rpc_priv_send_body(pub, enc_change, e);
}

int rpc_change_event_recv(void *sub, rpc_change_event_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = rpc_priv_recv_header(sub, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC));
    return rc ? rc : rpc_priv_recv_body(sub, dec_change, out);
}

bool rpc_readable(void *sock)
{
    int ev = 0;
    size_t sz = sizeof(ev);
    return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

uint64_t rpc_unix_ms(void) { return proc_wall_ms(); }

/* For lib/rpc/admin.c (rpc_priv.h): the same pre-decode checks. */
int rpc_priv_pre_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len)
{
    return pre_decode(d, buf, len);
}
