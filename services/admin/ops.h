/* ops: admin's one operations layer. The HTTP API (http.c) and the ZeroMQ
 * RPC (rpcsrv.c) both turn a request into an ops_req_t and call ops_call;
 * every operation lives here (and in crud.c / explain.c, which implement
 * some of them through the ops_call_t context below).
 *
 * Every write is: validated (doc_check + lib/store's rules), committed
 * atomically through lib/store, audited (store/audit.h, actor = the token),
 * and followed by a ChangeEvent pushed to events.h's queue.
 *
 * Results are the HTTP API's: a status (200, 201, 202, 204, 400, 401, 404,
 * 409, 413, 500, 503) and a JSON document (NULL for 204), with errors as
 * {"error","code","details"}; the RPC reply carries the same pair.
 *
 * Threads: ops_call, ops_authenticate and ops_health may be called from any
 * number of threads at once. Each call borrows one store_t from a pool
 * (store_t is not thread-safe), blocking while all are busy. Calls block on
 * Redis (and on argon2id for client passwords).
 */
#ifndef ROOST_ADMIN_OPS_H
#define ROOST_ADMIN_OPS_H

#include "base/kv.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "fleet.h"
#include "rpc/admin.h"
#include "store/redis_conf.h"
#include "store/store.h"

#define OPS_BODY_MAX (64 * 1024)  /* request body limit, both doors */
#define OPS_DEFAULT_LIMIT 50

typedef struct ops ops_t;

typedef struct ops_config {
    const redis_conf_t *redis; /* borrowed for ops_new */
    store_cost_t cost;
    int pool_size;      /* store handles (one per concurrent caller) */
    fleet_t *fleet;     /* borrowed (outlives ops): overview and instances */
    const uint8_t *tls_seal; /* 32 bytes sealing the stored TLS key (copied), or NULL */
} ops_config_t;

/* Who is calling: the token that authenticated. */
typedef struct ops_actor {
    char id[STORE_ID_LEN + 1];
    char name[256];
} ops_actor_t;

typedef struct ops_req {
    rpc_admin_op_t op;
    const char *id;         /* object id from the path; NULL if none */
    const char *cursor;     /* NULL or "" = first page */
    const char *search;     /* NULL or "" = none */
    int64_t limit;          /* 0 = OPS_DEFAULT_LIMIT; else must be 1..1000 */
    const char *body;       /* JSON text, NULL = no body */
    size_t body_len;
} ops_req_t;

typedef struct ops_res {
    unsigned status;
    json_t *doc;            /* caller owns; NULL for 204 */
} ops_res_t;

/* Copies cfg; events borrowed (outlives ops). Caller owns; NULL on OOM. */
ops_t *ops_new(const ops_config_t *cfg, events_t *events);
void ops_destroy(ops_t **op);

/* First start (see main.c / --help): when no token is stored, stores
 * env_token if non-NULL/non-empty, else creates a random token, writes it to
 * token_file (mode 0600, parent dirs created) and prints it once to stderr.
 * 0, or a negative code (logged). Retries are the caller's business. */
int ops_bootstrap_tokens(ops_t *o, const char *env_token, const char *token_file);

/* Checks a bearer token. 0 and *actor; or a 401/503 result in *res. */
int ops_authenticate(ops_t *o, const char *token, ops_actor_t *actor, ops_res_t *res);

/* Runs one operation for an authenticated actor. Always fills *res. */
void ops_call(ops_t *o, const ops_actor_t *actor, const ops_req_t *req, ops_res_t *res);

/* True when Redis answers. */
bool ops_health(ops_t *o);
/* The bootstrap (ops_bootstrap_tokens) has succeeded: a token exists. Until
 * then /healthz answers 503 (any thread). */
bool ops_tokens_ready(ops_t *o);

/* An error result (for the doors' own refusals: 400 malformed, 413, ...). */
void ops_error(ops_res_t *res, unsigned status, const char *message);

/* ---- for the files implementing operations (crud.c, explain.c) --------- */

typedef struct ops_call {
    ops_t *ops;
    store_t *store;
    const ops_actor_t *actor;
    const ops_req_t *req;
    json_t *body;           /* parsed req->body, or NULL */
    ops_res_t *res;
} ops_call_t;

/* The fleet given in ops_config_t. */
fleet_t *ops_fleet(const ops_t *o);
/* The TLS key seal given in ops_config_t, or NULL. */
const uint8_t *ops_tls_seal(const ops_t *o);
/* Overview and instance operations (status.c). */
void status_ops(ops_call_t *c);
/* The brokers' TLS certificates (certs.c). */
void certs_ops(ops_call_t *c);
/* Bans: list, create (kicks live matches), delete (bans.c). */
void ban_ops(ops_call_t *c);

/* Sets res from a lib/store failure rc (store_last_error gives the field):
 * 400 / 404 / 409 / 503 / 500 with details. */
void ops_store_fail(ops_call_t *c, int rc);
/* Sets res to a 400 naming field. */
void ops_bad_field(ops_call_t *c, const char *field, const char *reason);
/* Audit summaries are "key=value ..." text; every value that comes from a
 * user goes through KV (lib/base/kv.h: quoted and escaped when needed, at
 * most 255 bytes of it), so a name cannot pose as more fields. */
#define OPS_KV_MAX 600
#define OPS_SUMMARY_MAX 1400
#define KV(buf, v) kv_value((buf), sizeof(buf), (v), 255)
/* After a committed write: audit entry + ChangeEvent (kind 0: no event). */
void ops_committed(ops_call_t *c, rpc_change_kind_t kind, rpc_change_op_t op, const char *object_id,
                   const char *username, const char *summary);
/* The page size from req->limit, or 0 after setting a 400. */
size_t ops_limit(ops_call_t *c);

#endif
