/* sentinel: see sentinel.h. */
#include "store/sentinel.h"
#include "store/redis_auth.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/err.h"
#include "base/log.h"
#include "store/store.h"

#define RECHECK_MS 1000u
/* After a recheck no Sentinel answered: the next one waits this long, so
 * Sentinels out of reach (a partition: every try takes the full timeout)
 * do not cost the caller that time every second. */
#define RECHECK_FAILED_MS 10000u
/* How long a +switch-master outranks answers naming another address: a
 * Sentinel learns of a failover from the others' hello messages (every 2 s),
 * and an ask sent before the event may be answered after it. */
#define SWITCH_TRUST_MS 10000u

typedef struct sentinel_addr {
    char host[256];
    int port;
} sentinel_addr_t;

struct sentinel {
    sentinel_addr_t addr[SENTINEL_MAX];
    size_t n;
    char *master;
    redis_auth_t auth;
    uint64_t checked_ms;
    sentinel_addr_t switched; /* the last +switch-master's address ... */
    uint64_t switched_until;  /* ... trusted over answers until then (0: none) */
};

bool store_sentinel_on(const store_sentinel_conf_t *sc)
{
    return sc && sc->sentinels && sc->sentinels[0];
}

/* Splits the list into addr; 0 or the entry that failed (1-based; a bad
 * HOST:PORT is also said on err) / -1 for too many. */
static int parse_list(const char *list, sentinel_addr_t *addr, size_t *n, FILE *err)
{
    *n = 0;
    const char *p = list;
    for (int i = 1;; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (*n == SENTINEL_MAX)
            return -1;
        char one[300];
        if (len == 0 || len >= sizeof(one))
            return i;
        memcpy(one, p, len);
        one[len] = '\0';
        if (cfg_host_port("redis-sentinels", one, addr[*n].host, sizeof(addr[*n].host), &addr[*n].port, err))
            return i;
        (*n)++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int store_sentinel_conf_check(const store_sentinel_conf_t *sc, FILE *err)
{
    if (!store_sentinel_on(sc))
        return 0;
    sentinel_addr_t addr[SENTINEL_MAX];
    size_t n;
    int bad = parse_list(sc->sentinels, addr, &n, err);
    if (bad < 0) {
        fprintf(err, "error: --redis-sentinels: at most %d Sentinels\n", SENTINEL_MAX);
        return ROOST_ECONFIG;
    }
    if (bad > 0) {
        fprintf(err, "error: --redis-sentinels: entry %d of '%s': expected HOST:PORT,HOST:PORT,...\n",
                bad, sc->sentinels);
        return ROOST_ECONFIG;
    }
    if (!sc->master || !sc->master[0] || strpbrk(sc->master, " \t\r\n")) {
        fprintf(err, "error: --redis-master: a master name without spaces is needed with --redis-sentinels\n");
        return ROOST_ECONFIG;
    }
    return 0;
}

sentinel_t *sentinel_new(const store_sentinel_conf_t *sc)
{
    sentinel_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (!store_sentinel_on(sc) || parse_list(sc->sentinels, s->addr, &s->n, stderr) != 0 || !sc->master ||
        !(s->master = strdup(sc->master)) || redis_auth_set(&s->auth, sc->user, sc->password) < 0) {
        sentinel_free(&s);
        return NULL;
    }
    return s;
}

void sentinel_free(sentinel_t **sp)
{
    if (!sp || !*sp)
        return;
    redis_auth_clear(&(*sp)->auth);
    free((*sp)->master);
    free(*sp);
    *sp = NULL;
}

int sentinel_set(sentinel_t **sp, const store_sentinel_conf_t *sc)
{
    sentinel_free(sp);
    if (!store_sentinel_on(sc))
        return 0;
    if (store_sentinel_conf_check(sc, stderr) < 0)
        return ROOST_EINVAL;
    return (*sp = sentinel_new(sc)) ? 0 : -ENOMEM;
}


static void say(char *why, size_t cap, const char *fmt, const char *a, int port, const char *b)
{
    if (why && cap)
        snprintf(why, cap, fmt, a, port, b);
}

size_t sentinel_count(const sentinel_t *s) { return s->n; }
const char *sentinel_master(const sentinel_t *s) { return s->master; }
int sentinel_auth_argv(const sentinel_t *s, const char *argv[3]) { return redis_auth_argv(&s->auth, argv); }

const char *sentinel_at(const sentinel_t *s, size_t i, int *port)
{
    *port = s->addr[i].port;
    return s->addr[i].host;
}

void sentinel_promote(sentinel_t *s, size_t i)
{
    if (i == 0 || i >= s->n)
        return;
    sentinel_addr_t a = s->addr[i];
    memmove(&s->addr[1], &s->addr[0], i * sizeof(a));
    s->addr[0] = a;
}

int sentinel_addr_reply(const void *reply, char *host, size_t host_cap, int *port, const char **why)
{
    const redisReply *r = reply;
    *why = NULL;
    if (r && r->type == REDIS_REPLY_ERROR) {
        *why = r->str ? r->str : "error";
        return -1;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
        r->element[0]->len >= host_cap || memchr(r->element[0]->str, '\0', r->element[0]->len)) {
        *why = "does not know that master name";
        return -1;
    }
    char *end = NULL;
    long p = strtol(r->element[1]->str, &end, 10);
    if (!end || *end || end == r->element[1]->str || p <= 0 || p >= 65536) {
        *why = "bad port in its answer";
        return -1;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    *port = (int)p;
    return 0;
}

/* The next space-separated word of [*p, end): its start and length, or
 * NULL at the end. */
static const char *word(const char **p, const char *end, size_t *len)
{
    const char *w = *p;
    if (w >= end)
        return NULL;
    const char *sp = memchr(w, ' ', (size_t)(end - w));
    *len = (size_t)((sp ? sp : end) - w);
    *p = sp ? sp + 1 : end;
    return *len ? w : NULL;
}

int sentinel_switch_parse(const char *msg, size_t len, const char *master, char *host, size_t host_cap,
                          int *port)
{
    const char *p = msg, *end = msg + len, *w[5];
    size_t n[5];
    for (int i = 0; i < 5; i++)
        if (!(w[i] = word(&p, end, &n[i])))
            return -1;
    if (p != end || msg[len - 1] == ' ' || n[0] != strlen(master) || memcmp(w[0], master, n[0]) != 0 || n[3] >= host_cap ||
        memchr(w[3], '\0', n[3]) || n[4] > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n[4]; i++) {
        if (w[4][i] < '0' || w[4][i] > '9')
            return -1;
        v = v * 10 + (w[4][i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    memcpy(host, w[3], n[3]);
    host[n[3]] = '\0';
    *port = (int)v;
    return 0;
}

/* A pub/sub push: ["subscribe"|"message", channel, count|payload]. */
static bool push_of(const redisReply *r, const char *kind)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
           strcmp(r->element[0]->str, kind) == 0;
}

bool sentinel_subscribed(const void *reply)
{
    return push_of(reply, "subscribe");
}

int sentinel_switch_reply(const void *reply, const char *master, char *host, size_t host_cap, int *port)
{
    const redisReply *r = reply;
    if (!push_of(r, "message") || r->element[2]->type != REDIS_REPLY_STRING)
        return -1;
    return sentinel_switch_parse(r->element[2]->str, r->element[2]->len, master, host, host_cap, port);
}

bool sentinel_recheck_due(sentinel_t *s, uint64_t now_ms)
{
    if (s->checked_ms && now_ms < s->checked_ms + RECHECK_MS)
        return false;
    s->checked_ms = now_ms;
    return true;
}

void sentinel_recheck_failed(sentinel_t *s, uint64_t now_ms)
{
    s->checked_ms = now_ms + RECHECK_FAILED_MS - RECHECK_MS;
}

void sentinel_note_switch(sentinel_t *s, const char *host, int port, uint64_t now_ms)
{
    snprintf(s->switched.host, sizeof(s->switched.host), "%s", host);
    s->switched.port = port;
    s->switched_until = now_ms + SWITCH_TRUST_MS;
}

const char *sentinel_outranks(const sentinel_t *s, const char *host, int port, uint64_t now_ms, int *to_port)
{
    if (!s->switched_until || now_ms >= s->switched_until ||
        (port == s->switched.port && strcmp(host, s->switched.host) == 0))
        return NULL;
    *to_port = s->switched.port;
    return s->switched.host;
}

/* One Sentinel: 0 and the address, or -1 (why filled). */
static int ask_one(const sentinel_t *s, const sentinel_addr_t *a, int timeout_ms, char *host,
                   size_t host_cap, int *port, char *why, size_t why_cap)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
    if (!c || c->err) {
        say(why, why_cap, "sentinel %s:%d: %s", a->host, a->port, c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    int rc = -1;
    const char *argv[3];
    int argc = redis_auth_argv(&s->auth, argv);
    redisReply *r = NULL;
    if (argc) {
        r = redisCommandArgv(c, argc, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            say(why, why_cap, "sentinel %s:%d: AUTH: %s", a->host, a->port,
                r && r->str ? r->str : c->errstr);
            goto out;
        }
        freeReplyObject(r);
    }
    const char *q[] = {"SENTINEL", "get-master-addr-by-name", s->master};
    r = redisCommandArgv(c, 3, q, NULL);
    const char *bad = NULL;
    if (!r)
        say(why, why_cap, "sentinel %s:%d: %s", a->host, a->port, c->errstr);
    else if ((rc = sentinel_addr_reply(r, host, host_cap, port, &bad)) < 0)
        say(why, why_cap, "sentinel %s:%d: %s", a->host, a->port, bad);
out:
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

int sentinel_resolve(sentinel_t *s, int timeout_ms, char *host, size_t host_cap, int *port,
                     char *why, size_t why_cap)
{
    say(why, why_cap, "%s%d%s", "no Sentinel answered", 0, "");
    for (size_t i = 0; i < s->n; i++) {
        if (ask_one(s, &s->addr[i], timeout_ms, host, host_cap, port, why, why_cap) < 0)
            continue;
        sentinel_promote(s, i); /* the one that answered goes first next time */
        return 0;
    }
    return ROOST_EUNAVAILABLE;
}

bool sentinel_changed(sentinel_t *s, const char *host, int port, uint64_t now_ms, int timeout_ms)
{
    if (!sentinel_recheck_due(s, now_ms))
        return false;
    char h[256];
    int p = 0;
    if (sentinel_resolve(s, timeout_ms, h, sizeof(h), &p, NULL, 0) < 0) {
        sentinel_recheck_failed(s, now_ms);
        return false;
    }
    int to_port;
    const char *to = sentinel_outranks(s, h, p, now_ms, &to_port); /* older news than a switch seen */
    return to ? to_port != port || strcmp(to, host) != 0 : p != port || strcmp(h, host) != 0;
}

bool sentinel_role_is_master(const void *reply)
{
    const redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return false;
    const redisReply *e = r->element[0];
    return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) && e->str &&
           strcmp(e->str, "master") == 0;
}

bool sentinel_readonly(const char *error)
{
    /* first word of a command's error; inside a script's error text */
    return error && (strncmp(error, "READONLY", 8) == 0 || strstr(error, " READONLY ") != NULL);
}

int store_check_require_auth_ha(const char *host, int port, const store_sentinel_conf_t *sc)
{
    if (!store_sentinel_on(sc))
        return store_check_require_auth(host, port);
    sentinel_t *s = sentinel_new(sc);
    char h[256], why[200];
    int p = 0;
    int rc = s ? sentinel_resolve(s, 1000, h, sizeof(h), &p, why, sizeof(why)) : -ENOMEM;
    sentinel_free(&s);
    if (rc < 0) {
        log_warn("redis_auth_unchecked", "sentinels=%s detail=\"--redis-require-auth: no Sentinel named "
                 "the primary at start (%s); not checked\"", sc->sentinels, rc == -ENOMEM ? "out of memory" : why);
        return 0;
    }
    return store_check_require_auth(h, p);
}
