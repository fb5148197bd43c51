/* sstore_wait: WAIT for replicas before a write counts as done (sstore.h
 * "WAIT for replicas"). Redis's WAIT blocks the link until every write this
 * link made before it reached n replicas (or the timeout), and the link's
 * later commands wait behind it. So one WAIT covers every caller of a loop
 * turn, and at most one is in flight: callers that come while one is out
 * join the next, sent when it answers (group commit), so the cost is one
 * round trip to the replicas per batch, and batches grow with the load. */
#include <errno.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/loop.h"
#include "store/sstore_priv.h"

typedef struct cb {
    sstore_done_fn fn;
    void *arg;
} cb_t;

/* The callers waiting on one WAIT. */
typedef struct group {
    cb_t *cbs;
    size_t n, cap;
    int rc;             /* a send that failed: delivered from a timer */
    struct group *next; /* failing list */
} group_t;

struct ss_wait {
    int replicas, timeout_ms;
    group_t *open;      /* joined, not sent yet */
    uint64_t timer;     /* sends open at the end of the turn (none in flight) */
    int inflight;       /* WAITs sent, not answered */
    group_t *failing;
    uint64_t fail_timer;
    uint64_t failures;
};

static void group_run(group_t *g, int rc)
{
    for (size_t i = 0; i < g->n; i++)
        g->cbs[i].fn(rc, g->cbs[i].arg);
    free(g->cbs);
    free(g);
}

static void wait_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    group_t *g = q->arg;
    struct ss_wait *w = *ss_wait_slot(q->s);
    if (w)
        w->inflight--;
    if (rc == 0) {
        uint64_t got = 0;
        if (ss_r_u64(r, &got) < 0)
            rc = ROOST_ESTORE;
        else if (w && got < (uint64_t)w->replicas)
            rc = ROOST_EUNAVAILABLE;
        if (rc && w)
            w->failures++;
    }
    group_run(g, rc);
    if (w && w->inflight == 0 && w->open && !w->timer)
        ss_wait_flush(q->s); /* those who came while it was out */
}

static uint64_t on_failing(loop_t *l, void *arg)
{
    (void)l;
    struct ss_wait *w = arg;
    w->fail_timer = 0;
    while (w->failing) {
        group_t *g = w->failing;
        w->failing = g->next;
        group_run(g, g->rc);
    }
    return 0;
}

void ss_wait_flush(sstore_t *s)
{
    struct ss_wait *w = *ss_wait_slot(s);
    group_t *g = w ? w->open : NULL;
    if (!g)
        return;
    w->open = NULL;
    if (w->timer)
        loop_del_timer(ss_loop(s), w->timer);
    w->timer = 0;
    sstore_req_t *q = ss_req_new(s, SS_NONE, 0, wait_finish, g);
    int rc = -ENOMEM;
    if (q) {
        ss_arg_str(q, "WAIT");
        ss_arg_u64(q, (uint64_t)w->replicas);
        ss_arg_u64(q, (uint64_t)w->timeout_ms);
        rc = ss_issue(q); /* on 0, wait_finish runs later and frees g */
    }
    if (rc == 0) {
        w->inflight++;
        return;
    }
    /* never call back from inside the call that issued: from a timer */
    g->rc = rc == -ENOMEM ? -ENOMEM : ROOST_EUNAVAILABLE;
    g->next = w->failing;
    w->failing = g;
    if (!w->fail_timer && !(w->fail_timer = loop_add_timer(ss_loop(s), 0, on_failing, w)))
        on_failing(ss_loop(s), w); /* no timer (OOM): now, as a last resort */
}

static uint64_t on_turn_end(loop_t *l, void *arg)
{
    (void)l;
    sstore_t *s = arg;
    struct ss_wait *w = *ss_wait_slot(s);
    if (w)
        w->timer = 0; /* this timer ends here */
    if (w && w->inflight == 0)
        ss_wait_flush(s); /* else sent when the one in flight answers */
    return 0;
}

void ss_wait_fini(sstore_t *s)
{
    struct ss_wait **slot = ss_wait_slot(s), *w = *slot;
    if (!w)
        return;
    if (w->timer)
        loop_del_timer(ss_loop(s), w->timer);
    if (w->fail_timer)
        loop_del_timer(ss_loop(s), w->fail_timer);
    if (w->open) {
        w->open->rc = ROOST_EUNAVAILABLE;
        w->open->next = w->failing;
        w->failing = w->open;
        w->open = NULL;
    }
    on_failing(ss_loop(s), w);
    free(w);
    *slot = NULL;
}

int sstore_set_wait(sstore_t *s, int replicas, int timeout_ms)
{
    struct ss_wait **slot = ss_wait_slot(s);
    if (replicas < 0 || timeout_ms < 0)
        return ROOST_EINVAL;
    if (!*slot && !(*slot = calloc(1, sizeof(**slot))))
        return -ENOMEM;
    (*slot)->replicas = replicas;
    (*slot)->timeout_ms = timeout_ms;
    return 0;
}

uint64_t sstore_wait_failures(const sstore_t *s)
{
    struct ss_wait *w = *ss_wait_slot((sstore_t *)s);
    return w ? w->failures : 0;
}

int ss_wait_replicas(sstore_t *s)
{
    struct ss_wait *w = *ss_wait_slot(s);
    return w ? w->replicas : 0;
}

int ss_wait_copy(sstore_t *from, sstore_t *to)
{
    struct ss_wait *w = *ss_wait_slot(from);
    return w ? sstore_set_wait(to, w->replicas, w->timeout_ms) : 0;
}

int sstore_wait(sstore_t *s, sstore_done_fn fn, void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_wait(s, fn, arg); /* a WAIT on every primary */
    struct ss_wait *w = *ss_wait_slot(s);
    if (!w || w->replicas == 0)
        return sstore_barrier(s, fn, arg);
    if (!sstore_connected(s))
        return ROOST_EUNAVAILABLE;
    group_t *g = w->open;
    if (!g) {
        if (!(g = calloc(1, sizeof(*g))))
            return -ENOMEM;
        if (!(w->timer = loop_add_timer(ss_loop(s), 0, on_turn_end, s))) {
            free(g);
            return -ENOMEM;
        }
        w->open = g;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 32;
        cb_t *cbs = realloc(g->cbs, cap * sizeof(*cbs));
        if (!cbs)
            return -ENOMEM;
        g->cbs = cbs;
        g->cap = cap;
    }
    g->cbs[g->n++] = (cb_t){fn, arg};
    return 0;
}
