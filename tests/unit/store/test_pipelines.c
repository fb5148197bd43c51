/* Unit tests for lib/store's Pipelines parts against a private redis-server:
 * pipelines.c (records, refusals naming the field, referenced delete),
 * pipeq.c (read, ack, dead letter, claim of an idle consumer's entries) and
 * sstore_pipe.c (batched appends: reply order kept against other calls,
 * drops at max_queue, deleted pipelines skipped, routes load "same").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/pipelines.h"
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
    char topics[16][32];
    int n;
} got_t;

static void collect(const pipeq_msg_t *m, void *arg)
{
    got_t *g = arg;
    snprintf(g->eids[g->n], PIPEQ_EID_MAX, "%s", m->eid);
    snprintf(g->topics[g->n], 32, "%.*s", (int)m->msg.topic_len, m->msg.topic ? m->msg.topic : "");
    g->n++;
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
    assert_int_equal(pipeq_read(f->s, p->id, "dead-one", 10, collect, &g), 3);
    assert_string_equal(g.topics[0], "q/1");
    assert_string_equal(g.topics[2], "q/3");
    /* another consumer: nothing new, and nothing to claim while fresh */
    got_t g2 = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "other", 10, collect, &g2), 0);
    assert_int_equal(pipeq_claim(f->s, p->id, "other", 60000, 10, collect, &g2), 0);
    /* idle long enough (0 ms): the other consumer takes them over */
    assert_int_equal(pipeq_claim(f->s, p->id, "other", 0, 10, collect, &g2), 3);
    const char *first[] = {g2.eids[0]}, *second[] = {g2.eids[1]};
    assert_int_equal(pipeq_ack(f->s, p->id, first, 1), 0);
    assert_int_equal(pipeq_dead(f->s, p->id, second, 1, "HTTP 400", 1), 0);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.forwarded, 1);
    assert_int_equal(st.dead, 1);
    assert_string_equal(st.last_error, "HTTP 400");
    store_pipeline_free(&p);
}

static void append_n(fx_t *f, const char *pid, int from, int n)
{
    const char *ids[] = {pid};
    order_t o = {0};
    tag_t t[8];
    for (int i = 0; i < n; i++) {
        char topic[8];
        snprintf(topic, sizeof(topic), "q/%d", from + i);
        t[i] = (tag_t){&o, i};
        sstore_pipe_msg_t m = {.topic = topic, .topic_len = strlen(topic), .payload = (const uint8_t *)"p",
                               .payload_len = 1, .client_id = "c", .client_id_len = 1, .broker = "b"};
        assert_int_equal(sstore_pipe_append(f->ss, ids, 1, &m, on_append, &t[i]), 0);
    }
    run_until_n(f, &o.n, n);
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
    append_n(f, p->id, 1, 6);
    got_t g = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g), 6);
    const char *e[6];
    for (int i = 0; i < 6; i++)
        e[i] = g.eids[i];
    /* q/1 pending at the head: 3 and 5 are deleted by id */
    const char *a1[] = {e[4], e[2]};
    assert_int_equal(pipeq_ack(f->s, p->id, a1, 2), 0);
    assert_int_equal(queued(f, p->id), 4);
    /* q/1 acknowledged: the trim below q/2 (the first pending) */
    const char *a2[] = {e[0]};
    assert_int_equal(pipeq_ack(f->s, p->id, a2, 1), 0);
    assert_int_equal(queued(f, p->id), 3);
    append_n(f, p->id, 7, 1); /* q/7: not delivered yet */
    const char *a3[] = {e[5], e[1]}; /* out of order */
    assert_int_equal(pipeq_ack(f->s, p->id, a3, 2), 0);
    assert_int_equal(queued(f, p->id), 2); /* q/4 (pending) and q/7 */
    const char *a4[] = {e[3]};
    assert_int_equal(pipeq_ack(f->s, p->id, a4, 1), 0); /* nothing pending now */
    assert_int_equal(queued(f, p->id), 1);
    got_t g2 = {0};
    assert_int_equal(pipeq_read(f->s, p->id, "c1", 10, collect, &g2), 1);
    assert_string_equal(g2.topics[0], "q/7");
    const char *a5[] = {g2.eids[0]};
    assert_int_equal(pipeq_ack(f->s, p->id, a5, 1), 0);
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

static void count_append(int rc, size_t dropped, void *arg)
{
    assert_int_equal(rc, 0);
    assert_int_equal(dropped, 0);
    (*(int *)arg)++;
}

/* A forwarder acknowledges its whole window at once after Redis was away
 * (batch_size 1000 x inflight 4 x 2 and more): more ids than Redis's Lua
 * unpacks into one call. They are all acknowledged, counted and removed,
 * past a pending head too, and the head stays. */
static void ack_of_thousands_at_once(void **state)
{
    enum { N = 9000 };
    fx_t *f = *state;
    store_pipeline_t *p = mk(f, "many", N + 10);
    const char *ids[] = {p->id};
    sstore_pipe_msg_t m = {.topic = "m/1", .topic_len = 3, .payload = (const uint8_t *)"p", .payload_len = 1,
                           .client_id = "c", .client_id_len = 1, .broker = "b"};
    int done = 0;
    for (int i = 0; i < N; i++)
        assert_int_equal(sstore_pipe_append(f->ss, ids, 1, &m, count_append, &done), 0);
    run_until_n(f, &done, N);
    many_t g = {calloc(N, PIPEQ_EID_MAX), 0};
    assert_non_null(g.eids);
    assert_int_equal(pipeq_read(f->s, p->id, "c1", N, collect_many, &g), N);
    const char **e = calloc(N, sizeof(*e));
    assert_non_null(e);
    for (int i = 0; i < N; i++)
        e[i] = g.eids[i];
    int att[] = {2, 3};
    assert_int_equal(pipeq_note_attempts(f->s, p->id, e + 1, att, 2), 0);
    /* the head pending: all the others are deleted by id */
    assert_int_equal(pipeq_ack(f->s, p->id, e + 1, N - 1), 0);
    assert_int_equal(queued(f, p->id), 1);
    store_pipeline_stats_t st;
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, N - 1);
    assert_int_equal(pipeq_ack(f->s, p->id, e, 1), 0);
    assert_int_equal(queued(f, p->id), 0);
    /* nothing pending: a second round goes by one trim */
    done = 0;
    for (int i = 0; i < N; i++)
        assert_int_equal(sstore_pipe_append(f->ss, ids, 1, &m, count_append, &done), 0);
    run_until_n(f, &done, N);
    g.n = 0;
    assert_int_equal(pipeq_read(f->s, p->id, "c1", N, collect_many, &g), N);
    assert_int_equal(pipeq_ack(f->s, p->id, e, N), 0);
    assert_int_equal(queued(f, p->id), 0);
    assert_int_equal(store_pipeline_stats(f->s, p->id, &st), 0);
    assert_int_equal(st.forwarded, 2 * N);
    free(e);
    free(g.eids);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
