/* sstore: the handle, the hiredis-to-loop adapter, connect / reconnect with
 * backoff, script loading, and request plumbing (issue, finish, NOSCRIPT
 * fallback; building a request is sstore_args.c). The operations themselves
 * are in sstore_ops.c. See sstore.h for the contract and the key layout.
 *
 * Connection life: sstore_start -> connect (non-blocking) -> on connect, one
 * SCRIPT LOAD per script, pipelined -> when the last one answers the handle
 * is "connected" (calls accepted, on_state(true)). Any failure (connect
 * refused, I/O error, EOF, a stalled link) frees the hiredis context, which
 * finishes every request in flight with ROOST_EUNAVAILABLE, reports
 * on_state(false) if true was reported, and arms a reconnect timer (100 ms,
 * doubling to 2 s, reset on success).
 */
#include "store/sstore_priv.h"
#include "store/slot.h"
#include "store/keys.h"
#include "store/redis_auth.h"
#include "store/sentinel.h"
#include "store/ssentinel.h"
#include "store/resp.h"
#include "store/ss_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 2000u
/* With Sentinels a reconnect asks them first: try often, so a promoted
 * replica is used within this of the Sentinels naming it (while they
 * answer; when none did, the usual backoff up to BACKOFF_MAX_MS). */
#define BACKOFF_MAX_SENTINEL_MS 250u
/* Per Sentinel asked (ssentinel.h: on the loop, never blocking it). */
#define SENTINEL_TIMEOUT_MS 250
#define WATCHDOG_MS 1000u
/* A link with replies outstanding and none arriving for this long is
 * considered dead (hiredis async has no command timeout of its own). */
#define STALL_MS 10000u
#define CONN_TTL_DEFAULT_MS 30000u

struct sstore {
    loop_t *loop;
    char *host;
    int port;
    char *prefix;         /* the global family's prefix, P "{g}:" (store/keys.h) */
    char *base;           /* P as configured: per-client keys */
    void (*on_state)(bool connected, void *arg);
    void *state_arg;
    redisAsyncContext *ac;
    ss_io_t io;           /* ac on the loop */
    bool ready;           /* scripts loaded: calls are accepted */
    bool reported;        /* on_state(true) was the last report */
    bool started;
    int loading;          /* SCRIPT LOAD replies still expected */
    uint64_t backoff_ms;
    uint64_t retry_timer;
    uint64_t watchdog_timer;
    uint64_t kick_timer;  /* forces a drop from a safe point */
    bool kicked;          /* a drop is pending: never become ready */
    size_t inflight;      /* requests issued and not finished */
    uint64_t last_progress;
    int retrying;         /* NOSCRIPT retries in flight (barrier ordering) */
    uint64_t conn_ttl_ms;
    char sha[SS_COUNT][41];
    redis_auth_t auth;
    void (*on_refused)(const char *reply, void *arg);
    void *refused_arg;
    struct ss_pipe_batch *pipe; /* appends not yet sent (sstore_pipe.c) */
    struct ss_wait *wait;       /* WAIT for replicas (sstore_wait.c) */
    ssentinel_t *sentinel;      /* NULL: host:port as given */
    bool resolving;             /* an ask for the next link's address is under way */
    char at_host[256];          /* the address of the current link */
    int at_port;
    bool unresolved;            /* the last ask found no Sentinel answering */
    struct ss_cluster *cluster; /* a router over a Redis Cluster (sstore_cluster.c) */
    sstore_t *router;           /* a child of that router: the handle of one primary */
};

static void schedule_retry(sstore_t *s);
static void link_lost(sstore_t *s);

/* ---- small helpers ------------------------------------------------------- */

const char *ss_prefix(const sstore_t *s) { return s->prefix; }
const char *ss_base(const sstore_t *s) { return s->base; }
const redis_auth_t *ss_auth(const sstore_t *s) { return &s->auth; }
struct ss_cluster **ss_cluster_slot(sstore_t *s) { return &s->cluster; }
sstore_t *ss_child_router(const sstore_t *s) { return s->router; }
struct ss_pipe_batch **ss_pipe_slot(sstore_t *s) { return &s->pipe; }
struct ss_wait **ss_wait_slot(sstore_t *s) { return &s->wait; }
loop_t *ss_loop(sstore_t *s) { return s->loop; }
uint64_t ss_conn_ttl(const sstore_t *s) { return s->conn_ttl_ms; }
void ss_set_conn_ttl(sstore_t *s, uint64_t ttl_ms) { s->conn_ttl_ms = ttl_ms; }

bool ss_r_is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

int ss_r_u64(const redisReply *r, uint64_t *out)
{
    if (r->type == REDIS_REPLY_NIL) {
        *out = 0;
        return 0;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0)
            return -1;
        *out = (uint64_t)r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(r->str[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static uint64_t kick_fire(loop_t *l, void *arg)
{
    (void)l;
    sstore_t *s = arg;
    s->kick_timer = 0;
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        redisAsyncFree(ac); /* finishes requests with NULL replies */
        link_lost(s);       /* onDisconnect is skipped before connect */
    }
    return 0;
}

/* Drops the link at the next timer turn: never free the context from inside
 * a hiredis hook or callback. */
static void kick(sstore_t *s)
{
    s->ready = false;
    s->kicked = true;
    if (!s->kick_timer)
        s->kick_timer = loop_add_timer(s->loop, 0, kick_fire, s);
}

static void broken(void *owner) { kick(owner); }

/* ---- connection ----------------------------------------------------------- */

static void report(sstore_t *s, bool up)
{
    if (s->reported == up)
        return;
    s->reported = up;
    if (s->on_state)
        s->on_state(up, s->state_arg);
}

void ss_report(sstore_t *s, bool up) { report(s, up); }

void ss_child_init(sstore_t *child, sstore_t *router)
{
    child->router = router;
    redis_auth_set(&child->auth, router->auth.user, router->auth.pass);
    child->on_refused = router->on_refused;
    child->refused_arg = router->refused_arg;
}

/* The context is gone or going (hiredis frees it after this returns, or it
 * was freed by us). Idempotent. */
static void link_lost(sstore_t *s)
{
    if (!s->ac)
        return;
    s->ac = NULL;
    s->ready = false;
    s->kicked = false;
    s->loading = 0;
    if (s->kick_timer) {
        loop_del_timer(s->loop, s->kick_timer);
        s->kick_timer = 0;
    }
    schedule_retry(s);
    report(s, false);
}

/* Error replies that say "not now" rather than "wrong": Redis loading its
 * data after a restart, busy with a long script, a replica that lost its
 * master or refuses writes (a failover in progress), a cluster that cannot
 * serve the slot just now (slot_busy: TRYAGAIN, CLUSTERDOWN). The caller
 * gets ROOST_EUNAVAILABLE (a QoS 1/2 PUBLISH is not acknowledged and comes
 * again; a CONNECT gets CONNACK 3), never ROOST_ESTORE. */
static bool is_transient(const redisReply *r)
{
    static const char *const words[] = {"LOADING", "BUSY", "MASTERDOWN", "READONLY"};
    if (r->type != REDIS_REPLY_ERROR || !r->str)
        return false;
    if (slot_busy(r->str, r->len))
        return true;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (strncmp(r->str, words[i], n) == 0 && (r->str[n] == ' ' || r->str[n] == '\0'))
            return true;
    }
    return false;
}

/* Redis refused this link's setup: tell the owner, drop it, retry later
 * (backoff up to 2 s) in case the credentials or the ACL change. */
static void refused(sstore_t *s, const redisReply *r)
{
    if (s->on_refused)
        s->on_refused(r->str ? r->str : "error reply", s->refused_arg);
    kick(s);
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    sstore_t *s = ac->data;
    redisReply *r = reply;
    intptr_t i = (intptr_t)priv;
    if (!r) {
        s->ready = false;
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && redis_auth_refused(r->str)) {
        if (!s->kicked)
            refused(s, r);
        return;
    }
    if (is_transient(r)) { /* e.g. still loading its data: try again later */
        kick(s);
        return;
    }
    /* A script Redis refused stays without a sha and runs by EVAL (whose
     * error the caller then sees as ROOST_ESTORE). */
    if (r->type == REDIS_REPLY_STRING && r->len == 40)
        memcpy(s->sha[i], r->str, 41);
    s->last_progress = loop_now(s->loop);
    if (--s->loading == 0 && s->ac == ac && !s->kicked) {
        s->ready = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        report(s, true);
    }
}

static void load_scripts(sstore_t *s, redisAsyncContext *ac)
{
    s->loading = SS_COUNT;
    for (intptr_t i = 0; i < SS_COUNT; i++) {
        s->sha[i][0] = '\0';
        const char *argv[] = {"SCRIPT", "LOAD", sstore_scripts[i]};
        if (redisAsyncCommandArgv(ac, on_script_loaded, (void *)i, 3, argv, NULL) != REDIS_OK) {
            kick(s);
            return;
        }
    }
}

/* With Sentinels: the node they named must say it is the primary. */
static void on_role(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    sstore_t *s = ac->data;
    if (!reply || s->ac != ac || s->kicked)
        return;
    s->last_progress = loop_now(s->loop);
    if (sentinel_role_is_master(reply))
        load_scripts(s, ac);
    else
        kick(s); /* a replica, or not yet promoted: ask the Sentinels again */
}

/* The link is authenticated: check the role (Sentinel) then load scripts. */
static void setup(sstore_t *s, redisAsyncContext *ac)
{
    if (!s->sentinel) {
        load_scripts(s, ac);
        return;
    }
    const char *argv[] = {"ROLE"};
    s->loading = 1; /* the watchdog drops a link whose ROLE never answers */
    if (redisAsyncCommandArgv(ac, on_role, NULL, 1, argv, NULL) != REDIS_OK)
        kick(s);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    sstore_t *s = ac->data;
    redisReply *r = reply;
    if (!r || s->ac != ac || s->kicked)
        return; /* link lost: link_lost reset the state */
    s->loading = 0;
    s->last_progress = loop_now(s->loop);
    if (r->type == REDIS_REPLY_ERROR) {
        if (is_transient(r))
            kick(s);
        else
            refused(s, r);
        return;
    }
    setup(s, ac);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    sstore_t *s = cac->data;
    redisAsyncContext *ac = s->ac;
    if (status != REDIS_OK) {
        link_lost(s); /* hiredis frees the context after this */
        return;
    }
    s->last_progress = loop_now(s->loop);
    const char *argv[3];
    int argc = redis_auth_argv(&s->auth, argv);
    if (!argc) {
        setup(s, ac);
        return;
    }
    s->loading = 1; /* the watchdog drops a link whose AUTH never answers */
    if (redisAsyncCommandArgv(ac, on_auth, NULL, argc, argv, NULL) != REDIS_OK)
        kick(s);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    (void)status;
    link_lost(cac->data);
}

/* Connects to at_host:at_port. 0, or -1 when the attempt failed at once. */
static int connect_addr(sstore_t *s)
{
    s->ac = ss_io_connect(&s->io, s->at_host, s->at_port, s, on_connect, on_disconnect);
    return s->ac ? 0 : -1;
}

/* The address to use for a Sentinel's answer host:*port: a failover
 * announced since (+switch-master, sentinel_outranks) wins over it. */
static const char *fresher(sstore_t *s, const char *host, int *port)
{
    int to_port;
    const char *to = sentinel_outranks(ssentinel_list(s->sentinel), host, *port, loop_now(s->loop), &to_port);
    if (!to)
        return host;
    log_warn("sentinel_stale_answer", "answer=%s:%d switched_to=%s:%d detail=\"a failover was announced since: "
             "the announced primary is used\"", host, *port, to, to_port);
    *port = to_port;
    return to;
}

/* The Sentinels' answer for the next link (ssentinel_ask from connect_now). */
static void on_resolved(int rc, const char *host, int port, void *arg)
{
    sstore_t *s = arg;
    s->resolving = false;
    s->unresolved = rc < 0; /* none answered: the longer backoff */
    if (rc == 0) {
        host = fresher(s, host, &port);
        snprintf(s->at_host, sizeof(s->at_host), "%s", host);
        s->at_port = port;
        if (connect_addr(s) == 0)
            return;
    }
    schedule_retry(s);
}

/* 0 (connecting, or asking the Sentinels first: the link, or the retry,
 * follows from their answer), or -1 when the attempt failed at once (the
 * caller retries later). */
static int connect_now(sstore_t *s)
{
    if (!s->sentinel)
        return connect_addr(s);
    if (s->resolving)
        return 0;
    /* replaces a re-ask of the live link under way: that link is gone */
    if (ssentinel_ask(s->sentinel, SENTINEL_TIMEOUT_MS, on_resolved, s) < 0)
        return -1;
    s->resolving = true;
    return 0;
}

/* A re-ask of the live link (the watchdog, once a second). */
static void on_rechecked(int rc, const char *host, int port, void *arg)
{
    sstore_t *s = arg;
    if (rc < 0) /* none answered: the link keeps working; next ask later */
        sentinel_recheck_failed(ssentinel_list(s->sentinel), loop_now(s->loop));
    else if (s->ac && (host = fresher(s, host, &port)) && (port != s->at_port || strcmp(host, s->at_host) != 0))
        kick(s); /* a primary still reachable but no longer the one they name */
}

/* A Sentinel announced a failover (+switch-master): leave the old primary
 * now rather than at the next re-ask or error. */
static void on_switch(const char *host, int port, void *arg)
{
    sstore_t *s = arg;
    /* an ask under way, or the next few, may still name the old primary */
    sentinel_note_switch(ssentinel_list(s->sentinel), host, port, loop_now(s->loop));
    if (s->ac) {
        if (port != s->at_port || strcmp(host, s->at_host) != 0)
            kick(s); /* the retry asks them again, and checks ROLE there */
        return;
    }
    if (s->resolving || !s->retry_timer)
        return; /* an ask is under way, or the store is stopping */
    loop_del_timer(s->loop, s->retry_timer); /* waiting out a backoff: try now */
    s->retry_timer = 0;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (connect_now(s) < 0)
        schedule_retry(s);
}

/* The delay before the next attempt; doubles the one after it. */
static uint64_t next_backoff(sstore_t *s)
{
    uint64_t d = s->backoff_ms;
    uint64_t max = s->sentinel && !s->unresolved ? BACKOFF_MAX_SENTINEL_MS : BACKOFF_MAX_MS;
    if (d > max)
        d = max;
    s->backoff_ms = d * 2 > max ? max : d * 2;
    return d;
}

static uint64_t retry_fire(loop_t *l, void *arg)
{
    (void)l;
    sstore_t *s = arg;
    if (s->ac || connect_now(s) == 0) {
        s->retry_timer = 0;
        return 0;
    }
    return next_backoff(s);
}

static void schedule_retry(sstore_t *s)
{
    if (s->retry_timer || !s->started)
        return;
    s->retry_timer = loop_add_timer(s->loop, next_backoff(s), retry_fire, s);
}

static uint64_t watchdog_fire(loop_t *l, void *arg)
{
    sstore_t *s = arg;
    bool waiting = s->inflight > 0 || s->loading > 0;
    if (s->ac && waiting && loop_now(l) - s->last_progress > STALL_MS)
        kick(s);
    /* a primary still reachable but no longer the one the Sentinels name */
    if (s->sentinel && s->ready && !ssentinel_asking(s->sentinel) &&
        sentinel_recheck_due(ssentinel_list(s->sentinel), loop_now(l)))
        ssentinel_ask(s->sentinel, SENTINEL_TIMEOUT_MS, on_rechecked, s);
    if (!s->ac && !s->retry_timer && !s->resolving)
        schedule_retry(s); /* e.g. the timer could not be added on OOM */
    return WATCHDOG_MS;
}

sstore_t *sstore_new(loop_t *loop, const char *host, int port, const char *prefix)
{
    sstore_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    s->port = port;
    s->host = strdup(host ? host : "127.0.0.1");
    s->base = strdup(prefix ? prefix : "roost:");
    s->prefix = malloc(STORE_KEYS_PREFIX_MAX + STORE_KEYS_GTAG_LEN + 1);
    if (!s->host || !s->base || !s->prefix ||
        !store_keys_global(s->prefix, STORE_KEYS_PREFIX_MAX + STORE_KEYS_GTAG_LEN + 1, s->base)) {
        sstore_destroy(&s);
        return NULL;
    }
    snprintf(s->at_host, sizeof(s->at_host), "%s", s->host);
    s->at_port = port;
    ss_io_init(&s->io, loop, broken, s);
    s->backoff_ms = BACKOFF_MIN_MS;
    s->conn_ttl_ms = CONN_TTL_DEFAULT_MS;
    return s;
}

int sstore_set_auth(sstore_t *s, const char *user, const char *password)
{
    return redis_auth_set(&s->auth, user, password);
}

int sstore_set_sentinel(sstore_t *s, const store_sentinel_conf_t *sc)
{
    sentinel_t *list = NULL;
    int rc = sentinel_set(&list, sc);
    if (rc < 0)
        return rc;
    ssentinel_free(&s->sentinel);
    if (!list)
        return 0;
    s->sentinel = ssentinel_new(s->loop, &list);
    return s->sentinel ? 0 : -ENOMEM;
}

const char *sstore_address(const sstore_t *s, int *port)
{
    *port = s->at_port;
    return s->at_host;
}

void sstore_on_refused(sstore_t *s, void (*fn)(const char *reply, void *arg), void *arg)
{
    s->on_refused = fn;
    s->refused_arg = arg;
}

int sstore_start(sstore_t *s, void (*on_state)(bool connected, void *arg), void *arg)
{
    if (s->started)
        return -EALREADY;
    if (store_keys_prefix_error(s->base))
        return ROOST_EINVAL; /* store/keys.h: at most 64 bytes, no '{' '}' */
    s->on_state = on_state;
    s->state_arg = arg;
    if (s->cluster) {
        s->started = true;
        return ss_cluster_start(s);
    }
    s->watchdog_timer = loop_add_timer(s->loop, WATCHDOG_MS, watchdog_fire, s);
    if (!s->watchdog_timer)
        return -ENOMEM;
    s->started = true;
    s->last_progress = loop_now(s->loop);
    if (s->sentinel && ssentinel_watch(s->sentinel, on_switch, s) < 0)
        return -EALREADY;
    if (connect_now(s) < 0)
        schedule_retry(s);
    return 0;
}

void sstore_destroy(sstore_t **sp)
{
    sstore_t *s = *sp;
    if (!s)
        return;
    s->started = false; /* no reconnect from link_lost */
    s->on_state = NULL;
    ss_pipe_fini(s);
    ss_wait_fini(s);
    ss_cluster_fini(s);
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        redisAsyncFree(ac); /* pending requests finish with EUNAVAILABLE */
        link_lost(s);
    }
    if (s->retry_timer)
        loop_del_timer(s->loop, s->retry_timer);
    if (s->watchdog_timer)
        loop_del_timer(s->loop, s->watchdog_timer);
    if (s->kick_timer)
        loop_del_timer(s->loop, s->kick_timer);
    redis_auth_clear(&s->auth);
    ssentinel_free(&s->sentinel);
    free(s->host);
    free(s->prefix);
    free(s->base);
    free(s);
    *sp = NULL;
}

bool sstore_connected(const sstore_t *s)
{
    return s && (s->cluster ? ss_cluster_ready(s) : s->ready && s->ac);
}

/* ---- requests --------------------------------------------------------------- */

static void req_free_args(sstore_req_t *q)
{
    free(q->off);
    free(q->len);
    free(q->buf);
    q->off = q->len = NULL;
    q->buf = NULL;
}

static void req_free(sstore_req_t *q)
{
    req_free_args(q);
    free(q);
}

void ss_req_discard(sstore_req_t *q)
{
    req_free(q);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Hands q's command to hiredis. 0 or ROOST_EUNAVAILABLE / -ENOMEM (q kept). */
static int send_req(sstore_req_t *q, bool eval)
{
    sstore_t *s = q->s;
    const char **argv = malloc((size_t)q->argc * sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    for (int i = 0; i < q->argc; i++)
        argv[i] = q->buf ? q->buf + q->off[i] : "";
    size_t *lens = q->len;
    size_t l0 = 0, l1 = 0;
    if (q->script != SS_NONE) {
        l0 = lens[0];
        l1 = lens[1];
        eval = eval || !s->sha[q->script][0];
        argv[0] = eval ? "EVAL" : "EVALSHA";
        argv[1] = eval ? sstore_scripts[q->script] : s->sha[q->script];
        lens[0] = strlen(argv[0]);
        lens[1] = strlen(argv[1]);
    }
    size_t n = 0;
    char *cmd = resp_format(q->argc, argv, lens, &n); /* (hiredis's own formatting is slow, resp.h) */
    bool oom = !cmd;
    int rc = cmd ? redisAsyncFormattedCommand(s->ac, on_reply, q, cmd, n) : REDIS_ERR;
    free(cmd);
    if (q->script != SS_NONE) {
        lens[0] = l0;
        lens[1] = l1;
    }
    free(argv);
    return oom ? -ENOMEM : rc == REDIS_OK ? 0 : ROOST_EUNAVAILABLE;
}

int ss_resend(sstore_req_t *q, bool asking)
{
    sstore_t *s = q->s;
    if (asking && redisAsyncCommand(s->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return ROOST_EUNAVAILABLE;
    int rc = send_req(q, false);
    if (rc == 0)
        s->inflight++;
    return rc;
}

int ss_issue(sstore_req_t *q)
{
    sstore_t *s = q->s;
    if (s->pipe)
        ss_pipe_flush(s, q); /* appends batched so far go first: replies stay in issue order */
    if (s->cluster)
        return ss_cluster_issue(q); /* to the child serving its slot */
    int rc = q->oom ? -ENOMEM : !sstore_connected(s) ? ROOST_EUNAVAILABLE : 0;
    if (rc == 0)
        rc = send_req(q, false);
    if (rc < 0) {
        req_free(q);
        return rc;
    }
    if (s->inflight++ == 0)
        s->last_progress = loop_now(s->loop);
    if (q->script == SS_NONE && !s->router)
        req_free_args(q); /* only scripts (and, in a cluster, redirected requests) are re-sent */
    return 0;
}

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    sstore_req_t *q = priv;
    sstore_t *s = q->s;
    redisReply *r = reply;
    s->inflight--;
    if (q->retried)
        s->retrying--;
    if (!r) {
        s->ready = false; /* the link is going: refuse calls from callbacks */
    } else {
        s->last_progress = loop_now(s->loop);
        /* The script cache was flushed under us: run this one by EVAL.
         * It now completes after commands issued behind it (see sstore.h). */
        if (q->script != SS_NONE && !q->retried && is_noscript(r)) {
            s->sha[q->script][0] = '\0';
            q->retried = true;
            if (sstore_connected(s) && send_req(q, true) == 0) {
                s->inflight++;
                s->retrying++;
                return;
            }
            r = NULL;
        }
    }
    /* a demoted primary: ask the Sentinels again (the command did not run) */
    if (r && s->sentinel && r->type == REDIS_REPLY_ERROR && sentinel_readonly(r->str))
        kick(s);
    int redirected = r && s->router ? ss_cluster_redirect(q, r) : 0;
    if (redirected > 0)
        return; /* sent again where the cluster said */
    if (!r || is_transient(r) || redirected < 0)
        q->finish(q, ROOST_EUNAVAILABLE, NULL);
    else if (r->type == REDIS_REPLY_ERROR)
        q->finish(q, ROOST_ESTORE, NULL);
    else
        q->finish(q, 0, r);
    req_free(q);
}

/* ---- barrier ------------------------------------------------------------------ */

static void barrier_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    sstore_t *s = q->s;
    /* A NOSCRIPT retry issued before this PING's reply runs behind it:
     * wait once more so "every command issued before" holds. */
    if (rc == 0 && s->retrying > 0) {
        sstore_req_t *again = ss_req_new(s, SS_NONE, 0, barrier_finish, q->arg);
        if (again) {
            again->fn.done = q->fn.done;
            ss_arg_str(again, "PING");
            if (ss_issue(again) == 0)
                return;
        }
        rc = ROOST_EUNAVAILABLE;
    }
    q->fn.done(rc, q->arg);
}

int sstore_barrier(sstore_t *s, sstore_done_fn fn, void *arg)
{
    if (s->cluster)
        return ss_cluster_barrier(s, fn, arg);
    ss_wait_flush(s); /* a WAIT held for the turn's end goes first */
    sstore_req_t *q = ss_req_new(s, SS_NONE, 0, barrier_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.done = fn;
    ss_arg_str(q, "PING");
    return ss_issue(q);
}
