/* ss_ask: see ss_ask.h.
 *
 * One hiredis async context at a time, on the loop (ss_io.h). The context
 * is only ever freed from the ask's timer, never from inside one of its own
 * callbacks: a callback records the outcome (state, why) and arms the
 * timer at 0 ms; the timer closes the context and takes the next step.
 * Before freeing a context we clear a->ac, so the callbacks hiredis runs
 * while freeing it (NULL replies, the disconnect) see a stranger and do
 * nothing.
 */
#include "store/ss_ask.h"
#include "store/ss_io.h"

#include <errno.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"

enum { WAITING, KEPT, FAILED };

struct ss_ask {
    loop_t *loop;
    ss_io_t io;
    redisAsyncContext *ac; /* ours while open; NULL once closed or gone */
    uint64_t timer;
    bool busy;
    ss_ask_spec_t spec;
    size_t i;              /* the node being asked */
    const char *host;
    int port;
    int state;
    char why[200];
};

static uint64_t step(loop_t *loop, void *arg);

static void close_link(ss_ask_t *a)
{
    if (a->timer) {
        loop_del_timer(a->loop, a->timer);
        a->timer = 0;
    }
    redisAsyncContext *ac = a->ac;
    a->ac = NULL;
    if (ac)
        redisAsyncFree(ac); /* its callbacks see a->ac != ac */
}

static void arm(ss_ask_t *a, uint64_t ms)
{
    if (a->timer)
        loop_del_timer(a->loop, a->timer);
    a->timer = loop_add_timer(a->loop, ms, step, a);
}

/* Node i failed (the first reason counts): the timer moves on. */
static void fail(ss_ask_t *a, const char *why)
{
    if (a->state != WAITING)
        return;
    a->state = FAILED;
    snprintf(a->why, sizeof(a->why), "%s", why);
    arm(a, 0);
}

static ss_ask_t *mine(const redisAsyncContext *ac)
{
    ss_ask_t *a = ac->data;
    return a && a->ac == ac ? a : NULL;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ss_ask_t *a = mine(ac);
    if (a && status != REDIS_OK) {
        a->ac = NULL; /* hiredis frees it */
        fail(a, ac->errstr[0] ? ac->errstr : "connect failed");
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    ss_ask_t *a = mine(ac);
    if (a) {
        a->ac = NULL; /* hiredis frees it */
        fail(a, "the link closed");
    }
}

static void on_broken(void *owner)
{
    fail(owner, "the socket could not be watched");
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    ss_ask_t *a = mine(ac);
    const redisReply *r = reply;
    if (a && r && r->type == REDIS_REPLY_ERROR) {
        char why[200];
        snprintf(why, sizeof(why), "AUTH: %s", r->str ? r->str : "error");
        fail(a, why);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    ss_ask_t *a = mine(ac);
    if (!a || !reply || a->state != WAITING) /* gone, or AUTH failed: moving on */
        return;
    const redisReply *r = reply;
    const char *why = "refused";
    if (r->type == REDIS_REPLY_ERROR) {
        char e[200];
        snprintf(e, sizeof(e), "%s", r->str ? r->str : "error");
        fail(a, e);
    } else if (a->spec.take(r, a->i, &why, a->spec.arg) == 0) {
        a->state = KEPT;
        arm(a, 0);
    } else {
        fail(a, why);
    }
}

/* Asks node a->i; a failure arms the step to the next one. */
static void ask_node(ss_ask_t *a)
{
    a->state = WAITING;
    a->why[0] = '\0';
    a->ac = ss_io_connect(&a->io, a->host, a->port, a, on_connect, on_disconnect);
    if (!a->ac) {
        fail(a, a->io.why);
        return;
    }
    if ((a->spec.auth_argc > 0 && redisAsyncCommandArgv(a->ac, on_auth, NULL, a->spec.auth_argc,
                                                        (const char **)a->spec.auth_argv, NULL) != REDIS_OK) ||
        redisAsyncCommandArgv(a->ac, on_reply, NULL, a->spec.argc, (const char **)a->spec.argv, NULL) !=
            REDIS_OK) {
        fail(a, "out of memory");
        return;
    }
    arm(a, (uint64_t)a->spec.timeout_ms);
}

/* The timer: an answer kept, a failure, or node i's time is up. */
static uint64_t step(loop_t *loop, void *arg)
{
    (void)loop;
    ss_ask_t *a = arg;
    a->timer = 0; /* this run removes it */
    close_link(a);
    if (a->state == KEPT) {
        a->busy = false;
        a->spec.done(0, a->i, a->spec.arg);
        return 0;
    }
    if (a->host) { /* node i failed or timed out: the next one */
        if (a->state == WAITING)
            snprintf(a->why, sizeof(a->why), "no answer within %d ms", a->spec.timeout_ms);
        a->spec.miss(a->i, a->host, a->port, a->why, a->spec.arg);
        a->host = a->spec.node(++a->i, &a->port, a->spec.arg);
    }
    if (a->host) {
        ask_node(a);
        if (a->timer)
            return 0;
        close_link(a); /* not even a timer (out of memory): give up */
    }
    a->busy = false;
    a->spec.done(ROOST_EUNAVAILABLE, 0, a->spec.arg);
    return 0;
}

ss_ask_t *ss_ask_new(loop_t *loop)
{
    ss_ask_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->loop = loop;
    ss_io_init(&a->io, loop, on_broken, a);
    return a;
}

void ss_ask_free(ss_ask_t **ap)
{
    ss_ask_t *a = *ap;
    if (!a)
        return;
    close_link(a);
    free(a);
    *ap = NULL;
}

int ss_ask_start(ss_ask_t *a, const ss_ask_spec_t *spec)
{
    close_link(a);
    a->spec = *spec;
    a->i = 0;
    a->busy = true;
    if ((a->host = spec->node(0, &a->port, spec->arg)))
        ask_node(a);
    else
        arm(a, 0); /* an empty list: done with nothing, from the loop */
    if (!a->timer) { /* not even a timer: out of memory */
        close_link(a);
        a->busy = false;
        return -ENOMEM;
    }
    return 0;
}

bool ss_ask_busy(const ss_ask_t *a)
{
    return a->busy;
}
