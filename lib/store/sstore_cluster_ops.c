/* sstore_cluster_ops: the operations whose single-Redis script spans both
 * key families of store/keys.h (or several clients), done on a Redis
 * Cluster as one script per slot:
 *   sub_put / sub_del   the session's subs hash (client slot) and the psubs
 *                       index (global slot): two requests, issued together,
 *                       one callback when both are done (first failure);
 *   session_clear       the session's keys (client slot; the script answers
 *                       the filters it had), then those filters' psubs
 *                       entries (global slot);
 *   lease_take          GET the lease (client slot), EXISTS the previous
 *                       holder's alive key (global), then the take with that
 *                       answer, refused as "changed" if the lease moved
 *                       meanwhile (then all again, 3 times at most);
 *   queue_push          one script per slot of the target sessions (each
 *                       session's sess key, in its slot, says whether it
 *                       takes the message); none while one of their
 *                       primaries is short of replicas (sstore_cluster.c).
 * What a single Redis does atomically is here atomic per slot only: a
 * broker dying between the two halves of sub_put leaves the subscription
 * without its psubs entry (messages queued for it while offline are lost
 * until it subscribes again) or the reverse (harmless: queued, never
 * delivered, dropped by the next clean session).
 */
#include "store/sstore_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* KEYS psubs psubs:ver; ARGV cid filter [qos]: with a qos, sets the entry,
 * without, deletes it; the version moves when the index changed. */
const char SSTORE_LUA_PSUB_SET[] =
    "local m=ARGV[1]..'\\0'..ARGV[2]\n"
    "if ARGV[3] then\n"
    "  if redis.call('HGET',KEYS[1],m)~=ARGV[3] then\n"
    "    redis.call('HSET',KEYS[1],m,ARGV[3]) redis.call('INCR',KEYS[2]) end\n"
    "elseif redis.call('HDEL',KEYS[1],m)==1 then redis.call('INCR',KEYS[2]) end\n"
    "return 1";
/* KEYS sess subs q qm rx2 rel. Deletes them; returns the filters subs had. */
const char SSTORE_LUA_SESS_DROP[] =
    "local f=redis.call('HKEYS',KEYS[2])\n"
    "redis.call('DEL',KEYS[1],KEYS[2],KEYS[3],KEYS[4],KEYS[5],KEYS[6]) return f";
/* KEYS psubs psubs:ver; ARGV cid filter... */
const char SSTORE_LUA_PSUBS_DROP[] =
    "local n=0 for i=2,#ARGV do n=n+redis.call('HDEL',KEYS[1],ARGV[1]..'\\0'..ARGV[i]) end\n"
    "if n>0 then redis.call('INCR',KEYS[2]) end return n";

typedef struct op {
    sstore_t *router;
    size_t pending;   /* requests issued and not finished */
    bool abandoned;   /* a later issue failed: the caller got the error */
    int rc;           /* first failure */
    bool push;        /* queue_push: fn.push with the drops summed */
    size_t dropped;
    union {
        sstore_done_fn done;
        sstore_push_fn push;
        sstore_lease_fn lease;
    } fn;
    void *arg;
    /* lease_take */
    char *cid, *broker, *cred, *old;
    size_t cid_len;
    bool owner_only;
    int tries;
    uint64_t alive;
} op_t;

static op_t *op_new(sstore_t *s, void *arg)
{
    op_t *o = calloc(1, sizeof(*o));
    if (o) {
        o->router = s;
        o->arg = arg;
    }
    return o;
}

static void op_free(op_t *o)
{
    free(o->cid);
    free(o->broker);
    free(o->cred);
    free(o->old);
    free(o);
}

/* Issues q for o: 0, or the error (o is then abandoned once nothing of it
 * is in flight). */
static int op_issue(op_t *o, sstore_req_t *q)
{
    if (!q) {
        o->abandoned = true;
        return -ENOMEM;
    }
    int rc = ss_issue(q);
    if (rc < 0)
        o->abandoned = true;
    else
        o->pending++;
    return rc;
}

/* Returns rc to the caller, freeing o when none of its requests is out. */
static int op_fail_now(op_t *o, int rc)
{
    if (o->pending == 0)
        op_free(o);
    return rc;
}

/* One request of a joined op finished. */
static void join_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    op_t *o = q->arg;
    uint64_t d = 0;
    if (rc == 0 && q->script == SS_QUEUE_PUSH && ss_r_u64(r, &d) < 0)
        rc = ROOST_ESTORE;
    o->dropped += (size_t)d;
    if (rc < 0 && o->rc == 0)
        o->rc = rc;
    if (--o->pending > 0)
        return;
    if (!o->abandoned) {
        if (o->push)
            o->fn.push(o->rc, o->rc == 0 ? o->dropped : 0, o->arg);
        else
            o->fn.done(o->rc, o->arg);
    }
    op_free(o);
}

/* ---- subscriptions -------------------------------------------------------------- */

int ss_cluster_sub(sstore_t *s, const char *cid, size_t cid_len, const char *filter, size_t filter_len,
                   uint64_t value, int qos, sstore_done_fn fn, void *arg)
{
    op_t *o = op_new(s, arg);
    if (!o)
        return -ENOMEM;
    o->fn.done = fn;
    sstore_req_t *h = ss_req_new(s, SS_NONE, 0, join_finish, o);
    if (h) {
        ss_arg_str(h, qos < 0 ? "HDEL" : "HSET");
        ss_ckey(h, "subs:", cid, cid_len);
        ss_arg(h, filter, filter_len);
        if (qos >= 0)
            ss_arg_u64(h, value);
    }
    int rc = op_issue(o, h);
    if (rc < 0)
        return op_fail_now(o, rc);
    sstore_req_t *p = ss_req_new(s, SS_PSUB_SET, 2, join_finish, o);
    if (p) {
        ss_key(p, "psubs", "", 0);
        ss_key(p, "psubs:ver", "", 0);
        ss_arg(p, cid, cid_len);
        ss_arg(p, filter, filter_len);
        if (qos >= 0)
            ss_arg_u64(p, (uint64_t)qos);
    }
    rc = op_issue(o, p);
    return rc < 0 ? op_fail_now(o, rc) : 0;
}

/* ---- session clear -------------------------------------------------------------- */

int ss_psubs_drop(sstore_t *s, const char *cid, size_t cid_len, const redisReply *filters,
                  sstore_finish_fn finish, void *arg)
{
    sstore_req_t *p = ss_req_new(s, SS_PSUBS_DROP, 2, finish, arg);
    if (!p)
        return -ENOMEM;
    ss_key(p, "psubs", "", 0);
    ss_key(p, "psubs:ver", "", 0);
    ss_arg(p, cid, cid_len);
    for (size_t i = 0; i < filters->elements; i++)
        ss_arg(p, filters->element[i]->str, filters->element[i]->len);
    return ss_issue(p) == 0 ? 0 : ROOST_EUNAVAILABLE;
}

static void drop_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    op_t *o = q->arg;
    o->pending--;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY))
        rc = ROOST_ESTORE;
    if (rc == 0 && r->elements > 0) {
        rc = ss_psubs_drop(o->router, o->cid, o->cid_len, r, join_finish, o);
        if (rc == 0) {
            o->pending++;
            return;
        }
    }
    o->fn.done(rc, o->arg);
    op_free(o);
}

int ss_cluster_session_clear(sstore_t *s, const char *cid, size_t cid_len, sstore_done_fn fn, void *arg)
{
    op_t *o = op_new(s, arg);
    if (!o || !(o->cid = malloc(cid_len ? cid_len : 1))) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->cid, cid, cid_len);
    o->cid_len = cid_len;
    o->fn.done = fn;
    sstore_req_t *q = ss_req_new(s, SS_SESS_DROP, 6, drop_finish, o);
    if (q)
        ss_session_keys(q, cid, cid_len);
    int rc = op_issue(o, q);
    return rc < 0 ? op_fail_now(o, rc) : 0;
}

/* ---- leases ------------------------------------------------------------------------ */

static int lease_step(op_t *o);

static void lease_done(op_t *o, int rc, const char *prev, bool alive)
{
    o->fn.lease(rc, prev, alive, o->arg);
    op_free(o);
}

static void take_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    op_t *o = q->arg;
    o->pending--;
    uint64_t alive = 0, refused = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !ss_r_is_str(r->element[0]) ||
                    ss_r_u64(r->element[1], &alive) < 0 || ss_r_u64(r->element[2], &refused) < 0))
        rc = ROOST_ESTORE;
    if (rc == 0 && refused == 2) { /* the lease moved between our reads: again */
        if (++o->tries < 3 && lease_step(o) == 0)
            return;
        rc = ROOST_EUNAVAILABLE;
    }
    if (rc == 0 && refused)
        rc = ROOST_EAUTH_NOT_AUTHORIZED;
    lease_done(o, rc, rc == 0 ? r->element[0]->str : "", rc == 0 && alive);
}

static void take_now(op_t *o)
{
    sstore_req_t *q = ss_req_new(o->router, SS_LEASE_TAKE, 3, take_finish, o);
    if (q) {
        ss_ckey(q, "lease:", o->cid, o->cid_len);
        ss_ckey(q, "leasecred:", o->cid, o->cid_len);
        ss_ckey(q, "sess:", o->cid, o->cid_len);
        ss_arg_str(q, o->broker);
        ss_arg_str(q, ss_prefix(o->router));
        ss_arg_str(q, o->cred);
        ss_arg_str(q, o->owner_only ? "1" : "0");
        ss_arg_u64(q, o->alive);
        ss_arg_str(q, o->old ? o->old : "");
    }
    if (!q || ss_issue(q) < 0) {
        lease_done(o, q ? ROOST_EUNAVAILABLE : -ENOMEM, "", false);
        return;
    }
    o->pending++;
}

static void alive_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    op_t *o = q->arg;
    o->pending--;
    if (rc == 0 && ss_r_u64(r, &o->alive) < 0)
        rc = ROOST_ESTORE;
    if (rc < 0)
        lease_done(o, rc, "", false);
    else
        take_now(o);
}

static void get_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    op_t *o = q->arg;
    o->pending--;
    free(o->old);
    o->old = NULL;
    o->alive = 0;
    if (rc == 0 && r->type != REDIS_REPLY_NIL && !ss_r_is_str(r))
        rc = ROOST_ESTORE;
    if (rc == 0 && r->type != REDIS_REPLY_NIL && !(o->old = strndup(r->str, r->len)))
        rc = -ENOMEM;
    if (rc < 0) {
        lease_done(o, rc, "", false);
        return;
    }
    if (!o->old) {
        take_now(o);
        return;
    }
    sstore_req_t *e = ss_req_new(o->router, SS_NONE, 0, alive_finish, o);
    if (e) {
        ss_arg_str(e, "EXISTS");
        ss_key(e, "broker:", o->old, strlen(o->old));
        ss_cat(e, ":alive", 6);
    }
    if (!e || ss_issue(e) < 0) {
        lease_done(o, e ? ROOST_EUNAVAILABLE : -ENOMEM, "", false);
        return;
    }
    o->pending++;
}

static int lease_step(op_t *o)
{
    sstore_req_t *q = ss_req_new(o->router, SS_NONE, 0, get_finish, o);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, "GET");
    ss_ckey(q, "lease:", o->cid, o->cid_len);
    int rc = ss_issue(q);
    if (rc == 0)
        o->pending++;
    return rc;
}

int ss_cluster_lease_take(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                          const char *credential, bool owner_only, sstore_lease_fn fn, void *arg)
{
    op_t *o = op_new(s, arg);
    if (!o)
        return -ENOMEM;
    o->cid = malloc(cid_len ? cid_len : 1);
    o->broker = strdup(broker_id);
    o->cred = strdup(credential ? credential : "");
    if (!o->cid || !o->broker || !o->cred) {
        op_free(o);
        return -ENOMEM;
    }
    memcpy(o->cid, cid, cid_len);
    o->cid_len = cid_len;
    o->owner_only = owner_only;
    o->fn.lease = fn;
    int rc = lease_step(o);
    if (rc < 0)
        op_free(o);
    return rc;
}

/* ---- queue push ------------------------------------------------------------------- */

typedef struct slot_ix {
    unsigned slot;
    size_t i;
} slot_ix_t;

static int by_slot(const void *a, const void *b)
{
    const slot_ix_t *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

int ss_cluster_queue_push(sstore_t *s, const sstore_msg_t *m, const char *const *cids, const size_t *cid_lens,
                          const uint8_t *qos, size_t n, size_t max_queued, sstore_push_fn fn, void *arg)
{
    slot_ix_t *ix = malloc(n * sizeof(*ix));
    const char **c = malloc(n * sizeof(*c));
    size_t *l = malloc(n * sizeof(*l));
    uint8_t *qs = malloc(n);
    op_t *o = op_new(s, arg);
    int rc = 0;
    if (!ix || !c || !l || !qs || !o) {
        rc = -ENOMEM;
        goto out;
    }
    o->fn.push = fn;
    o->push = true;
    for (size_t i = 0; i < n; i++) {
        ix[i] = (slot_ix_t){ss_ckey_slot(s, "q:", cids[i], cid_lens[i]), i};
        /* nothing is written while one target's primary is short of
         * replicas: the WAIT would fail, and every copy written before it
         * would stay queued (sstore_cluster.c, "Short primaries") */
        if (!ss_cluster_writable(s, ix[i].slot)) {
            rc = ROOST_EUNAVAILABLE;
            goto out;
        }
    }
    qsort(ix, n, sizeof(*ix), by_slot);
    for (size_t a = 0; a < n && rc == 0;) {
        size_t b = a;
        for (; b < n && ix[b].slot == ix[a].slot; b++) {
            c[b - a] = cids[ix[b].i];
            l[b - a] = cid_lens[ix[b].i];
            qs[b - a] = qos[ix[b].i];
        }
        rc = op_issue(o, ss_queue_push_req(s, m, c, l, qs, b - a, max_queued, join_finish, o));
        a = b;
    }
    if (rc < 0)
        rc = op_fail_now(o, rc);
    o = NULL;
out:
    free(o);
    free(ix);
    free(c);
    free(l);
    free(qs);
    return rc;
}
