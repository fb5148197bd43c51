/* rpc: Roost's service contracts as plain C (DESIGN.md "Contracts",
 * STYLE.md 19). The protobuf messages of proto/roost.proto are encoded and
 * decoded here and nowhere else; callers see the structs below and never a
 * protobuf-c type.
 *
 * Framing (ZeroMQ multipart):
 *   broker DEALER -> authd ROUTER   [empty][AuthRequest]
 *   authd ROUTER  -> broker DEALER  [identity...][empty][AuthReply]
 *   admin PUB     -> authd SUB      [RPC_CHANGE_TOPIC][ChangeEvent]
 * The ROUTER side keeps every routing frame up to the empty delimiter in an
 * rpc_envelope_t, so devices in between (proxies) work unchanged.
 *
 * Encoding: rpc_*_encode write into a caller buffer and return the number of
 * bytes the body takes; when that is more than `cap` nothing is written (call
 * again with a buffer that big, like snprintf). Negative on invalid input:
 * ROOST_EINVAL (a required string is NULL, an enum out of range) or
 * ROOST_EPROTO_TOO_LARGE (a field or the body is over the limits below).
 *
 * Decoding: rpc_*_decode fill a caller struct whose strings and arrays are
 * views into storage the struct holds; they stay valid until rpc_*_fini.
 * Bodies from the network are untrusted: truncated or garbage bytes give
 * ROOST_EPROTO_MALFORMED, oversized bodies or fields ROOST_EPROTO_TOO_LARGE,
 * and on any error there is nothing to fini (the struct is zeroed). Strings
 * are NUL-terminated and contain no NUL (a body whose string holds a NUL is
 * malformed). Absent optional strings decode as "" except username, which
 * is NULL when absent (anonymous).
 *
 * Sending and receiving never block: sockets are used with ZMQ_DONTWAIT, and
 * -EAGAIN means "nothing to read" or "high-water mark reached".
 *
 * Thread safety: no shared state; a socket belongs to one thread (ZeroMQ's
 * rule); the structs may be handed between threads.
 */
#ifndef ROOST_RPC_RPC_H
#define ROOST_RPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits. Both ends check them; a decoder rejects bodies over RPC_MAX_BODY
 * before parsing, so a hostile peer cannot make it allocate much. */
#define RPC_MAX_BODY (1024u * 1024u)  /* bytes of one encoded message */
#define RPC_MAX_ID 256u               /* broker_id, peer, store ids, group ids, names */
#define RPC_MAX_MQTT_STR 65535u       /* client_id, username, password, topic (MQTT limits) */
#define RPC_MAX_GROUPS 1024u          /* groups in one reply */
#define RPC_MAX_ACL 8192u             /* ACL entries in one reply */
#define RPC_MAX_HOPS 4u               /* routing frames kept in an envelope */
#define RPC_CHANGE_TOPIC "roost.change"

/* ---- AuthRequest ------------------------------------------------------ */

typedef struct rpc_auth_request {
    uint64_t request_id;
    uint64_t deadline_ms;           /* absolute unix ms (rpc_unix_ms) */
    const char *broker_id;          /* required on encode */
    const char *client_id;          /* MQTT client id; required on encode ("" allowed) */
    const char *username;           /* NULL: anonymous */
    const uint8_t *password;        /* with has_password; may hold any byte */
    size_t password_len;
    bool has_password;
    const char *peer;               /* "ip:port"; NULL encodes as "" */
    uint32_t protocol_version;      /* 3, 4 or 5 */
    const char *tls_sni;            /* NULL encodes as "" */
    const char *tls_cert_fingerprint; /* NULL encodes as "" */
    const char *tls_cert_subject;   /* the certificate's facts (lib/tls/tlscert.h); */
    const char *tls_cert_issuer;    /* NULL encodes as "" */
    const char *tls_cert_serial;
    int64_t tls_cert_not_before, tls_cert_not_after; /* unix seconds; 0: none */
    void *owned_;                   /* private: set by decode, released by fini */
} rpc_auth_request_t;

int rpc_auth_request_encode(const rpc_auth_request_t *r, void *buf, size_t cap);
/* On success (0) `out` holds views valid until rpc_auth_request_fini. */
int rpc_auth_request_decode(const void *buf, size_t len, rpc_auth_request_t *out);
/* Overwrites the decoded password bytes with zeros (sodium_memzero) and sets
 * password_len to 0; call it as soon as the password has been checked. Only
 * for decoded requests; no-op otherwise. */
void rpc_auth_request_wipe_password(rpc_auth_request_t *r);
/* Wipes the password and frees what decode allocated; zeroes *r. Safe on a
 * zeroed struct and on one filled by the caller (frees nothing then). */
void rpc_auth_request_fini(rpc_auth_request_t *r);

/* ---- AuthReply -------------------------------------------------------- */

typedef enum {
    RPC_AUTH_OK = 1,
    RPC_AUTH_BAD_CREDENTIALS = 2,
    RPC_AUTH_NOT_AUTHORIZED = 3,
    RPC_AUTH_UNAVAILABLE = 4,
    RPC_AUTH_THROTTLED = 5,
    RPC_AUTH_BAD_REQUEST = 6,
    RPC_AUTH_BANNED = 7,
} rpc_auth_status_t;

typedef enum { RPC_ACL_ALLOW = 1, RPC_ACL_DENY = 2 } rpc_acl_permission_t;
typedef enum { RPC_ACL_PUBLISH = 1, RPC_ACL_SUBSCRIBE = 2, RPC_ACL_BOTH = 3 } rpc_acl_action_t;

typedef struct rpc_acl_entry {
    rpc_acl_permission_t permission;
    rpc_acl_action_t action;
    const char *topic;              /* MQTT filter, %u / %c not substituted */
} rpc_acl_entry_t;

typedef struct rpc_auth_reply {
    uint64_t request_id;
    rpc_auth_status_t status;
    const char *client_id;          /* store client id; NULL encodes as "" */
    const char *client_name;        /* NULL encodes as "" */
    const char *const *groups;      /* n_groups group ids */
    size_t n_groups;
    const rpc_acl_entry_t *acl;     /* n_acl entries, in group order */
    size_t n_acl;
    uint64_t config_version;
    uint64_t max_msg_rate;          /* from the groups; 0: the broker's own limit */
    uint64_t max_byte_rate;
    void *owned_;                   /* private: set by decode, released by fini */
} rpc_auth_reply_t;

int rpc_auth_reply_encode(const rpc_auth_reply_t *r, void *buf, size_t cap);
int rpc_auth_reply_decode(const void *buf, size_t len, rpc_auth_reply_t *out);
void rpc_auth_reply_fini(rpc_auth_reply_t *r);

/* Static names for logs and JSON: "ok", "bad_credentials", ... never NULL. */
const char *rpc_auth_status_name(rpc_auth_status_t s);
const char *rpc_acl_permission_name(rpc_acl_permission_t p);
const char *rpc_acl_action_name(rpc_acl_action_t a);

/* ---- ChangeEvent ------------------------------------------------------ */

typedef enum {
    RPC_CHANGE_CLIENT = 1,
    RPC_CHANGE_GROUP = 2,
    RPC_CHANGE_RULE = 3,
    RPC_CHANGE_ACL = 4,
    RPC_CHANGE_ALL = 5,
    RPC_CHANGE_CONNECTION = 6, /* op DELETE = kick; object_id = the MQTT client id */
    RPC_CHANGE_ROUTES = 7,     /* a pipeline or topic mapping: reload routes now */
    RPC_CHANGE_CERTIFICATES = 8, /* broker TLS settings: brokers reload them now */
} rpc_change_kind_t;

typedef enum { RPC_CHANGE_CREATE = 1, RPC_CHANGE_UPDATE = 2, RPC_CHANGE_DELETE = 3 } rpc_change_op_t;

typedef struct rpc_change_event {
    rpc_change_kind_t kind;
    rpc_change_op_t op;
    const char *object_id;          /* NULL encodes as ""; up to RPC_MAX_ID bytes,
                                       RPC_MAX_MQTT_STR for RPC_CHANGE_CONNECTION */
    const char *username;           /* NULL encodes as "" */
    uint64_t version;
    uint64_t time_ms;
    void *owned_;                   /* private */
} rpc_change_event_t;

int rpc_change_event_encode(const rpc_change_event_t *e, void *buf, size_t cap);
int rpc_change_event_decode(const void *buf, size_t len, rpc_change_event_t *out);
void rpc_change_event_fini(rpc_change_event_t *e);

/* ---- ZeroMQ framing ---------------------------------------------------- */

/* The routing frames a ROUTER received before the empty delimiter. Plain
 * data: may be copied and handed to another thread. */
typedef struct rpc_envelope {
    uint8_t id[RPC_MAX_HOPS][255];
    uint8_t id_len[RPC_MAX_HOPS];
    unsigned n;
} rpc_envelope_t;

/* DEALER side. Encodes and sends [empty][body] without blocking. The
 * message buffer holding the password is zeroed when ZeroMQ frees it.
 * 0, -EAGAIN (high-water mark, nothing sent), encode errors, or -errno. */
int rpc_auth_request_send(void *dealer, const rpc_auth_request_t *r);
/* DEALER side. Receives one [empty][body] without blocking and decodes it.
 * 0 (fini `out` after use), -EAGAIN (nothing pending), or a decode error /
 * ROOST_EPROTO_MALFORMED for bad framing: that message has been consumed,
 * call again for the next one. */
int rpc_auth_reply_recv(void *dealer, rpc_auth_reply_t *out);

/* ROUTER side. Receives one request without blocking.
 * 0: `env` and `out` filled (fini `out`). -EAGAIN: nothing pending.
 * A decode error with env->n > 0: the framing was fine but the body was not;
 * the caller may answer RPC_AUTH_BAD_REQUEST through `env`. A decode error
 * with env->n == 0: unroutable garbage, consumed and dropped. The received
 * body bytes are zeroed before they are released. */
int rpc_auth_request_recv(void *router, rpc_envelope_t *env, rpc_auth_request_t *out);
/* ROUTER side. Sends [env frames][empty][reply] without blocking.
 * 0, -EAGAIN, encode errors, -EHOSTUNREACH (peer gone, with
 * ZMQ_ROUTER_MANDATORY) or -errno. */
int rpc_auth_reply_send(void *router, const rpc_envelope_t *env, const rpc_auth_reply_t *r);

/* PUB side: sends [RPC_CHANGE_TOPIC][event]. 0 or -errno. */
int rpc_change_event_send(void *pub, const rpc_change_event_t *e);
/* SUB side (subscribed to RPC_CHANGE_TOPIC): like rpc_auth_reply_recv. */
int rpc_change_event_recv(void *sub, rpc_change_event_t *out);

/* True when the socket has a message to read (ZMQ_EVENTS & ZMQ_POLLIN).
 * Loops watching ZMQ_FD edge-triggered drain while this holds. */
bool rpc_readable(void *sock);

/* Unix time in milliseconds (proc_wall_ms): the clock of deadline_ms. */
uint64_t rpc_unix_ms(void);

#endif
