/* ssentinel: see ssentinel.h.
 *
 * The ask is an ss_ask.h over the list. The watch's link is one hiredis
 * async context on the loop. A context is only ever freed from a timer (never from inside one of
 * its own callbacks): callbacks record what happened and arm the link's
 * timer at 0 ms; the timer closes the context and takes the next step.
 * Before we free a context we clear link->ac, so the callbacks hiredis runs
 * while freeing it (NULL replies, the disconnect) see a stranger and do
 * nothing.
 */
#include "store/ssentinel.h"
#include "store/ss_ask.h"
#include "store/ss_io.h"

#include <errno.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

#define WATCH_SETUP_MS 1000u /* connect, AUTH and SUBSCRIBE confirmed within */
#define WATCH_RETRY_MS 1000u /* after a watch link failed or dropped */

typedef struct ss_link {
    ssentinel_t *owner;
    ss_io_t io;
    redisAsyncContext *ac; /* ours while open; NULL once closed or gone */
    uint64_t timer;
    char host[256];
    int port;
} ss_link_t;

struct ssentinel {
    loop_t *loop;
    sentinel_t *list;
    /* the ask */
    ss_ask_t *asker;
    ssentinel_addr_fn ask_fn;
    void *ask_arg;
    const char *ask_argv[3];  /* SENTINEL get-master-addr-by-name NAME */
    const char *auth_argv[3]; /* AUTH to the Sentinels, when configured */
    char answer[256];
    int answer_port;
    /* the watch */
    ss_link_t watch;
    bool watching;        /* ssentinel_watch was called */
    bool subscribed;      /* the watch link confirmed SUBSCRIBE */
    bool watch_said;      /* a watch link that failed was logged: not again until one subscribes */
    size_t watch_i;       /* the Sentinel the watch tries next */
    ssentinel_switch_fn on_switch;
    void *switch_arg;
};

/* ---- links ------------------------------------------------------------------ */

static void link_close(ss_link_t *l)
{
    if (l->timer) {
        loop_del_timer(l->owner->loop, l->timer);
        l->timer = 0;
    }
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    if (ac)
        redisAsyncFree(ac); /* its callbacks see l->ac != ac */
}

/* Runs fn on l's timer after delay_ms (replacing what was armed). */
static void link_arm(ss_link_t *l, uint64_t delay_ms, loop_timer_fn fn)
{
    if (l->timer)
        loop_del_timer(l->owner->loop, l->timer);
    l->timer = loop_add_timer(l->owner->loop, delay_ms, fn, l->owner);
}

static void watch_failed(ssentinel_t *a);

/* Which link of its owner a context belongs to, NULL for a stranger. */
static ss_link_t *link_of(const redisAsyncContext *ac)
{
    ss_link_t *l = ac->data;
    return l && l->ac == ac ? l : NULL;
}

static void link_lost(ss_link_t *l)
{
    l->ac = NULL; /* hiredis frees it */
    watch_failed(l->owner);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ss_link_t *l = link_of(ac);
    if (l && status != REDIS_OK)
        link_lost(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ss_link_t *l = link_of(ac);
    if (!l)
        return;
    ssentinel_t *a = l->owner;
    /* e.g. SUBSCRIBE refused (an ACL without the channel: hiredis drops the
     * link on that error), or the Sentinel went away: said once, as the
     * watch keeps trying the next Sentinel every second */
    if (l == &a->watch && status != REDIS_OK && !a->watch_said) {
        a->watch_said = true;
        log_warn("sentinel_watch_failed", "sentinel=%s:%d master=%s detail=\"%s; +switch-master is not "
                 "followed until a watch subscribes (the re-ask each second still is)\"", l->host, l->port,
                 sentinel_master(a->list), ac->errstr[0] ? ac->errstr : "the link closed");
    }
    link_lost(l);
}

/* Opens l to Sentinel i of the list. 0 or -1. */
static int link_open(ss_link_t *l, size_t i)
{
    int port;
    const char *host = sentinel_at(l->owner->list, i, &port);
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->port = port;
    l->ac = ss_io_connect(&l->io, host, port, l, on_connect, on_disconnect);
    return l->ac ? 0 : -1;
}

/* AUTH to the Sentinels when configured, on an open link. 0 or -1. */
static int link_auth(ss_link_t *l, redisCallbackFn *fn)
{
    const char *argv[3];
    int argc = sentinel_auth_argv(l->owner->list, argv);
    if (!argc)
        return 0;
    return redisAsyncCommandArgv(l->ac, fn, NULL, argc, argv, NULL) == REDIS_OK ? 0 : -1;
}

static void watch_restart(ssentinel_t *a, size_t i);

/* ---- the ask: ss_ask.h over the list ------------------------------------------ */

static const char *ask_node(size_t i, int *port, void *arg)
{
    ssentinel_t *a = arg;
    return i < sentinel_count(a->list) ? sentinel_at(a->list, i, port) : NULL;
}

static int ask_take(const redisReply *r, size_t i, const char **why, void *arg)
{
    (void)i;
    ssentinel_t *a = arg;
    return sentinel_addr_reply(r, a->answer, sizeof(a->answer), &a->answer_port, why);
}

static void ask_miss(size_t i, const char *host, int port, const char *why, void *arg)
{
    (void)i;
    ssentinel_t *a = arg;
    log_warn("sentinel_no_answer", "sentinel=%s:%d master=%s detail=\"%s\"", host, port,
             sentinel_master(a->list), why);
}

static void ask_done(int rc, size_t i, void *arg)
{
    ssentinel_t *a = arg;
    if (rc < 0) {
        a->ask_fn(ROOST_EUNAVAILABLE, NULL, 0, a->ask_arg);
        return;
    }
    sentinel_promote(a->list, i);
    if (i > 0 && a->watching)
        watch_restart(a, 0); /* the front Sentinel did not answer: watch the one that did */
    a->ask_fn(0, a->answer, a->answer_port, a->ask_arg);
}

int ssentinel_ask(ssentinel_t *a, int timeout_ms, ssentinel_addr_fn fn, void *arg)
{
    a->ask_fn = fn;
    a->ask_arg = arg;
    a->ask_argv[0] = "SENTINEL";
    a->ask_argv[1] = "get-master-addr-by-name";
    a->ask_argv[2] = sentinel_master(a->list);
    ss_ask_spec_t spec = {
        .node = ask_node, .take = ask_take, .miss = ask_miss, .done = ask_done, .arg = a,
        .auth_argv = a->auth_argv, .auth_argc = sentinel_auth_argv(a->list, a->auth_argv),
        .argv = a->ask_argv, .argc = 3, .timeout_ms = timeout_ms,
    };
    return ss_ask_start(a->asker, &spec);
}

bool ssentinel_asking(const ssentinel_t *a)
{
    return ss_ask_busy(a->asker);
}

/* ---- the watch -------------------------------------------------------------- */

static uint64_t watch_fire(loop_t *loop, void *arg);

/* The watch's link failed: the next Sentinel is tried after WATCH_RETRY_MS.
 * A link still open (AUTH refused, a command not sent) is closed, and
 * passed over, by watch_fire, as one whose setup ran out of time; one
 * already gone is passed over here: either way exactly once. */
static void watch_failed(ssentinel_t *a)
{
    a->subscribed = false;
    if (!a->watch.ac)
        a->watch_i = (a->watch_i + 1) % sentinel_count(a->list);
    link_arm(&a->watch, WATCH_RETRY_MS, watch_fire);
}

static void watch_on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    ss_link_t *l = link_of(ac);
    if (!l || !reply)
        return;
    ssentinel_t *a = l->owner;
    if (sentinel_subscribed(reply)) {
        a->subscribed = true;
        a->watch_said = false;
        if (l->timer) { /* set up: no deadline any more */
            loop_del_timer(a->loop, l->timer);
            l->timer = 0;
        }
        log_info("sentinel_watching", "sentinel=%s:%d master=%s channel=+switch-master", l->host, l->port,
                 sentinel_master(a->list));
        return;
    }
    char host[256];
    int port;
    if (sentinel_switch_reply(reply, sentinel_master(a->list), host, sizeof(host), &port) < 0)
        return; /* another master's failover, or not a message we know */
    log_info("sentinel_switch_master", "sentinel=%s:%d master=%s to=%s:%d", l->host, l->port,
             sentinel_master(a->list), host, port);
    a->on_switch(host, port, a->switch_arg);
}

static void watch_subscribe(ss_link_t *l)
{
    if (redisAsyncCommand(l->ac, watch_on_message, NULL, "SUBSCRIBE +switch-master") != REDIS_OK)
        watch_failed(l->owner);
}

static void watch_on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    ss_link_t *l = link_of(ac);
    const redisReply *r = reply;
    if (!l || !r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("sentinel_refused", "sentinel=%s:%d detail=\"AUTH: %s\"", l->host, l->port,
                 r->str ? r->str : "error");
        watch_failed(l->owner);
        return;
    }
    watch_subscribe(l);
}

/* The watch's timer: (re)open, or give up on a link that did not subscribe
 * in time and open the next one. */
static uint64_t watch_fire(loop_t *loop, void *arg)
{
    (void)loop;
    ssentinel_t *a = arg;
    ss_link_t *l = &a->watch;
    l->timer = 0; /* this run removes it */
    if (l->ac) { /* still setting up: the deadline passed */
        link_close(l);
        a->watch_i = (a->watch_i + 1) % sentinel_count(a->list);
    }
    a->subscribed = false;
    if (link_open(l, a->watch_i) < 0) {
        watch_failed(a);
        return 0;
    }
    const char *argv[3];
    if (sentinel_auth_argv(a->list, argv)) {
        if (link_auth(l, watch_on_auth) < 0) {
            watch_failed(a);
            return 0;
        }
    } else {
        watch_subscribe(l);
    }
    if (!l->timer)
        link_arm(l, WATCH_SETUP_MS, watch_fire);
    return 0;
}

/* Moves the watch to Sentinel i unless it is subscribed there already. */
static void watch_restart(ssentinel_t *a, size_t i)
{
    int port;
    const char *host = sentinel_at(a->list, i, &port);
    if (a->subscribed && a->watch.ac && a->watch.port == port && strcmp(a->watch.host, host) == 0)
        return;
    link_close(&a->watch);
    a->subscribed = false;
    a->watch_i = i;
    link_arm(&a->watch, 0, watch_fire);
}

int ssentinel_watch(ssentinel_t *a, ssentinel_switch_fn fn, void *arg)
{
    if (a->watching)
        return -EALREADY;
    a->watching = true;
    a->on_switch = fn;
    a->switch_arg = arg;
    watch_restart(a, 0);
    return 0;
}

/* ---- the handle --------------------------------------------------------------- */

static void link_broken(void *owner)
{
    ss_link_t *l = owner; /* the socket cannot be watched: as if it dropped */
    watch_failed(l->owner);
}

static void link_init(ssentinel_t *a, ss_link_t *l)
{
    l->owner = a;
    ss_io_init(&l->io, a->loop, link_broken, l);
}

ssentinel_t *ssentinel_new(loop_t *loop, sentinel_t **sp)
{
    ssentinel_t *a = calloc(1, sizeof(*a));
    if (!a) {
        sentinel_free(sp);
        return NULL;
    }
    a->loop = loop;
    a->list = *sp;
    *sp = NULL;
    if (!(a->asker = ss_ask_new(loop))) {
        sentinel_free(&a->list);
        free(a);
        return NULL;
    }
    link_init(a, &a->watch);
    return a;
}

void ssentinel_free(ssentinel_t **ap)
{
    ssentinel_t *a = *ap;
    if (!a)
        return;
    ss_ask_free(&a->asker);
    link_close(&a->watch);
    sentinel_free(&a->list);
    free(a);
    *ap = NULL;
}

sentinel_t *ssentinel_list(ssentinel_t *a)
{
    return a->list;
}
