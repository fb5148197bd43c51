/* store_priv: what the files of lib/store share and nobody else sees.
 *
 * lib/store is one module (prefix store_) split by object kind to keep files
 * small: store.c (handle, connection, script running, errors, auth lookup),
 * store_scripts.c (the Lua texts),
 * store_valid.c (field rules), store_kind.c (what the object kinds share),
 * store_client.c, store_group.c, store_rule.c.
 * Only these files include hiredis.
 */
#ifndef ROOST_STORE_PRIV_H
#define ROOST_STORE_PRIV_H

#include <hiredis/hiredis.h>

#include "store/keys.h"
#include "store/redis_auth.h"
#include "store/slot.h"
#include "store/store.h"

/* Longest global-family prefix, P "{g}:" (store/keys.h); store_prefix(). */
#define STORE_PREFIX_MAX (STORE_KEYS_PREFIX_MAX + STORE_KEYS_GTAG_LEN)
#define STORE_MEMBER_LEN (13 + 1 + STORE_ID_LEN) /* "<13 digits>:<id>" */
#define STORE_SCAN_BUDGET 5000 /* objects one list call examines at most */

/* Every script, by index into store_scripts (store_scripts.c). */
enum store_script {
    SC_LIST,
    SC_CLIENT_CREATE,
    SC_CLIENT_UPDATE,
    SC_CLIENT_DELETE,
    SC_CLIENT_BY_USERNAME,
    SC_AUTH_LOOKUP,
    SC_AUTH_LOOKUP_CERT,
    SC_GROUP_CREATE,
    SC_GROUP_UPDATE,
    SC_GROUP_DELETE,
    SC_GROUP_MANY,
    SC_RULE_CREATE,
    SC_RULE_UPDATE,
    SC_RULE_DELETE,
    SC_RULE_ALL,
    SC_PIPE_PUT, /* pipelines.c */
    SC_PIPE_DEL,
    SC_MAP_PUT,
    SC_MAP_DEL,
    SC_ROUTES_ALL,
    SC_PQ_ACK, /* pipeq.c */
    SC_PQ_DEAD,
    SC_COUNT
};

/* Script texts, by enum store_script (store_scripts.c). */
extern const char *const store_scripts[SC_COUNT];
/* Script texts defined in pipelines.c. */
extern const char STORE_LUA_PIPE_PUT[], STORE_LUA_PIPE_DEL[], STORE_LUA_MAP_PUT[], STORE_LUA_MAP_DEL[],
    STORE_LUA_ROUTES_ALL[], STORE_LUA_PQ_ACK[], STORE_LUA_PQ_DEAD[]; /* and pipeq.c */

/* Status a script puts first in its reply array. */
typedef enum { SR_OK, SR_NOTFOUND, SR_CONFLICT, SR_INVALID, SR_RETRY } store_sr_t;

/* Field lists each kind's hash is read with (HMGET order). */
#define STORE_CLIENT_FIELDS "'id','name','auth_type','username','created_at','updated_at'"
#define STORE_GROUP_FIELDS "'id','name','description','acl','created_at','updated_at','rates'"
#define STORE_GROUP_N_FIELDS 7
#define STORE_RULE_FIELDS "'id','match_by','value','groups','created_at','updated_at','client_ids'"
#define STORE_RULE_N_FIELDS 7
#define STORE_N_FIELDS 6
#define STORE_MAX_FIELDS 7 /* the most fields any kind is read with */

/* ---- store.c ---- */

/* The global family's prefix P "{g}:": what every key of the sync modules
 * starts with, and what scripts get as ARGV[1]. */
const char *store_prefix(const store_t *s);
/* P as configured (store_migrate.c). */
const char *store_base_prefix(const store_t *s);
struct store_cluster **store_cluster_slot(store_t *s);
const redis_auth_t *store_auth(const store_t *s);
int store_connect_ms(const store_t *s);
int store_command_ms(const store_t *s);
/* The live link, or NULL. */
redisContext *store_link(store_t *s);

/* ---- store_cluster.c: the handle on a Redis Cluster ---- */
/* The primary serving slot(P{g}:) (the map is read first when stale). 0,
 * or store_fail(ROOST_EUNAVAILABLE) when no node gave a map. */
int store_cluster_target(store_t *s, const char **host, int *port);
/* The link failed: read the map again before the next connect. */
void store_cluster_link_failed(store_t *s);
/* Whether error reply r is a redirection (rd filled); MOVED marks the map
 * stale. A script without keys on a node that lost the {g} slot ("non
 * local key") counts as MOVED. SLOT_REDIR_NONE outside cluster mode. */
slot_redir_kind_t store_cluster_redirect(store_t *s, const redisReply *r, slot_redir_t *rd);
/* ASKING + the command on rd's node (own connection); a command that
 * writes is WAITed for there (store_wait_on_link) before the link closes.
 * 0 and *out, or store_fail(ROOST_EUNAVAILABLE). */
int store_cluster_ask(store_t *s, const slot_redir_t *rd, bool write, int argc, const char **argv,
                      const size_t *lens, redisReply **out);
void store_cluster_free(store_t *s);

/* ---- store_wait.c: WAIT behind a request's writes (store.h) ---- */
typedef struct store_wait_state {
    int min_replicas, timeout_ms; /* store_set_wait; 0: off */
    bool armed;       /* between store_wait_begin and store_wait_writes */
    bool dirty;       /* a write went out on the live link since then */
    bool unwaited;    /* inside store_cmd_unwaited: writes are not noted */
    int lost;         /* a link carrying such writes was left unconfirmed: 0 or ROOST_EUNAVAILABLE */
    char reason[200]; /* why, for store_last_error */
} store_wait_state_t;
store_wait_state_t *store_wait_state(store_t *s);
/* Whether a command (argv[0] its name) may write: any command not known
 * to only read (so an unknown one is waited for). */
bool store_cmd_writes(int argc, const char *const *argv);
/* Whether a script writes (the read-only ones: lists, lookups). */
bool store_script_writes(enum store_script sc);
/* A command that writes (write) is going out on the live link. */
void store_wait_note(store_t *s, bool write);
/* store_cmd for a command whose writes, if any, need no replica's
 * confirmation, so a request that runs it and nothing else sends no WAIT
 * (and a read keeps working while a replica is down): a read the
 * classifier cannot tell by its name (EVAL of a script that only reads),
 * or housekeeping that the next read does again should a failover lose it
 * (dropping expired records). */
int store_cmd_unwaited(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out);
/* The live link ctx is being left (store.c drop_conn): its writes are
 * WAITed for now, or counted as lost when it is broken. */
void store_wait_leaving(store_t *s, redisContext *ctx);
/* WAIT on ctx (a link that just ran a write: the ASK target's) with the
 * handle's settings; a short answer is counted as lost. No-op when off. */
void store_wait_on_link(store_t *s, redisContext *ctx);

/* ---- store_migrate.c ---- */
/* Renames a schema-1 store (no hash tags) under P to the schema-2 layout
 * of store/keys.h on the live connection, when P "schema" exists and P "{g}:schema" does
 * not. 0 (nothing to do, or done) or store_fail(ROOST_ESTORE /
 * ROOST_EUNAVAILABLE). Single Redis only; the services of the old version
 * must be stopped (a key written behind the scan would be missed). */
int store_migrate_v1(store_t *s);
/* One command on the live connection, no reconnect (store.c): 0 and *out,
 * or store_fail with Redis's error text as the reason. */
int store_raw_cmd(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out);
const store_cost_t *store_cost(const store_t *s);
/* Clears the last error. Every public call starts with it. */
void store_err_reset(store_t *s);
/* Records field/reason (both static strings or NULL) and returns rc. */
int store_fail(store_t *s, int rc, const char *field, const char *reason);
/* "acl[i].<kind>" in a per-handle buffer valid until the next call. */
const char *store_acl_field(store_t *s, size_t i, const char *kind);
/* Copies n ids from reply strings into the last error. -ENOMEM or 0. */
int store_err_set_ids(store_t *s, redisReply **elems, size_t n);

/* Runs one command (connecting first if needed). 0 and *out (caller frees
 * with freeReplyObject); ROOST_EUNAVAILABLE on I/O (connection dropped);
 * ROOST_ESTORE on an error reply. */
int store_cmd(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out);
/* Runs a script with the prefix as ARGV[1] followed by argv. 0 and *out
 * (an array whose first element is a status word) and *sr, or as store_cmd. */
int store_eval(store_t *s, enum store_script sc, int argc, const char **argv, const size_t *lens,
               redisReply **out, store_sr_t *sr);

/* Current time, ms since the epoch. */
int64_t store_now_ms(void);
/* A new random id (24 hex + NUL). */
void store_new_id(char out[STORE_ID_LEN + 1]);
/* "<13-digit created_at>:<id>" into out (STORE_MEMBER_LEN + 1 bytes). */
void store_member(char *out, int64_t created_at, const char *id);

/* Reply helpers: NULL unless r is a non-nil string. */
const char *store_rstr(const redisReply *r);
/* Parses a decimal integer string reply or an integer reply. */
int store_ri64(const redisReply *r, int64_t *out);
/* Duplicates a string reply into *out. ROOST_ESTORE if not a string. */
int store_rdup(const redisReply *r, char **out);

/* ---- store_valid.c: 0 or store_fail(ROOST_EINVAL, field, reason) ---- */

bool store_id_ok(const char *id);
bool store_cursor_ok(const char *cursor);
int store_check_name(store_t *s, const char *field, const char *v);
int store_check_username(store_t *s, const char *v);
int store_check_password(store_t *s, const char *v);
/* Newline-separated client id patterns (store.h "client_ids"); "" is valid. */
int store_check_client_ids(store_t *s, const char *v);
int store_check_description(store_t *s, const char *v);
int store_check_acl(store_t *s, const store_acl_t *acl, size_t n);
int store_check_rule_value(store_t *s, store_match_by_t m, const char *v);
int store_check_rule_groups(store_t *s, const char *const *groups, size_t n);
int store_check_page(store_t *s, const char *cursor, size_t limit);

/* ---- generic list (store.c) ---- */

/* Runs SC_LIST over the zset `kind`s ("clients") with objects at
 * "<kind_obj>:<id>" ("client"). On 0, *out is the reply: [status, next
 * cursor or "", total, item...], each item an HMGET array of fields. */
int store_list_raw(store_t *s, const char *zset, const char *obj, const char *cursor,
                   size_t limit, const char *search, int n_search, const char *const *fields,
                   int n_fields, redisReply **out);

/* ---- object kinds (store_kind.c) ---- */

/* What a create script needs to place a new object. */
typedef struct store_stamp {
    char id[STORE_ID_LEN + 1];          /* a new random id */
    char now[24];                       /* created_at, decimal ms */
    char member[STORE_MEMBER_LEN + 1];  /* its member in the kind's zset */
} store_stamp_t;

/* Fills st for an object created now. */
void store_stamp_new(store_stamp_t *st);

/* HMGETs the n `fields` (at most STORE_MAX_FIELDS) of "<prefix><obj>:<id>" ("client").
 * 0 and *out (caller frees with freeReplyObject; it still needs checking
 * as a record), store_fail(ROOST_ENOTFOUND) for a malformed id or a missing
 * record, or as store_cmd. Does not reset the last error. */
int store_get_record(store_t *s, const char *obj, const char *id, const char *const *fields,
                     int n, redisReply **out);

/* A public *_delete whose script answers OK or NOTFOUND only: resets the
 * last error, runs `sc` with the id. 0, ROOST_ENOTFOUND, ROOST_ESTORE or as
 * store_eval. */
int store_delete_id(store_t *s, enum store_script sc, const char *id);

/* A *_delete whose script may answer CONFLICT with the referencing ids
 * (group <- rules, pipeline <- mappings): as store_delete_id, plus
 * ROOST_ECONFLICT with field/reason and the ids in the last error. */
int store_delete_refd(store_t *s, enum store_script sc, const char *id, const char *field,
                      const char *reason);
/* GET <prefix><name> as an integer (0 when absent). Resets the last error. */
int store_get_i64(store_t *s, const char *name, int64_t *out);

/* Reads the next cursor and total of a store_list_raw reply. 0 (*next_cursor
 * is set, caller owns the result, only when there is a next page),
 * store_fail(ROOST_ESTORE) or -ENOMEM. */
int store_list_head(store_t *s, const redisReply *r, char **next_cursor, uint64_t *total);

#endif
