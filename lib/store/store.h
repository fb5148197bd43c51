/* store: the Redis layout of Roost's access model (DESIGN.md "Access model",
 * "Redis layout"). The only code in Roost that includes hiredis or knows a key
 * name. Clients, groups (with their ordered ACL lists), group rules, the
 * config version counter and the schema version live here.
 *
 * Threading and blocking: every function that takes a store_t does blocking
 * network I/O (hiredis blocking context, connect and command timeouts) and
 * may also run argon2id (client create/update with a password). A store_t is
 * NOT thread-safe: use one handle per thread (authd: one per worker). Never
 * call it from an event-loop callback.
 *
 * Connection: store_open connects. A call that fails on I/O (Redis down,
 * timeout, connection reset) returns ROOST_EUNAVAILABLE and drops the
 * connection; the next call reconnects first (and re-checks the schema). A
 * write that timed out may or may not have committed. A read never reports
 * success or "not found" unless Redis answered.
 *
 * Errors (lib/base/err.h): 0, -ENOMEM, ROOST_EINVAL (validation; see
 * store_last_error for the field), ROOST_ENOTFOUND, ROOST_ECONFLICT
 * (uniqueness or a reference; field and ids in store_last_error),
 * ROOST_EUNAVAILABLE (no Redis), ROOST_ESCHEMA (stored schema newer than this
 * build), ROOST_ESTORE (Redis answered something this layout did not expect,
 * e.g. a script error). store never logs; callers log.
 *
 * Key layout: every key below is  P {g}:<name>  (P is the handle's prefix,
 * default "roost:"; {g} is the hash tag of the global family of
 * store/keys.h, so these keys share one Redis Cluster slot):
 *   P schema                 string  schema version (STORE_SCHEMA_VERSION)
 *   P version                string  config version, INCR'd by every write
 *   P client:<id>            hash    id name auth_type username password_hash
 *                                    created_at updated_at, and with a
 *                                    certificate cert_fingerprint cert_subject
 *                                    cert_issuer cert_serial cert_not_before
 *                                    cert_not_after; a certificate-only client
 *                                    has username "" and no password_hash
 *   P clients                zset    members "<13-digit created_at>:<id>", all
 *                                    scores 0, walked with ZRANGEBYLEX
 *   P idx:client:username    hash    username -> client id
 *   P idx:client:fingerprint hash    certificate fingerprint -> client id
 *   P group:<id>             hash    id name description acl created_at
 *                                    updated_at rates; acl is a JSON array string
 *                                    [{"permission":"allow","action":"publish",
 *                                      "topic":"a/%u/#"}, ...] in order; rates
 *                                    "<msgs/s> <bytes/s>" (missing: "0 0")
 *   P groups                 zset    as clients
 *   P idx:group:name         hash    group name -> group id
 *   P group:<id>:rules       set     ids of rules that reference the group
 *   P rule:<id>              hash    id match_by value groups created_at
 *                                    updated_at client_ids; groups is the ids joined by ','
 *   P rules                  zset    as clients
 * Every multi-key write is one Lua script (EVALSHA): checks, writes and the
 * version bump commit together or not at all. Keys are computed inside the
 * scripts from P {g}: (ARGV[1]): all in one slot. Times are milliseconds since the Unix epoch (client clock).
 * Ids are 24 lowercase hex characters (12 random bytes from libsodium).
 *
 * Ownership: returned objects are caller-owned and freed with the matching
 * store_*_free(&p), which accepts a NULL pointee and nulls the pointer.
 */
#ifndef ROOST_STORE_STORE_H
#define ROOST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2 /* 2: hash-tagged layout (store/keys.h) */
#define STORE_ID_LEN 24
#define STORE_DEFAULT_PREFIX "roost:"
#define STORE_LIST_MAX 1000 /* largest page size accepted by the list calls */

typedef struct store store_t;

/* ---- handle ------------------------------------------------------------ */

/* Password hashing cost for crypto_pwhash_str (argon2id). 0 in a field means
 * the libsodium "interactive" default. Tests use crypto_pwhash_OPSLIMIT_MIN /
 * crypto_pwhash_MEMLIMIT_MIN. */
typedef struct store_cost {
    unsigned long long opslimit;
    size_t memlimit;
} store_cost_t;

/* Before the first call: run against a Redis Cluster whose nodes include
 * some of seeds ("HOST:PORT,..."; NULL or "": a single Redis at the
 * host:port of store_new). The handle then talks to the primary serving
 * the slot of its keys (store/keys.h: all in one) and follows MOVED, ASK
 * and failovers (store_cluster.c). 0, -ENOMEM, ROOST_EINVAL (a bad list,
 * said on stderr). */
int store_set_cluster(store_t *s, const char *seeds);
/* Creates an unconnected handle. prefix NULL means STORE_DEFAULT_PREFIX;
 * cost NULL means defaults. Copies its arguments. Connect timeout 1000 ms,
 * command timeout 2000 ms. Returns NULL only on OOM (or if libsodium cannot
 * initialise). Caller owns the result. */
store_t *store_new(const char *host, int port, const char *prefix, const store_cost_t *cost);
/* Redis AUTH for the next connections: password NULL or "" for none; user
 * NULL or "" for the default user (Redis 6 ACLs: AUTH user password).
 * Copies both. 0 or -ENOMEM. A refused AUTH fails the connection with
 * ROOST_EUNAVAILABLE and Redis's reply ("WRONGPASS ...") as the reason. */
int store_set_auth(store_t *s, const char *user, const char *password);
/* With Sentinels in sc (store/sentinel.h; NULL or none: host:port as
 * given): every connection asks them for the primary (host and port given
 * to store_new are then not used), checks its ROLE, and a live connection
 * re-asks at most once a second and moves when the answer changes. A
 * command refused with READONLY (a demoted primary) did not run: it is sent
 * once more after asking again. Copies sc. 0, -ENOMEM, ROOST_EINVAL (a
 * list store_sentinel_conf_check refuses; said on stderr). */
struct store_sentinel_conf;
int store_set_sentinel(store_t *s, const struct store_sentinel_conf *sc);
/* Replicated writes (store_wait.c), per request: store_wait_begin starts
 * counting the writes sent on the handle; store_wait_writes then sends one
 * WAIT min_replicas timeout_ms on the link that took them (none when
 * nothing was written, or min_replicas is 0) and says whether enough
 * replicas have them. A link left while it carried such writes (a MOVED to
 * another primary, a failover seen) is WAITed on as it is left, or, when
 * it already broke, counts as not confirmed; a write that ran after ASK
 * is WAITed for on the ASK target's own link. So a write is only
 * reported done once a failover can no longer lose it.
 * store_set_wait: min_replicas 0 (the default) turns it off. */
void store_set_wait(store_t *s, int min_replicas, int timeout_ms);
void store_wait_begin(store_t *s);
/* 0 (confirmed, or nothing to confirm), or ROOST_EUNAVAILABLE with the
 * reason in store_last_error (the writes were made on the primary and may
 * be lost in a failover; how many replicas confirmed them). Ends the count
 * store_wait_begin started. */
int store_wait_writes(store_t *s);

/* Changes the timeouts (milliseconds, > 0) used by the next connection. */
void store_set_timeouts(store_t *s, int connect_ms, int command_ms);
/* Connects, then writes the schema version if absent. 0, ROOST_EUNAVAILABLE,
 * ROOST_ESCHEMA (stored schema newer than STORE_SCHEMA_VERSION), ROOST_ESTORE
 * (schema key unreadable). Blocks up to the connect + command timeouts. Not
 * required: any call connects on demand. */
int store_open(store_t *s);
/* Closes the connection and frees the handle; nulls *sp. NULL-safe. */
void store_destroy(store_t **sp);

/* Detail of the last failed call on s, valid until the next call on s.
 *   field: ROOST_EINVAL  -> the input field that failed ("name", "username",
 *                           "password", "description", "acl[3].topic",
 *                           "match_by", "value", "groups", "cursor", "limit")
 *          ROOST_ECONFLICT -> "username", "name" (taken) or "rules" (group
 *                           still referenced); NULL otherwise
 *   reason: short English text ("must be 1-255 bytes", "already taken"), or
 *           the connection error text for ROOST_EUNAVAILABLE
 *   ids/n_ids: ROOST_ECONFLICT on group delete: the referencing rule ids;
 *           ROOST_EINVAL on "groups": the group ids that do not exist. */
typedef struct store_error {
    const char *field;
    const char *reason;
    const char *const *ids;
    size_t n_ids;
} store_error_t;
const store_error_t *store_last_error(const store_t *s);

/* The current config version (0 before the first write). */
int store_config_version(store_t *s, int64_t *out);
/* --redis-require-auth: whether the Redis at host:port answers a PING from
 * a connection that did not authenticate. 1 it does (open to anyone who
 * reaches it), 0 it asks for AUTH, ROOST_EUNAVAILABLE when it cannot be
 * asked (not reachable within timeout_ms). */
int store_redis_open_to_all(const char *host, int port, int timeout_ms);
/* The start-up check every service runs with --redis-require-auth: -1 (and
 * an error logged naming the risk) when that Redis answers without AUTH;
 * 0 otherwise (a Redis not reachable yet is logged and not held against
 * the service: it could not be asked). */
int store_check_require_auth(const char *host, int port);

/* ---- clients ----------------------------------------------------------- */

/* Rules, checked by create/update (ROOST_EINVAL + field):
 *   name      1-255 characters of valid UTF-8, no control characters, no
 *             bidirectional controls (U+202A-E, U+2066-9, LRM, RLM, ALM)
 *   username  1-255 bytes of valid UTF-8, no '+', '#', '/', no control
 *             or bidirectional control characters; unique (ROOST_ECONFLICT, field "username")
 *   password  at least 8 characters of valid UTF-8, at most 1024 bytes;
 *             stored only as a crypto_pwhash_str argon2id string
 *   client_ids  at most STORE_CLIENT_IDS_MAX patterns, each 1-255 bytes of
 *             valid UTF-8 without control characters */
#define STORE_CLIENT_IDS_MAX 32
typedef struct store_client {
    char id[STORE_ID_LEN + 1];
    char *name;
    char *auth_type;   /* "username_password", "certificate" or "both" */
    char *username;    /* "" for a certificate-only client */
    bool has_password; /* the hash itself is only given by store_auth_lookup */
    int64_t created_at, updated_at;
} store_client_t;

/* Input of create (all fields required) and update (NULL = unchanged). The
 * password is borrowed: store neither copies nor wipes it (the caller owns
 * and wipes its buffer). */
/* A client certificate's facts (lib/tls/tlscert.h forms): fingerprint
 * "SHA256:" + 64 lowercase hex, unique among clients (ROOST_ECONFLICT, field
 * "certificate"). */
typedef struct store_cert {
    const char *fingerprint, *subject, *issuer, *serial;
    int64_t not_before, not_after; /* unix seconds */
} store_cert_t;

/* A client holds credentials (username and password), a certificate, or
 * both. create: with a cert, username and password may both be NULL (a
 * certificate client); otherwise both are required. update: cert NULL
 * leaves the certificate as it is. */
typedef struct store_client_spec {
    const char *name;
    const char *username;
    const char *password;
    const store_cert_t *cert;
    /* MQTT client ids this client may connect with: patterns, one per line,
     * '*' any run of characters, "%u" the username; "" = any id. NULL: none
     * on create, unchanged on update. */
    const char *client_ids;
} store_client_spec_t;

typedef struct store_client_page {
    store_client_t *items;
    size_t n;
    uint64_t total; /* clients in the store (ignores search) */
    char *next_cursor; /* NULL when this is the last page */
} store_client_page_t;

/* Create: validates, hashes the password (blocks for the argon2 cost),
 * writes atomically. On 0, *out (if out non-NULL) is the new client, caller
 * owns it. ROOST_EINVAL, ROOST_ECONFLICT ("username"), ROOST_EUNAVAILABLE. */
int store_client_create(store_t *s, const store_client_spec_t *spec, store_client_t **out);
/* 0 and *out (caller owns), or ROOST_ENOTFOUND (also for a malformed id). */
int store_client_get(store_t *s, const char *id, store_client_t **out);
/* The client's allowed MQTT client id patterns (store_client_spec_t), *out
 * caller-owned ("" = any). 0, ROOST_ENOTFOUND, ROOST_EUNAVAILABLE. */
int store_client_ids_get(store_t *s, const char *id, char **out);
int store_client_get_by_username(store_t *s, const char *username, store_client_t **out);
/* Changes the non-NULL fields of spec; bumps updated_at and the version even
 * if nothing else changed. *out (optional) is the client after the update. */
int store_client_update(store_t *s, const char *id, const store_client_spec_t *spec,
                        store_client_t **out);
/* Deletes the client and its username index entry. Rules naming the client
 * (match_by client) are left in place and simply stop matching. */
int store_client_delete(store_t *s, const char *id);
/* One page in creation order. cursor NULL or "" starts at the beginning;
 * otherwise pass a previous page's next_cursor (opaque). limit 1..STORE_LIST_MAX.
 * search (NULL or "" = none) keeps clients whose name or username contains it,
 * ASCII case-insensitively. A page may hold fewer than limit items (even 0)
 * while next_cursor is non-NULL: each call examines a bounded number of
 * objects; keep following next_cursor until it is NULL. Caller owns *out. */
int store_client_list(store_t *s, const char *cursor, size_t limit, const char *search,
                      store_client_page_t **out);
void store_client_free(store_client_t **cp);
void store_client_page_free(store_client_page_t **pp);

/* What authd needs for a CONNECT, read atomically in one round trip (one
 * Lua script): ROOST_ENOTFOUND if no client has that username. */
typedef struct store_auth {
    char client_id[STORE_ID_LEN + 1];
    char *name;
    char *password_hash; /* crypto_pwhash_str string, for crypto_pwhash_str_verify; "" none */
    char *cert_fingerprint; /* the client's certificate fingerprint; "" none */
    char *client_ids;    /* allowed MQTT client id patterns, one per line; "" = any */
    int64_t config_version;
} store_auth_t;
int store_auth_lookup(store_t *s, const char *username, store_auth_t **out);
/* The same, for the client holding the certificate with this fingerprint
 * ("SHA256:" + lowercase hex): ROOST_ENOTFOUND if none does. */
int store_auth_lookup_cert(store_t *s, const char *fingerprint, store_auth_t **out);
/* The certificate facts of client id into *out (caller owns: free each
 * string with store_cert_fini). 0, ROOST_ENOTFOUND (no such client), or 1
 * when the client holds no certificate (*out zeroed). */
int store_client_get_cert(store_t *s, const char *id, store_cert_t *out);
void store_cert_fini(store_cert_t *c);
/* Wipes the hash and frees; nulls *ap. */
void store_auth_free(store_auth_t **ap);

/* ---- groups ------------------------------------------------------------ */

typedef enum { STORE_ALLOW = 0, STORE_DENY = 1 } store_permission_t;
typedef enum { STORE_PUBLISH = 1, STORE_SUBSCRIBE = 2, STORE_BOTH = 3 } store_action_t;

/* One ACL entry. topic: an MQTT filter (+, #) in which a level may be
 * exactly "%u" (username) or "%c" (MQTT client id); '%u'/'%c' anywhere else
 * in a level is refused. 1-65535 bytes of valid UTF-8. In a returned group,
 * topic is owned by the group. */
typedef struct store_acl {
    store_permission_t permission;
    store_action_t action;
    const char *topic;
} store_acl_t;

#define STORE_ACL_MAX 256

/* Rules: name 1-255 characters, valid UTF-8, no control characters, unique
 * (ROOST_ECONFLICT "name"); description 0-1024 characters of valid UTF-8
 * (tab and newline allowed, other control characters not); acl 0..STORE_ACL_MAX
 * entries, field "acl[i].topic" / "acl[i].permission" / "acl[i].action". */
typedef struct store_group {
    char id[STORE_ID_LEN + 1];
    char *name;
    char *description;
    store_acl_t *acl;
    size_t n_acl;
    /* inbound limits for the group's members (broker ratelimit.h), 0 = none:
     * PUBLISHes per second (0..STORE_MAX_MSG_RATE) and their bytes per second
     * (0..STORE_MAX_BYTE_RATE); field "max_msg_rate" / "max_byte_rate" */
    int64_t max_msg_rate, max_byte_rate;
    int64_t created_at, updated_at;
} store_group_t;

#define STORE_MAX_MSG_RATE 100000000
#define STORE_MAX_BYTE_RATE 4294967295LL

/* create: name required, description NULL = "", acl/n_acl as given.
 * update: name/description NULL = unchanged; set_acl true replaces the ACL
 * list with acl/n_acl (n_acl may be 0). acl entries are borrowed. */
typedef struct store_group_spec {
    const char *name;
    const char *description;
    const store_acl_t *acl;
    size_t n_acl;
    bool set_acl;
    /* create: the limits (0 none); update: replaced when set_rates */
    int64_t max_msg_rate, max_byte_rate;
    bool set_rates;
} store_group_spec_t;

typedef struct store_group_list {
    store_group_t *items;
    size_t n;
    uint64_t total;     /* list: groups in the store; get_many: n */
    char *next_cursor;  /* list only; NULL on the last page */
    int64_t config_version; /* get_many only: version of the same snapshot */
} store_group_list_t;

int store_group_create(store_t *s, const store_group_spec_t *spec, store_group_t **out);
int store_group_get(store_t *s, const char *id, store_group_t **out);
int store_group_update(store_t *s, const char *id, const store_group_spec_t *spec,
                       store_group_t **out);
/* ROOST_ECONFLICT (field "rules", ids = referencing rule ids) if any rule
 * still names the group; nothing is deleted then. */
int store_group_delete(store_t *s, const char *id);
/* Pages as store_client_list; search matches the name. */
int store_group_list(store_t *s, const char *cursor, size_t limit, const char *search,
                     store_group_list_t **out);
/* The groups with these ids, in the given order, ids that do not exist (or
 * are malformed) skipped, plus the config version, all from one atomic
 * read. n may be 0. Caller owns *out. */
int store_group_get_many(store_t *s, const char *const *ids, size_t n, store_group_list_t **out);
void store_group_free(store_group_t **gp);
void store_group_list_free(store_group_list_t **lp);

/* ---- group rules ------------------------------------------------------- */

typedef enum {
    STORE_MATCH_CLIENT = 0,          /* value: a client id (24 hex) */
    STORE_MATCH_MQTT_CLIENT_ID = 1,  /* value: exact text or '*' wildcards, 1-65535 bytes UTF-8 */
    STORE_MATCH_CERT_FINGERPRINT = 2 /* value: "SHA256:" + 1-128 printable ASCII */
} store_match_by_t;

#define STORE_RULE_GROUPS_MAX 64

/* groups: 1..STORE_RULE_GROUPS_MAX distinct ids, each an existing group
 * (ROOST_EINVAL, field "groups", ids = the missing ones). */
typedef struct store_rule {
    char id[STORE_ID_LEN + 1];
    store_match_by_t match_by;
    char *value;
    char **groups;
    size_t n_groups;
    /* MQTT client ids a client this rule matches may connect with: patterns
     * one per line as a client's (store_client_spec_t client_ids); "" = any */
    char *client_ids;
    int64_t created_at, updated_at;
} store_rule_t;

/* create: all required. update: set_match_by / value non-NULL / set_groups
 * say what changes; the result is validated as a whole (a new match_by must
 * suit the value). */
typedef struct store_rule_spec {
    bool set_match_by;
    store_match_by_t match_by;
    const char *value;
    bool set_groups;
    const char *const *groups;
    size_t n_groups;
    const char *client_ids; /* NULL: "" on create, unchanged on update */
} store_rule_spec_t;

typedef struct store_rule_list {
    store_rule_t *items;
    size_t n;
    uint64_t total;
    char *next_cursor;      /* list only */
    int64_t config_version; /* list_all only: version of the same snapshot */
} store_rule_list_t;

int store_rule_create(store_t *s, const store_rule_spec_t *spec, store_rule_t **out);
int store_rule_get(store_t *s, const char *id, store_rule_t **out);
int store_rule_update(store_t *s, const char *id, const store_rule_spec_t *spec,
                      store_rule_t **out);
int store_rule_delete(store_t *s, const char *id);
/* Pages as store_client_list (no search). */
int store_rule_list(store_t *s, const char *cursor, size_t limit, store_rule_list_t **out);
/* Every rule in creation order plus the config version, one atomic read
 * (authd evaluates all rules per CONNECT; it may cache by version). */
int store_rule_list_all(store_t *s, store_rule_list_t **out);
void store_rule_free(store_rule_t **rp);
void store_rule_list_free(store_rule_list_t **lp);

/* Names used on the wire and in JSON: "allow"/"deny", "publish"/"subscribe"/
 * "both", "client"/"mqtt_client_id"/"certificate_fingerprint". parse: 0 or
 * ROOST_EINVAL. */
const char *store_permission_name(store_permission_t p);
const char *store_action_name(store_action_t a);
const char *store_match_by_name(store_match_by_t m);
int store_permission_parse(const char *s, store_permission_t *out);
int store_action_parse(const char *s, store_action_t *out);
int store_match_by_parse(const char *s, store_match_by_t *out);

#endif
