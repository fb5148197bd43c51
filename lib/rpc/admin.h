/* rpc/admin: the admin RPC (roostctl and services -> roost-admin) as plain
 * C, over proto/roost.proto's AdminRequest / AdminReply (see the comment
 * there for why object payloads are JSON text in a typed envelope).
 *
 * Framing (ZeroMQ multipart):
 *   client DEALER -> admin ROUTER   [empty][AdminRequest]
 *   admin ROUTER  -> client DEALER  [identity...][empty][AdminReply]
 *
 * Encoding/decoding follow rpc.h: encode returns the body size (writes only
 * when it fits cap), decode fills views valid until *_fini, untrusted bodies
 * give ROOST_EPROTO_MALFORMED / ROOST_EPROTO_TOO_LARGE. Absent strings
 * decode as "". The token is wiped from the received bytes and from the
 * decoded message on fini. Sending and receiving never block (-EAGAIN).
 */
#ifndef ROOST_RPC_ADMIN_H
#define ROOST_RPC_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"

#define RPC_ADMIN_MAX_TOKEN 512u

/* Values equal proto AdminOp. */
typedef enum {
    RPC_ADMIN_CLIENT_LIST = 1,
    RPC_ADMIN_CLIENT_GET,
    RPC_ADMIN_CLIENT_CREATE,
    RPC_ADMIN_CLIENT_UPDATE,
    RPC_ADMIN_CLIENT_DELETE,
    RPC_ADMIN_GROUP_LIST,
    RPC_ADMIN_GROUP_GET,
    RPC_ADMIN_GROUP_CREATE,
    RPC_ADMIN_GROUP_UPDATE,
    RPC_ADMIN_GROUP_DELETE,
    RPC_ADMIN_RULE_LIST,
    RPC_ADMIN_RULE_GET,
    RPC_ADMIN_RULE_CREATE,
    RPC_ADMIN_RULE_UPDATE,
    RPC_ADMIN_RULE_DELETE,
    RPC_ADMIN_CONNECTION_LIST,
    RPC_ADMIN_CONNECTION_KICK,
    RPC_ADMIN_EXPLAIN,
    RPC_ADMIN_AUDIT_LIST,
    RPC_ADMIN_TOKEN_LIST,
    RPC_ADMIN_TOKEN_CREATE,
    RPC_ADMIN_TOKEN_REVOKE,
    RPC_ADMIN_PIPELINE_LIST,
    RPC_ADMIN_PIPELINE_GET,
    RPC_ADMIN_PIPELINE_CREATE,
    RPC_ADMIN_PIPELINE_UPDATE,
    RPC_ADMIN_PIPELINE_DELETE,
    RPC_ADMIN_MAPPING_LIST,
    RPC_ADMIN_MAPPING_GET,
    RPC_ADMIN_MAPPING_CREATE,
    RPC_ADMIN_MAPPING_UPDATE,
    RPC_ADMIN_MAPPING_DELETE,
    RPC_ADMIN_OVERVIEW,
    RPC_ADMIN_INSTANCE_LIST,
    RPC_ADMIN_INSTANCE_GET,
    RPC_ADMIN_CERTIFICATES_GET,
    RPC_ADMIN_CERTIFICATES_PUT,
    RPC_ADMIN_BAN_LIST,
    RPC_ADMIN_BAN_CREATE,
    RPC_ADMIN_BAN_DELETE,
    RPC_ADMIN_OP_COUNT /* one past the last */
} rpc_admin_op_t;

typedef struct rpc_admin_request {
    uint64_t request_id;
    uint64_t deadline_ms;   /* absolute unix ms (rpc_unix_ms) */
    const char *token;      /* NULL encodes as "" */
    rpc_admin_op_t op;
    const char *id;         /* NULL encodes as "" */
    const char *cursor;     /* NULL encodes as "" */
    uint32_t limit;         /* 0: the server's default */
    const char *search;     /* NULL encodes as "" */
    const char *body;       /* JSON text; NULL encodes as "" */
    void *owned_;
} rpc_admin_request_t;

typedef struct rpc_admin_reply {
    uint64_t request_id;
    uint32_t status;        /* HTTP status numbers (200, 404, ...) */
    const char *body;       /* JSON text or "" */
    void *owned_;
} rpc_admin_reply_t;

int rpc_admin_request_encode(const rpc_admin_request_t *r, void *buf, size_t cap);
int rpc_admin_request_decode(const void *buf, size_t len, rpc_admin_request_t *out);
void rpc_admin_request_fini(rpc_admin_request_t *r);
int rpc_admin_reply_encode(const rpc_admin_reply_t *r, void *buf, size_t cap);
int rpc_admin_reply_decode(const void *buf, size_t len, rpc_admin_reply_t *out);
void rpc_admin_reply_fini(rpc_admin_reply_t *r);

/* "client.list", "group.create", ... (the audit action names too), or
 * "unknown". */
const char *rpc_admin_op_name(rpc_admin_op_t op);

/* DEALER: sends [empty][AdminRequest]. 0, -EAGAIN, encode errors, -errno. */
int rpc_admin_request_send(void *dealer, const rpc_admin_request_t *r);
/* DEALER: receives [empty][AdminReply]. As rpc_auth_reply_recv. */
int rpc_admin_reply_recv(void *dealer, rpc_admin_reply_t *out);
/* ROUTER: as rpc_auth_request_recv (env->n > 0 on a decode error: the
 * caller may answer 400 through env). */
int rpc_admin_request_recv(void *router, rpc_envelope_t *env, rpc_admin_request_t *out);
/* ROUTER: sends [env][empty][AdminReply]. */
int rpc_admin_reply_send(void *router, const rpc_envelope_t *env, const rpc_admin_reply_t *r);

#endif
