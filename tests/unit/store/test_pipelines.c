/* Unit tests for lib/store's Pipelines parts against a private redis-server:
 * pipelines.c (records, refusals naming the field, referenced delete),
 * pipeq.c (read, ack, dead letter, claim of an idle consumer's entries) and
 * sstore_pipe.c (batched appends: reply order kept against other calls,
 * the messages of one call bundled into one entry per pipeline, drops at
 * max_queue counted in messages, deleted pipelines skipped, routes load
 * "same"), and the queue's message count kept by all of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <unistd.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/pipelines.h"
#include "store/pipentry.h"
#include "store/pipeq.h"
#include "store/sstore.h"

#define PFX "tp:"

typedef struct fx {
    redis_fixture_t r;
    store_t *s;
    loop_t *loop;
    sstore_t *ss;
    bool up;
} fx_t;

static void on_state(bool up, void *arg) { ((fx_t *)arg)->up = up; }

static uint64_t stop_tick(loop_t *l, void *arg)
{
    bool *flag = arg;
    if (*flag)
        loop_stop(l);
    return *flag ? 0 : 2;
}

/* Runs the loop for about 5 ms. */
static void spin(fx_t *f)
{
    bool stop = true;
    assert_true(loop_add_timer(f->loop, 5, stop_tick, &stop) > 0);
    assert_int_equal(loop_run(f->loop), 0);
}

/* Spins until *n reaches want (at most 5 s). */
static void run_until_n(fx_t *f, const int *n, int want)
{
    uint64_t end = loop_clock_ms() + 5000;
    while (*n < want && loop_clock_ms() < end)
        spin(f);
    assert_int_equal(*n, want);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_int_equal(redis_fixture_init(&f->r, "pipelines"), 0);
    assert_int_equal(redis_fixture_start(&f->r), 0);
    f->s = store_new("127.0.0.1", f->r.port, PFX, NULL);
    f->loop = loop_new();
    f->ss = sstore_new(f->loop, "127.0.0.1", f->r.port, PFX);
    assert_int_equal(sstore_start(f->ss, on_state, f), 0);
    uint64_t end = loop_clock_ms() + 5000;
    while (!f->up && loop_clock_ms() < end)
        spin(f);
    assert_true(f->up);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sstore_destroy(&f->ss);
    loop_destroy(&f->loop);
    store_destroy(&f->s);
    redis_fixture_fini(&f->r);
    free(f);
    return 0;
}

static store_pipeline_t *mk(fx_t *f, const char *name, int64_t max_queue)
{
    store_pipeline_spec_t sp = {.name = name, .url = "https://example.com/in", .has_max_queue = max_queue > 0,
                                .max_queue = max_queue};
    store_pipeline_t *p = NULL;
    assert_int_equal(store_pipeline_create(f->s, &sp, &p), 0);
    return p;
}

static void pipelines_validate_and_reference(void **state)
{
    fx_t *f = *state;
    store_pipeline_t *p = NULL;
    store_pipeline_spec_t bad = {.name = "x", .url = "ftp://h"};
    assert_int_equal(store_pipeline_create(f->s, &bad, &p), ROOST_EINVAL);
    assert_string_equal(store_last_error(f->s)->field, "url");
    bad.url = "http://h";
    bad.has_batch_size = true;
    bad.batch_size = 0;
    assert_int_equal(store_pipeline_create(f->s, &bad, &p), ROOST_EINVAL);
    assert_string_equal(store_last_error(f->s)->field, "batch_size");
    p = mk(f, "one", 0);
    assert_int_equal(p->batch_size, STORE_PIPE_DEF_BATCH);
    assert_int_equal(p->max_queue, STORE_PIPE_DEF_QUEUE);
    store_mapping_spec_t ms = {.topic = "a/+/c", .pipeline = p->id};
    store_mapping_t *m = NULL;
    assert_int_equal(store_mapping_create(f->s, &ms, &m), 0);
    assert_int_equal(store_mapping_create(f->s, &ms, NULL), ROOST_ECONFLICT);
    assert_int_equal(store_pipeline_delete(f->s, p->id), ROOST_ECONFLICT);
    assert_int_equal(store_last_error(f->s)->n_ids, 1);
    assert_string_equal(store_last_error(f->s)->ids[0], m->id);
    assert_int_equal(store_mapping_delete(f->s, m->id), 0);
    assert_int_equal(store_pipeline_delete(f->s, p->id), 0);
    store_pipeline_t *again = NULL;
    assert_int_equal(store_pipeline_get(f->s, p->id, &again), ROOST_ENOTFOUND);
    assert_null(again);
    store_pipeline_free(&p);
    store_mapping_free(&m);
}

/* ---- sstore batched appends ---------------------------------------------------- */

typedef struct order {
    int seen[8];
    int n;
    size_t dropped[8];
    int rc[8];
} order_t;

typedef struct tag {
    order_t *o;
    int id;
} tag_t;

static void on_append(int rc, size_t dropped, void *arg)
{
    tag_t *t = arg;
    t->o->rc[t->o->n] = rc;
    t->o->dropped[t->o->n] = dropped;
    t->o->seen[t->o->n++] = t->id;
}

static void on_barrier(int rc, void *arg)
{
    tag_t *t = arg;
    t->o->rc[t->o->n] = rc;
    t->o->seen[t->o->n++] = t->id;
}

static void appends_batched_in_order_with_drops(void **state)
{
    fx_t *f = *state;
    store_pipeline_t *a = mk(f, "a", 2), *b = mk(f, "b", 0);
    const char *both[] = {a->id, b->id}, *gone[] = {"0123456789abcdef01234567"};
    sstore_pipe_msg_t m = {.topic = "t/1", .topic_len = 3, .payload = (const uint8_t *)"x", .payload_len = 1,
                           .qos = 1, .client_id = "c", .client_id_len = 1, .username = "u", .broker = "b1"};
    order_t o = {0};
    tag_t t[6] = {{&o, 1}, {&o, 2}, {&o, 3}, {&o, 4}, {&o, 5}, {&o, 6}};
    /* three appends, a barrier (another request: it must complete after
     * them), two more appends; a's queue holds 2: the third drops there */
    assert_int_equal(sstore_pipe_append(f->ss, both, 2, &m, on_append, &t[0]), 0);
    assert_int_equal(sstore_pipe_append(f->ss, both, 2, &m, on_append, &t[1]), 0);
    assert_int_equal(sstore_pipe_append(f->ss, both, 2, &m, on_append, &t[2]), 0);
    assert_int_equal(sstore_barrier(f->ss, on_barrier, &t[3]), 0);
    assert_int_equal(sstore_pipe_append(f->ss, gone, 1, &m, on_append, &t[4]), 0);
    assert_int_equal(sstore_pipe_append(f->ss, both, 1, &m, on_append, &t[5]), 0);
    run_until_n(f, &o.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(o.seen[i], i + 1);
        assert_int_equal(o.rc[i], 0);
    }
    assert_int_equal(o.dropped[0], 0);
    assert_int_equal(o.dropped[2], 1); /* a full at 2 */
    assert_int_equal(o.dropped[4], 0); /* a deleted pipeline is skipped, not a drop */
    assert_int_equal(o.dropped[5], 1);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, a->id, &st), 0);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(store_pipeline_stats(f->s, b->id, &st), 0);
    assert_int_equal(st.queued, 3);
    store_pipeline_free(&a);
    store_pipeline_free(&b);
}

/* ---- pipeq ------------------------------------------------------------------------ */

typedef struct got {
    char eids[16][PIPEQ_EID_MAX];
    char mids[16][PIPEQ_MID_MAX];
    char topics[16][32];
    size_t count[16], parts[16];
    int n;
} got_t;

static void collect(const pipeq_msg_t *m, void *arg)
{
    got_t *g = arg;
    snprintf(g->eids[g->n], PIPEQ_EID_MAX, "%s", m->eid);
    snprintf(g->mids[g->n], PIPEQ_MID_MAX, "%s", m->mid);
    snprintf(g->topics[g->n], 32, "%.*s", (int)m->msg.topic_len, m->msg.topic ? m->msg.topic : "");
    g->count[g->n] = m->count;
    g->parts[g->n] = m->parts;
    g->n++;
}

/* Acknowledges one entry of count messages, delivered of them. */
static void ack1(fx_t *f, const char *pid, const char *eid, size_t count, size_t delivered)
{
    pipeq_done_t d = {eid, count, delivered};
    assert_int_equal(pipeq_ack(f->s, pid, &d, 1), 0);
}

static void queue_read_ack_dead_claim(void **state)
{
    fx_t *f = *state;
    store_pipeline_t *p = mk(f, "q", 0);
    const char *ids[] = {p->id};
    order_t o = {0};
    tag_t t[3] = {{&o, 1}, {&o, 2}, {&o, 3}};
    const char *topics[] = {"q/1", "q/2", "q/3"};
    for (int i = 0; i < 3; i++) {
        sstore_pipe_msg_t m = {.topic = topics[i], .topic_len = 3, .payload = (const uint8_t *)"p", .payload_len = 1,
                               .client_id = "c", .client_id_len = 1, .broker = "b"};
        assert_int_equal(sstore_pipe_append(f->ss, ids, 1, &m, on_append, &t[i]), 0);
    }
    run_until_n(f, &o.n, 3);
    got_t g = {0};
    /* one call: one entry, its three messages "<eid>:0".."<eid>:2" */
    assert_int_equal(pipeq_read(f->s, p->id, "dead-one", 10, collect, &g), 3);
    assert_string_equal(g.topics[0], "q/1");
    assert_string_equal(g.topics[2], "q/3");
    for (int i = 0; i < 3; i++) {
        char want[PIPEQ_MID_MAX];
        snprintf(want, sizeof(want), "%s:%d", g.eids[0], i);
        assert_string_equal(g.eids[i], g.eids[0]);
        assert_string_equal(g.mids[i], want);
        assert_int_equal(g.count[i], 3);
        assert_int_equal(g.parts[i], 3);
    }
    /* another consumer: nothing new, and nothing to claim while fresh */
    got_t g2 = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "other", 10, collect, &g2), 0);
    assert_int_equal(pipeq_claim(f->s, p->id, "other", 60000, 10, collect, &g2), 0);
    /* idle long enough (0 ms): the other consumer takes them over, with
     * the attempts noted per message */
    const char *mid1[] = {g.mids[1]};
    int two[] = {2};
    assert_int_equal(pipeq_note_attempts(f->s, p->id, mid1, two, 1), 0);
    assert_int_equal(pipeq_claim(f->s, p->id, "other", 0, 10, collect, &g2), 3);
    assert_string_equal(g2.mids[1], g.mids[1]);
    /* the middle message dead-lettered: the entry stays until acknowledged */
    const char *second[] = {g2.mids[1]};
    assert_int_equal(pipeq_dead(f->s, p->id, second, 1, "HTTP 400", 1), 0);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.dead, 1);
    assert_string_equal(st.last_error, "HTTP 400");
    ack1(f, p->id, g2.eids[0], 3, 2);
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.forwarded, 2);
    assert_int_equal(st.dead, 1);
    /* the dead letter holds the member alone, named by its message id */
    redisContext *c = redisConnect("127.0.0.1", f->r.port);
    assert_non_null(c);
    char dead[96];
    snprintf(dead, sizeof(dead), PFX "{g}:pq:%s:dead", p->id);
    redisReply *r = redisCommand(c, "XRANGE %s - +", dead);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    redisReply *fl = r->element[0]->element[1];
    assert_string_equal(fl->element[0]->str, "m");
    assert_string_equal(fl->element[2]->str, "eid");
    assert_string_equal(fl->element[3]->str, g.mids[1]);
    pipeq_msg_t back = {0};
    assert_int_equal(pipentry_decode((const uint8_t *)fl->element[1]->str, fl->element[1]->len, &back.msg), 0);
    assert_int_equal(back.msg.topic_len, 3);
    assert_memory_equal(back.msg.topic, "q/2", 3);
    freeReplyObject(r);
    redisFree(c);
    store_pipeline_free(&p);
}

/* n messages "q/<from>".. in one append call each when one_each (an "m"
 * entry each), else in one call (one bundle). Returns the drops reported. */
static size_t append_n(fx_t *f, const char *pid, int from, int n, bool one_each)
{
    const char *ids[] = {pid};
    order_t o = {0};
    tag_t t[8];
    size_t dropped = 0;
    for (int i = 0; i < n; i++) {
        char topic[8];
        snprintf(topic, sizeof(topic), "q/%d", from + i);
        t[i] = (tag_t){&o, i};
        sstore_pipe_msg_t m = {.topic = topic, .topic_len = strlen(topic), .payload = (const uint8_t *)"p",
                               .payload_len = 1, .client_id = "c", .client_id_len = 1, .broker = "b"};
        assert_int_equal(sstore_pipe_append(f->ss, ids, 1, &m, on_append, &t[i]), 0);
        if (one_each)
            run_until_n(f, &o.n, i + 1);
    }
    run_until_n(f, &o.n, n);
    for (int i = 0; i < n; i++)
        dropped += o.dropped[i];
    return dropped;
}

static int64_t queued(fx_t *f, const char *pid)
{
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, pid, &st), 0);
    return st.queued;
}

/* pipeq_ack trims what lies below the first pending entry and deletes the
 * rest one by one: the queue's length is the backlog after any order of
 * acknowledgements, and an entry not yet delivered is never removed. */
static void ack_in_any_order_leaves_the_backlog(void **state)
{
    fx_t *f = *state;
    store_pipeline_t *p = mk(f, "trim", 0);
    append_n(f, p->id, 1, 6, true);
    got_t g = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g), 6);
    const char *e[6];
    for (int i = 0; i < 6; i++) {
        e[i] = g.eids[i];
        assert_string_equal(g.mids[i], g.eids[i]); /* "m" entries: the message id is the entry's */
    }
    /* q/1 pending at the head: 3 and 5 are deleted by id */
    pipeq_done_t a1[] = {{e[4], 1, 1}, {e[2], 1, 1}};
    assert_int_equal(pipeq_ack(f->s, p->id, a1, 2), 0);
    assert_int_equal(queued(f, p->id), 4);
    /* q/1 acknowledged: the trim below q/2 (the first pending) */
    ack1(f, p->id, e[0], 1, 1);
    assert_int_equal(queued(f, p->id), 3);
    append_n(f, p->id, 7, 1, true); /* q/7: not delivered yet */
    pipeq_done_t a3[] = {{e[5], 1, 1}, {e[1], 1, 1}}; /* out of order */
    assert_int_equal(pipeq_ack(f->s, p->id, a3, 2), 0);
    assert_int_equal(queued(f, p->id), 2); /* q/4 (pending) and q/7 */
    ack1(f, p->id, e[3], 1, 1); /* nothing pending now */
    assert_int_equal(queued(f, p->id), 1);
    got_t g2 = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g2), 1);
    assert_string_equal(g2.topics[0], "q/7");
    ack1(f, p->id, g2.eids[0], 1, 1);
    assert_int_equal(queued(f, p->id), 0);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, 7);
    assert_int_equal(pipeq_eid_cmp("9-1", "10-0"), -1);
    assert_int_equal(pipeq_eid_cmp("10-2", "10-10"), -1);
    assert_int_equal(pipeq_eid_cmp("10-10", "10-10"), 0);
    assert_int_equal(pipeq_eid_cmp("11-0", "10-99"), 1);
    store_pipeline_free(&p);
}

/* ---- many acknowledgements at once ------------------------------------------- */

typedef struct many {
    char (*eids)[PIPEQ_EID_MAX];
    int n;
} many_t;

static void collect_many(const pipeq_msg_t *m, void *arg)
{
    many_t *g = arg;
    snprintf(g->eids[g->n++], PIPEQ_EID_MAX, "%s", m->eid);
}

/* Entries in p's queue (XLEN), over a plain hiredis context. */
static int64_t entries_of(fx_t *f, const char *pid)
{
    redisContext *c = redisConnect("127.0.0.1", f->r.port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "XLEN " PFX "{g}:pq:%s", pid);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    int64_t n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* n "m" entries written straight into p's queue (as brokers before the
 * bundles wrote them: no "queued" count in the stats yet). */
static void xadd_m(fx_t *f, const char *pid, int n)
{
    pipentry_t e = {.topic = "m/1", .topic_len = 3, .payload = (const uint8_t *)"p", .payload_len = 1,
                    .client_id = "c", .client_id_len = 1, .username = "", .broker = "b", .broker_len = 1};
    uint8_t b[64];
    size_t len = pipentry_encode(&e, b);
    redisContext *c = redisConnect("127.0.0.1", f->r.port);
    assert_non_null(c);
    char key[96];
    snprintf(key, sizeof(key), PFX "{g}:pq:%s", pid);
    for (int i = 0; i < n; i++)
        assert_int_equal(redisAppendCommand(c, "XADD %s * m %b", key, b, len), REDIS_OK);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    redisFree(c);
}

/* A forwarder acknowledges its whole window at once after Redis was away
 * (batch_size 1000 x inflight 4 x 2 and more): more ids than Redis's Lua
 * unpacks into one call. They are all acknowledged, counted and removed,
 * past a pending head too, and the head stays. The entries are written
 * directly (old "m" entries, one message each: the queue counts XLEN). */
static void ack_of_thousands_at_once(void **state)
{
    enum { N = 9000 };
    fx_t *f = *state;
    store_pipeline_t *p = mk(f, "many", N + 10);
    xadd_m(f, p->id, N);
    many_t g = {calloc(N, PIPEQ_EID_MAX), 0};
    assert_non_null(g.eids);
    assert_int_equal(pipeq_read(f->s, p->id, "c1", N, collect_many, &g), N);
    pipeq_done_t *e = calloc(N, sizeof(*e));
    const char **mids = calloc(N, sizeof(*mids));
    assert_non_null(e);
    assert_non_null(mids);
    for (int i = 0; i < N; i++) {
        e[i] = (pipeq_done_t){g.eids[i], 1, 1};
        mids[i] = g.eids[i];
    }
    int att[] = {2, 3};
    assert_int_equal(pipeq_note_attempts(f->s, p->id, mids + 1, att, 2), 0);
    /* the head pending: all the others are deleted by id */
    assert_int_equal(pipeq_ack(f->s, p->id, e + 1, N - 1), 0);
    assert_int_equal(queued(f, p->id), 1);
    assert_int_equal(entries_of(f, p->id), 1);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, N - 1);
    ack1(f, p->id, e[0].eid, 1, 1);
    assert_int_equal(queued(f, p->id), 0);
    /* nothing pending: a second round goes by one trim */
    xadd_m(f, p->id, N);
    g.n = 0;
    assert_int_equal(pipeq_read(f->s, p->id, "c1", N, collect_many, &g), N);
    assert_int_equal(pipeq_ack(f->s, p->id, e, N), 0);
    assert_int_equal(queued(f, p->id), 0);
    assert_int_equal(entries_of(f, p->id), 0);
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, 2 * N);
    free(e);
    free(mids);
    free(g.eids);
    store_pipeline_free(&p);
}

/* max_queue counts messages, not entries: a call's messages go as one
 * bundle while they fit, a bundle cut to the room left (an "m" entry when
 * that is one message) with the rest dropped, each drop reported to its
 * caller and counted; the count follows the acknowledgements (an entry
 * acknowledged twice, after a takeover, counted once) and starts from
 * XLEN on a queue older brokers filled. */
static void max_queue_counts_messages(void **state)
{
    fx_t *f = *state;
    store_pipeline_t *p = mk(f, "cap", 6);
    assert_int_equal(append_n(f, p->id, 1, 3, false), 0); /* one bundle of 3 */
    assert_int_equal(append_n(f, p->id, 4, 4, false), 1); /* room for 3: a bundle of 3, one dropped */
    assert_int_equal(queued(f, p->id), 6);
    assert_int_equal(entries_of(f, p->id), 2);
    got_t g = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g), 6);
    assert_string_equal(g.topics[5], "q/6");
    assert_int_equal(g.count[3], 3);
    assert_string_equal(g.eids[3], g.eids[5]);
    /* the first entry acknowledged by c1, then taken over by c2 and
     * acknowledged again: counted once */
    ack1(f, p->id, g.eids[0], 3, 3);
    assert_int_equal(queued(f, p->id), 3);
    got_t g2 = {0};
    assert_int_equal(pipeq_claim(f->s, p->id, "c2", 0, 10, collect, &g2), 3);
    ack1(f, p->id, g.eids[0], 3, 3);
    assert_int_equal(queued(f, p->id), 3);
    pipeq_done_t both[] = {{g.eids[0], 3, 3}, {g.eids[3], 3, 3}}; /* one of two acknowledged already */
    assert_int_equal(pipeq_ack(f->s, p->id, both, 2), 0);
    assert_int_equal(queued(f, p->id), 0);
    assert_int_equal(entries_of(f, p->id), 0);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, 6);
    assert_int_equal(st.dropped, 1);
    /* room for one: an "m" entry of the first message, two dropped */
    assert_int_equal(append_n(f, p->id, 10, 5, false), 0);
    assert_int_equal(append_n(f, p->id, 20, 3, false), 2);
    assert_int_equal(queued(f, p->id), 6);
    got_t g3 = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g3), 6);
    assert_string_equal(g3.topics[5], "q/20");
    assert_string_equal(g3.mids[5], g3.eids[5]);
    assert_int_equal(g3.count[5], 1);
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.dropped, 3);
    store_pipeline_free(&p);

    /* a queue older brokers filled: its count starts from XLEN */
    store_pipeline_t *o = mk(f, "old", 4);
    xadd_m(f, o->id, 3);
    assert_int_equal(queued(f, o->id), 3);
    assert_int_equal(append_n(f, o->id, 1, 2, false), 1);
    assert_int_equal(queued(f, o->id), 4);
    store_pipeline_free(&o);
}

/* max_age_s drops whole entries by their messages: the entries older than
 * the cut go (counted as dropped, per message), including one a forwarder
 * holds, whose later acknowledgement then counts nothing. */
static void max_age_drops_count_messages(void **state)
{
    fx_t *f = *state;
    store_pipeline_spec_t sp = {.name = "age", .url = "https://example.com/in", .has_max_age_s = true,
                                .max_age_s = 1};
    store_pipeline_t *p = NULL;
    assert_int_equal(store_pipeline_create(f->s, &sp, &p), 0);
    assert_int_equal(append_n(f, p->id, 1, 3, false), 0);
    got_t g = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g), 3);
    usleep(1100 * 1000);
    assert_int_equal(append_n(f, p->id, 4, 2, false), 0);
    assert_int_equal(queued(f, p->id), 2);
    assert_int_equal(entries_of(f, p->id), 1);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.dropped, 3);
    ack1(f, p->id, g.eids[0], 3, 3);
    assert_int_equal(queued(f, p->id), 2);
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, 0);
    store_pipeline_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pipelines_validate_and_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(appends_batched_in_order_with_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_read_ack_dead_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(ack_in_any_order_leaves_the_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(ack_of_thousands_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(max_queue_counts_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(max_age_drops_count_messages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
