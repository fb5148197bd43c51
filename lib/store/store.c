/* store: handle, connection with reconnect, running the Lua scripts (their
 * texts are in store_scripts.c), errors, config and schema versions, auth
 * lookup. See store.h for the contract and key layout.
 *
 * Scripts get the key prefix as ARGV[1] and build key names themselves. Each
 * returns an array whose first element is a status word ("OK", "NOTFOUND",
 * "CONFLICT", "INVALID", "RETRY"); what follows depends on the script. They
 * are sent once per connection with SCRIPT LOAD and then run by EVALSHA; a
 * NOSCRIPT reply (script cache flushed) reloads and retries once.
 */
#include "store/store_priv.h"
#include "store/redis_auth.h"
#include "store/sentinel.h"
#include "store/sentinel_watch.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"

struct store {
    char *host;
    int port;
    char *prefix; /* the global family's prefix, P "{g}:" (store/keys.h) */
    char *base;   /* P as configured */
    redis_auth_t auth;
    sentinel_t *sentinel; /* NULL: host:port as given */
    sentinel_watch_t *watch; /* +switch-master, opened after an answer */
    bool watch_said;         /* a watch that could not be opened was logged: not again until one is */
    char at_host[256];    /* with a Sentinel: the primary connected to */
    int at_port;
    bool readonly;        /* the last error was READONLY (the link is gone) */
    struct store_cluster *cluster; /* --redis-cluster (store_cluster.c), or NULL */
    bool redirecting;              /* following a MOVED: no second one inside */
    store_cost_t cost;
    int connect_ms, command_ms;
    redisContext *ctx;
    char sha[SC_COUNT][41];
    store_error_t err;
    char reason[160];
    char field[48];
    char **err_ids;
    size_t n_err_ids;
    store_wait_state_t wait; /* store_wait.c */
};

/* ---- handle ------------------------------------------------------------- */

store_t *store_new(const char *host, int port, const char *prefix, const store_cost_t *cost)
{
    if (sodium_init() < 0)
        return NULL;
    store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->host = strdup(host ? host : "127.0.0.1");
    s->base = strdup(prefix ? prefix : STORE_DEFAULT_PREFIX);
    s->prefix = malloc(STORE_PREFIX_MAX + 1);
    if (!s->host || !s->base || !s->prefix) {
        store_destroy(&s);
        return NULL;
    }
    if (!store_keys_global(s->prefix, STORE_PREFIX_MAX + 1, s->base))
        s->prefix[0] = '\0'; /* too long: connect_now refuses it */
    s->port = port;
    s->cost.opslimit = cost && cost->opslimit ? cost->opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    s->cost.memlimit = cost && cost->memlimit ? cost->memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    s->connect_ms = 1000;
    s->command_ms = 2000;
    return s;
}

int store_set_auth(store_t *s, const char *user, const char *password)
{
    return redis_auth_set(&s->auth, user, password);
}

int store_set_sentinel(store_t *s, const store_sentinel_conf_t *sc)
{
    return sentinel_set(&s->sentinel, sc);
}

void store_set_timeouts(store_t *s, int connect_ms, int command_ms)
{
    if (connect_ms > 0)
        s->connect_ms = connect_ms;
    if (command_ms > 0)
        s->command_ms = command_ms;
}

static void drop_conn(store_t *s)
{
    if (s->ctx) {
        store_wait_leaving(s, s->ctx); /* its writes are confirmed before it is left */
        redisFree(s->ctx);
        s->ctx = NULL;
    }
}

static void clear_err_ids(store_t *s)
{
    for (size_t i = 0; i < s->n_err_ids; i++)
        free(s->err_ids[i]);
    free(s->err_ids);
    s->err_ids = NULL;
    s->n_err_ids = 0;
}

void store_destroy(store_t **sp)
{
    if (!sp || !*sp)
        return;
    store_t *s = *sp;
    s->wait.armed = false; /* nobody is left to tell */
    drop_conn(s);
    clear_err_ids(s);
    redis_auth_clear(&s->auth);
    sentinel_watch_free(&s->watch);
    sentinel_free(&s->sentinel);
    store_cluster_free(s);
    free(s->host);
    free(s->prefix);
    free(s->base);
    free(s);
    *sp = NULL;
}

const char *store_prefix(const store_t *s) { return s->prefix; }
const char *store_base_prefix(const store_t *s) { return s->base; }
struct store_cluster **store_cluster_slot(store_t *s) { return &s->cluster; }
const redis_auth_t *store_auth(const store_t *s) { return &s->auth; }
int store_connect_ms(const store_t *s) { return s->connect_ms; }
int store_command_ms(const store_t *s) { return s->command_ms; }
redisContext *store_link(store_t *s) { return s->ctx; }
store_wait_state_t *store_wait_state(store_t *s) { return &s->wait; }

const store_cost_t *store_cost(const store_t *s) { return &s->cost; }

const store_error_t *store_last_error(const store_t *s) { return &s->err; }

void store_err_reset(store_t *s)
{
    clear_err_ids(s);
    memset(&s->err, 0, sizeof(s->err));
    s->reason[0] = '\0';
}

int store_fail(store_t *s, int rc, const char *field, const char *reason)
{
    s->err.field = field;
    s->err.reason = reason;
    return rc;
}

const char *store_acl_field(store_t *s, size_t i, const char *kind)
{
    snprintf(s->field, sizeof(s->field), "acl[%zu].%s", i, kind);
    return s->field;
}

int store_err_set_ids(store_t *s, redisReply **elems, size_t n)
{
    clear_err_ids(s);
    if (n == 0)
        return 0;
    s->err_ids = calloc(n, sizeof(char *));
    if (!s->err_ids)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *v = store_rstr(elems[i]);
        s->err_ids[i] = strdup(v ? v : "");
        if (!s->err_ids[i]) {
            s->n_err_ids = i;
            return -ENOMEM;
        }
    }
    s->n_err_ids = n;
    s->err.ids = (const char *const *)s->err_ids;
    s->err.n_ids = n;
    return 0;
}

/* Records the hiredis error text, drops the connection. */
static int unavailable(store_t *s, const char *what)
{
    snprintf(s->reason, sizeof(s->reason), "%s: %s", what,
             s->ctx && s->ctx->errstr[0] ? s->ctx->errstr : "connection failed");
    drop_conn(s);
    store_cluster_link_failed(s); /* a failover may have moved the primary */
    return store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* An error reply (its text in s->reason). READONLY: this node was demoted
 * to a replica under us; the command did not run, the link is dropped and
 * the caller may send it again (a Sentinel then names the new primary).
 * READONLY and a cluster still busy (slot_busy) are ROOST_EUNAVAILABLE,
 * any other ROOST_ESTORE. */
static int error_reply(store_t *s)
{
    if (sentinel_readonly(s->reason)) {
        s->readonly = true;
        drop_conn(s);
        return store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
    }
    if (slot_busy(s->reason, strlen(s->reason))) /* still busy after busy_again's tries: not now */
        return store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
    return store_fail(s, ROOST_ESTORE, NULL, s->reason);
}

static int connect_now(store_t *s);

/* TRYAGAIN or CLUSTERDOWN (slot_busy: a slot half migrated, or not served
 * while a failover promotes a replica) say "not now", and the command did
 * not run: it is sent again after 20, 40 and 80 ms, then the error stands.
 * True (r to be freed, tries counted) when it is to be sent again. */
#define BUSY_RETRIES 3
static bool busy_again(const redisReply *r, int *tries)
{
    if (r->type != REDIS_REPLY_ERROR || !slot_busy(r->str, r->len) || *tries >= BUSY_RETRIES)
        return false;
    struct timespec ts = {0, (20L << *tries) * 1000000L};
    nanosleep(&ts, NULL);
    (*tries)++;
    return true;
}

/* An error reply r in cluster mode (frees r): MOVED reconnects to the new
 * owner and sends once more; ASK runs the command on the target; any other
 * error is returned as such. */
static int cluster_redirect(store_t *s, redisReply *r, int argc, const char **argv, const size_t *lens,
                            redisReply **out)
{
    slot_redir_t rd;
    slot_redir_kind_t k = store_cluster_redirect(s, r, &rd);
    if (k == SLOT_REDIR_NONE) {
        snprintf(s->reason, sizeof(s->reason), "%s", r->str ? r->str : "error reply");
        freeReplyObject(r);
        return error_reply(s);
    }
    freeReplyObject(r);
    if (k == SLOT_REDIR_ASK) {
        int rc = store_cluster_ask(s, &rd, store_cmd_writes(argc, argv), argc, argv, lens, out);
        if (rc == 0 && (*out)->type == REDIS_REPLY_ERROR) { /* refused there: an error like any other */
            snprintf(s->reason, sizeof(s->reason), "%s", (*out)->str ? (*out)->str : "error reply");
            freeReplyObject(*out);
            *out = NULL;
            return error_reply(s);
        }
        return rc;
    }
    if (s->redirecting) /* moved again while reconnecting: the map is in flux */
        return store_fail(s, ROOST_EUNAVAILABLE, NULL, "redis cluster: slot moving");
    drop_conn(s);
    s->redirecting = true;
    int rc = connect_now(s);
    /* sent again on the new owner as any command is (busy replies, an ASK
     * there followed), but a second MOVED is not */
    if (rc == 0)
        rc = store_raw_cmd(s, argc, argv, lens, out);
    s->redirecting = false;
    return rc;
}

/* Raw command on a live context; no reconnect. */
int store_raw_cmd(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    redisReply *r;
    for (int tries = 0;; freeReplyObject(r)) {
        store_wait_note(s, store_cmd_writes(argc, argv));
        r = redisCommandArgv(s->ctx, argc, argv, lens);
        if (!r)
            return unavailable(s, "redis");
        if (!busy_again(r, &tries))
            break;
    }
    if (s->cluster && r->type == REDIS_REPLY_ERROR)
        return cluster_redirect(s, r, argc, argv, lens, out);
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->reason, sizeof(s->reason), "%s", r->str ? r->str : "error reply");
        freeReplyObject(r);
        return error_reply(s);
    }
    *out = r;
    return 0;
}

/* Writes the schema version if absent, refuses a newer one. */
static int check_schema(store_t *s)
{
    char key[STORE_PREFIX_MAX + 16], ver[16];
    snprintf(key, sizeof(key), "%sschema", s->prefix);
    snprintf(ver, sizeof(ver), "%d", STORE_SCHEMA_VERSION);
    int rc = store_migrate_v1(s);
    if (rc < 0)
        return rc;
    const char *set[] = {"SET", key, ver, "NX"};
    redisReply *r = NULL;
    rc = store_raw_cmd(s, 4, set, NULL, &r);
    if (rc < 0)
        return rc;
    freeReplyObject(r);
    const char *get[] = {"GET", key};
    rc = store_raw_cmd(s, 2, get, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t v = 0;
    rc = store_ri64(r, &v);
    freeReplyObject(r);
    if (rc < 0 || v < 1)
        return store_fail(s, ROOST_ESTORE, NULL, "schema key is not a positive integer");
    if (v > STORE_SCHEMA_VERSION)
        return store_fail(s, ROOST_ESCHEMA, NULL, "stored schema is newer than this build");
    return 0;
}

/* AUTH [user] password when one is set. A refusal is reported as Redis
 * being unavailable to us, with Redis's words ("WRONGPASS ...") as the
 * reason, never the password. */
static int authenticate(store_t *s)
{
    const char *argv[3];
    int argc = redis_auth_argv(&s->auth, argv);
    if (!argc)
        return 0;
    redisReply *r = redisCommandArgv(s->ctx, argc, argv, NULL);
    if (!r)
        return unavailable(s, "auth");
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->reason, sizeof(s->reason), "Redis refused AUTH: %s",
                 r->str ? r->str : "error reply");
        rc = store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
    }
    freeReplyObject(r);
    return rc;
}

/* With a Sentinel: the node it named must say it is the primary (it may
 * not be yet, or any more, during a failover). */
static int check_role(store_t *s)
{
    const char *argv[] = {"ROLE"};
    redisReply *r = NULL;
    int rc = store_raw_cmd(s, 1, argv, NULL, &r);
    if (rc < 0)
        return rc;
    bool master = sentinel_role_is_master(r);
    freeReplyObject(r);
    if (master)
        return 0;
    snprintf(s->reason, sizeof(s->reason), "%.64s:%d is not the primary (ROLE); a failover is under way",
             s->at_host, s->at_port);
    return store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int connect_now(store_t *s)
{
    const char *bad = store_keys_prefix_error(s->base);
    if (bad)
        return store_fail(s, ROOST_EINVAL, "prefix", bad);
    const char *host = s->host;
    int port = s->port;
    if (s->sentinel) {
        if (sentinel_resolve(s->sentinel, s->connect_ms, s->at_host, sizeof(s->at_host), &s->at_port,
                             s->reason, sizeof(s->reason)) < 0)
            return store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
        int to_port; /* a failover announced since wins over an answer that has not heard of it */
        const char *to = sentinel_outranks(s->sentinel, s->at_host, s->at_port, mono_ms(), &to_port);
        if (to) {
            snprintf(s->at_host, sizeof(s->at_host), "%s", to);
            s->at_port = to_port;
        }
        host = s->at_host;
        port = s->at_port;
        /* the Sentinel that just answered (now first) tells of the next failover */
        if (!s->watch) {
            int wp;
            char why[200];
            const char *at = sentinel_at(s->sentinel, 0, &wp);
            s->watch = sentinel_watch_open(s->sentinel, 0, s->connect_ms, why, sizeof(why));
            if (!s->watch && !s->watch_said) /* e.g. an ACL without the channel; said once */
                log_warn("sentinel_watch_failed", "sentinel=%s:%d master=%s detail=\"%s; +switch-master is not "
                         "followed until a watch opens (the re-ask each second still is)\"", at, wp,
                         sentinel_master(s->sentinel), why);
            s->watch_said = !s->watch;
        }
    }
    if (s->cluster && store_cluster_target(s, &host, &port) < 0)
        return ROOST_EUNAVAILABLE;
    s->ctx = redisConnectWithTimeout(host, port, ms_tv(s->connect_ms));
    if (!s->ctx)
        return store_fail(s, -ENOMEM, NULL, NULL);
    if (s->ctx->err)
        return unavailable(s, "connect");
    if (redisSetTimeout(s->ctx, ms_tv(s->command_ms)) != REDIS_OK)
        return unavailable(s, "timeout");
    for (int i = 0; i < SC_COUNT; i++)
        s->sha[i][0] = '\0';
    int rc = authenticate(s);
    if (rc == 0 && s->sentinel)
        rc = check_role(s);
    if (rc == 0)
        rc = check_schema(s);
    if (rc == ROOST_ESTORE && redis_auth_refused(s->reason)) {
        /* Redis wants credentials we lack: unusable, as if it were down */
        char why[sizeof(s->reason)];
        snprintf(why, sizeof(why), "%s", s->reason);
        snprintf(s->reason, sizeof(s->reason), "Redis refused us: %.140s", why);
        rc = store_fail(s, ROOST_EUNAVAILABLE, NULL, s->reason);
    }
    if (rc < 0)
        drop_conn(s);
    return rc;
}

/* An idle connection has nothing to read: Redis sends nothing unasked on a
 * command connection. Readable (EOF) or hung up means Redis closed it (a
 * restart, its idle timeout), so the next command would fail on it. */
static bool closed_by_server(const redisContext *ctx)
{
    struct pollfd p = {.fd = ctx->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* A connection Redis closed while we were idle is replaced before the
 * command is sent, so a Redis restart costs no request; a command that
 * fails once sent is never sent again (it may have run). */
static int ensure_conn(store_t *s)
{
    if (s->ctx && (s->ctx->err || closed_by_server(s->ctx)))
        drop_conn(s);
    /* a failover a Sentinel announced, read with or without a link: one
     * announced while we had none is noted before connect_now asks, so it
     * outranks a Sentinel answer that has not heard of it yet
     * (sentinel_outranks) */
    int away = s->watch ? sentinel_watch_poll(s->watch, s->sentinel, s->at_host, s->at_port, mono_ms()) : 0;
    if (away < 0)
        sentinel_watch_free(&s->watch); /* opened again at the next connection */
    /* a primary still reachable but no longer the one the Sentinels name */
    if (s->ctx && s->sentinel &&
        (away > 0 || sentinel_changed(s->sentinel, s->at_host, s->at_port, mono_ms(), s->connect_ms)))
        drop_conn(s);
    return s->ctx ? 0 : connect_now(s);
}

int store_open(store_t *s)
{
    store_err_reset(s);
    drop_conn(s);
    return connect_now(s);
}

int store_cmd(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    s->readonly = false;
    for (int attempt = 0;; attempt++) {
        int rc = ensure_conn(s);
        if (rc == 0)
            rc = store_raw_cmd(s, argc, argv, lens, out);
        /* refused by a demoted primary: it did not run; once more elsewhere */
        if (!s->readonly || attempt)
            return rc;
        s->readonly = false;
    }
}

static int load_script(store_t *s, enum store_script sc)
{
    const char *argv[] = {"SCRIPT", "LOAD", store_scripts[sc]};
    redisReply *r = NULL;
    int rc = store_raw_cmd(s, 3, argv, NULL, &r);
    if (rc < 0)
        return rc;
    const char *sha = store_rstr(r);
    if (!sha || strlen(sha) != 40) {
        freeReplyObject(r);
        return store_fail(s, ROOST_ESTORE, NULL, "SCRIPT LOAD gave no sha");
    }
    memcpy(s->sha[sc], sha, 41);
    freeReplyObject(r);
    return 0;
}

static store_sr_t parse_status(const char *st)
{
    if (!strcmp(st, "OK"))
        return SR_OK;
    if (!strcmp(st, "NOTFOUND"))
        return SR_NOTFOUND;
    if (!strcmp(st, "CONFLICT"))
        return SR_CONFLICT;
    if (!strcmp(st, "INVALID"))
        return SR_INVALID;
    if (!strcmp(st, "RETRY"))
        return SR_RETRY;
    return (store_sr_t)-1;
}

static int run_evalsha(store_t *s, enum store_script sc, int ac, const char **av, size_t *lv,
                       redisReply **out, store_sr_t *sr)
{
    int rc, busy = 0;
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!s->sha[sc][0] && (rc = load_script(s, sc)) < 0)
            return rc;
        av[1] = s->sha[sc];
        lv[1] = 40;
        store_wait_note(s, store_script_writes(sc));
        r = redisCommandArgv(s->ctx, ac, av, lv);
        if (!r)
            return unavailable(s, "redis");
        if (busy_again(r, &busy)) { /* not a NOSCRIPT attempt: bounded by BUSY_RETRIES */
            freeReplyObject(r);
            r = NULL;
            attempt--;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8)) {
            freeReplyObject(r);
            r = NULL;
            s->sha[sc][0] = '\0';
            continue;
        }
        slot_redir_t rd;
        slot_redir_kind_t k = store_cluster_redirect(s, r, &rd);
        if (k != SLOT_REDIR_NONE) {
            freeReplyObject(r);
            r = NULL;
            if (k == SLOT_REDIR_ASK) { /* the target may lack the sha: EVAL */
                av[0] = "EVAL";
                lv[0] = 4;
                av[1] = store_scripts[sc];
                lv[1] = strlen(store_scripts[sc]);
                rc = store_cluster_ask(s, &rd, store_script_writes(sc), ac, av, lv, &r);
                av[0] = "EVALSHA";
                lv[0] = 7;
                if (rc < 0)
                    return rc;
                break;
            }
            drop_conn(s); /* MOVED: the slot's new owner, where it did not run */
            if ((rc = connect_now(s)) < 0)
                return rc;
            continue;
        }
        break;
    }
    if (!r)
        return store_fail(s, ROOST_ESTORE, NULL, "script cache keeps losing the script");
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->reason, sizeof(s->reason), "%s", r->str ? r->str : "script error");
        freeReplyObject(r);
        return error_reply(s);
    }
    const char *st = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? store_rstr(r->element[0]) : NULL;
    int parsed = st ? (int)parse_status(st) : -1;
    if (parsed < 0) {
        freeReplyObject(r);
        return store_fail(s, ROOST_ESTORE, NULL, "script reply has no status");
    }
    *sr = (store_sr_t)parsed;
    *out = r;
    return 0;
}

static int eval_once(store_t *s, enum store_script sc, int argc, const char **argv,
                     const size_t *lens, redisReply **out, store_sr_t *sr);

int store_eval(store_t *s, enum store_script sc, int argc, const char **argv, const size_t *lens,
               redisReply **out, store_sr_t *sr)
{
    s->readonly = false;
    int rc = eval_once(s, sc, argc, argv, lens, out, sr);
    if (s->readonly) { /* refused by a demoted primary: it did not run */
        s->readonly = false;
        rc = eval_once(s, sc, argc, argv, lens, out, sr);
    }
    return rc;
}

static int eval_once(store_t *s, enum store_script sc, int argc, const char **argv,
                     const size_t *lens, redisReply **out, store_sr_t *sr)
{
    int rc = ensure_conn(s);
    if (rc < 0)
        return rc;
    const char **av = malloc((size_t)(argc + 4) * sizeof(*av));
    size_t *lv = malloc((size_t)(argc + 4) * sizeof(*lv));
    if (!av || !lv) {
        free(av);
        free(lv);
        return -ENOMEM;
    }
    av[0] = "EVALSHA";
    lv[0] = 7;
    av[2] = "0";
    lv[2] = 1;
    av[3] = s->prefix;
    lv[3] = strlen(s->prefix);
    for (int i = 0; i < argc; i++) {
        av[4 + i] = argv[i];
        lv[4 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    rc = run_evalsha(s, sc, argc + 4, av, lv, out, sr);
    free(av);
    free(lv);
    return rc;
}
/* ---- reads shared by every kind -------------------------------------------- */

int store_config_version(store_t *s, int64_t *out)
{
    return store_get_i64(s, "version", out);
}

int store_list_raw(store_t *s, const char *zset, const char *obj, const char *cursor,
                   size_t limit, const char *search, int n_search, const char *const *fields,
                   int n_fields, redisReply **out)
{
    char lim[24], ns[8], budget[16];
    char needle[1024];
    size_t i = 0;
    for (; search && search[i] && i + 1 < sizeof(needle); i++)
        needle[i] = (char)tolower((unsigned char)search[i]);
    needle[i] = '\0';
    if (search && search[i])
        return store_fail(s, ROOST_EINVAL, "search", "must be under 1024 bytes");
    snprintf(lim, sizeof(lim), "%zu", limit);
    snprintf(ns, sizeof(ns), "%d", n_search);
    snprintf(budget, sizeof(budget), "%d", STORE_SCAN_BUDGET);
    const char *argv[7 + STORE_MAX_FIELDS] = {zset, obj, cursor ? cursor : "", lim, needle, ns, budget};
    if (n_fields > STORE_MAX_FIELDS)
        n_fields = STORE_MAX_FIELDS;
    for (int f = 0; f < n_fields; f++)
        argv[7 + f] = fields[f];
    store_sr_t sr;
    int rc = store_eval(s, SC_LIST, 7 + n_fields, argv, NULL, out, &sr);
    if (rc < 0)
        return rc;
    if (sr != SR_OK || (*out)->elements < 3) {
        freeReplyObject(*out);
        *out = NULL;
        return store_fail(s, ROOST_ESTORE, NULL, "bad list reply");
    }
    return 0;
}

/* ---- auth lookup ---------------------------------------------------------- */

void store_auth_free(store_auth_t **ap)
{
    if (!ap || !*ap)
        return;
    store_auth_t *a = *ap;
    if (a->password_hash) {
        sodium_memzero(a->password_hash, strlen(a->password_hash));
        free(a->password_hash);
    }
    free(a->name);
    free(a->cert_fingerprint);
    free(a->client_ids);
    free(a);
    *ap = NULL;
}

static int auth_lookup(store_t *s, int script, const char *key, store_auth_t **out)
{
    store_err_reset(s);
    *out = NULL;
    if (!key || !*key)
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    const char *argv[] = {key};
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, script, 1, argv, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    store_auth_t *a = NULL;
    if (sr == SR_NOTFOUND) {
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
        goto done;
    }
    const char *id = r->elements == 7 ? store_rstr(r->element[2]) : NULL;
    if (sr != SR_OK || !id || !store_id_ok(id)) {
        rc = store_fail(s, ROOST_ESTORE, NULL, "bad auth lookup reply");
        goto done;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        rc = -ENOMEM;
        goto done;
    }
    memcpy(a->client_id, id, STORE_ID_LEN + 1);
    if ((rc = store_ri64(r->element[1], &a->config_version)) < 0 ||
        (rc = store_rdup(r->element[3], &a->name)) < 0 ||
        (rc = store_rdup(r->element[4], &a->password_hash)) < 0 ||
        (rc = store_rdup(r->element[5], &a->cert_fingerprint)) < 0 ||
        (rc = store_rdup(r->element[6], &a->client_ids)) < 0) {
        if (rc == ROOST_ESTORE)
            store_fail(s, rc, NULL, "bad auth lookup reply");
        store_auth_free(&a);
        goto done;
    }
    *out = a;
done:
    freeReplyObject(r);
    return rc;
}

int store_auth_lookup(store_t *s, const char *username, store_auth_t **out)
{
    return auth_lookup(s, SC_AUTH_LOOKUP, username, out);
}

int store_auth_lookup_cert(store_t *s, const char *fingerprint, store_auth_t **out)
{
    return auth_lookup(s, SC_AUTH_LOOKUP_CERT, fingerprint, out);
}
