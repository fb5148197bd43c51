/* Unit tests for lib/store/sstore_pipe.c, against a real Redis.
 *
 * Appends in one batch to changing sets of pipelines (grouped into one
 * script call): each queue gets its messages in order, one entry per run
 * of messages bound for the same pipelines (a bundle, store/pipebundle.h,
 * or an "m" entry for one message, store/pipentry.h), a full queue drops
 * exactly the messages past its max_queue (a bundle cut to the room left)
 * and each callback is told how many pipelines dropped its message, the
 * queue's message count ("queued") is kept, a deleted pipeline is
 * skipped.
 *
 * The teardown (review bug): a batch of
 * pipeline appends whose send failed (the link had just gone) is handed to
 * its callbacks from a timer; sstore_destroy delivered those failures at
 * once and freed the batching state, but left that timer registered, so the
 * loop's next pass ran it on freed memory (ASan: heap-use-after-free in
 * on_failing). The sequence below makes the failure and the destroy fall
 * between the timer's registration and its run; run under the sanitizer
 * build it fails before the fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/pipebundle.h"
#include "store/pipentry.h"
#include "store/sstore.h"

static redis_fixture_t R;
static loop_t *L;
static sstore_t *S;
static bool up, destroying;
static struct {
    int calls, rc;
    bool during_destroy;
} appended;

static void on_state(bool connected, void *arg) { up = connected; }

static void on_appended(int rc, size_t dropped, void *arg)
{
    appended.calls++;
    appended.rc = rc;
    appended.during_destroy = destroying;
}

static uint64_t stop_when_up(loop_t *l, void *arg)
{
    if (up) {
        loop_stop(l);
        return 0;
    }
    return 5;
}

static void on_barrier(int rc, void *arg) {}

/* Runs first in the pass after the link was lost, before the append batch's
 * own end-of-turn timer: another request flushes the batch, whose send
 * fails (not connected) and is queued for the failure timer; then the
 * store is destroyed with that timer registered. */
static uint64_t flush_then_destroy(loop_t *l, void *arg)
{
    assert_false(sstore_connected(S)); /* the link loss was seen first */
    assert_true(sstore_barrier(S, on_barrier, NULL) < 0); /* flushes the batch: it fails */
    destroying = true;
    sstore_destroy(&S);
    destroying = false;
    loop_stop(l);
    return 0;
}

static uint64_t give_up(loop_t *l, void *arg)
{
    loop_stop(l);
    return 0;
}

static void test_destroy_with_a_failed_batch_pending(void **state)
{
    assert_int_equal(redis_fixture_init(&R, "sspipe"), 0);
    assert_int_equal(redis_fixture_start(&R), 0);
    L = loop_new();
    S = sstore_new(L, "127.0.0.1", R.port, "sp:");
    assert_non_null(L);
    assert_non_null(S);
    assert_int_equal(sstore_start(S, on_state, NULL), 0);
    uint64_t guard = loop_add_timer(L, 5000, give_up, NULL);
    assert_true(loop_add_timer(L, 5, stop_when_up, NULL) > 0);
    assert_int_equal(loop_run(L), 0);
    assert_true(up);
    loop_del_timer(L, guard);

    /* the server goes; its close reaches the socket before the loop runs */
    redis_fixture_stop(&R);
    redis_fixture_sleep_ms(100);
    /* registered before the append, so it runs before the batch's timer */
    assert_true(loop_add_timer(L, 0, flush_then_destroy, NULL) > 0);
    const char *pipes[] = {"p1"};
    sstore_pipe_msg_t m = {.topic = "t", .topic_len = 1, .payload = (const uint8_t *)"x",
                           .payload_len = 1, .client_id = "c", .client_id_len = 1, .broker = "b1"};
    assert_int_equal(sstore_pipe_append(S, pipes, 1, &m, on_appended, NULL), 0);
    assert_int_equal(loop_run(L), 0); /* one pass: the loss, then the timers */
    assert_null(S);
    assert_int_equal(appended.calls, 1); /* its failure was delivered by the destroy */
    assert_true(appended.during_destroy);
    assert_int_equal(appended.rc, ROOST_EUNAVAILABLE);
    /* a further pass runs whatever timer is left: none may touch the freed state */
    guard = loop_add_timer(L, 50, give_up, NULL);
    assert_int_equal(loop_run(L), 0);
    assert_int_equal(appended.calls, 1);
    loop_destroy(&L);
    redis_fixture_fini(&R);
}

static size_t dropped_of[8];
static int calls_done;

static void on_grouped(int rc, size_t dropped, void *arg)
{
    assert_int_equal(rc, 0);
    dropped_of[(size_t)(uintptr_t)arg] = dropped;
    if (++calls_done == 8)
        loop_stop(L);
}

static void check_msg(const uint8_t *b, size_t n, char out[8])
{
    pipentry_t e;
    assert_int_equal(pipentry_decode(b, n, &e), 0);
    assert_true(e.topic_len < 8);
    assert_memory_equal(e.payload, "pay", 3);
    assert_int_equal(e.qos, 1);
    assert_int_equal(e.client_id_len, 3);
    assert_memory_equal(e.client_id, "cid", 3);
    assert_int_equal(e.username_len, 0); /* anonymous */
    assert_memory_equal(e.broker, "b1", 2);
    assert_true(e.received_ms > 1700000000000ull);
    memcpy(out, e.topic, e.topic_len);
    out[e.topic_len] = '\0';
}

/* The topics of the messages of stream key, in order, each checked whole;
 * shape gets each entry's field ("bbm": two bundles, then one message). */
static size_t topics_of(redisContext *c, const char *key, char out[][8], size_t cap, char *shape)
{
    redisReply *r = redisCommand(c, "XRANGE %s - +", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        assert_int_equal(f->elements, 2);
        const uint8_t *v = (const uint8_t *)f->element[1]->str;
        size_t len = f->element[1]->len;
        shape[i] = f->element[0]->str[0];
        if (!strcmp(f->element[0]->str, PIPEBUNDLE_FIELD)) {
            pipebundle_member_t m[8];
            int k = pipebundle_decode(v, len, m, 8);
            assert_true(k >= 2); /* one message goes as "m" */
            for (int j = 0; j < k && n < cap; j++)
                check_msg(m[j].b, m[j].len, out[n++]);
        } else {
            assert_string_equal(f->element[0]->str, PIPENTRY_FIELD);
            assert_true(n < cap);
            check_msg(v, len, out[n++]);
        }
    }
    shape[r->elements] = '\0';
    freeReplyObject(r);
    return n;
}

static void test_grouped_appends(void **state)
{
    assert_int_equal(redis_fixture_init(&R, "spgroup"), 0);
    assert_int_equal(redis_fixture_start(&R), 0);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    assert_true(c && !c->err);
    freeReplyObject(redisCommand(c, "HSET sg:{g}:pipeline:A max_queue 100"));
    freeReplyObject(redisCommand(c, "HSET sg:{g}:pipeline:B max_queue 2"));
    L = loop_new();
    S = sstore_new(L, "127.0.0.1", R.port, "sg:");
    up = false;
    assert_int_equal(sstore_start(S, on_state, NULL), 0);
    uint64_t guard = loop_add_timer(L, 5000, give_up, NULL);
    assert_true(loop_add_timer(L, 5, stop_when_up, NULL) > 0);
    assert_int_equal(loop_run(L), 0);
    assert_true(up);

    /* one loop turn: one batch; the pipeline sets change between runs */
    const char *a[] = {"A"}, *ab[] = {"A", "B"}, *b[] = {"B"}, *ac[] = {"A", "C"}; /* C: no such pipeline */
    const char *const *sets[8] = {a, a, ab, ab, ab, b, ac, a};
    size_t ns[8] = {1, 1, 2, 2, 2, 1, 2, 1};
    for (size_t i = 0; i < 8; i++) {
        char topic[8];
        snprintf(topic, sizeof(topic), "m%zu", i);
        sstore_pipe_msg_t m = {.topic = topic, .topic_len = strlen(topic), .payload = (const uint8_t *)"pay",
                               .payload_len = 3, .qos = 1, .client_id = "cid", .client_id_len = 3,
                               .broker = "b1"};
        assert_int_equal(sstore_pipe_append(S, sets[i], ns[i], &m, on_grouped, (void *)(uintptr_t)i), 0);
    }
    assert_int_equal(loop_run(L), 0);
    loop_del_timer(L, guard);
    assert_int_equal(calls_done, 8);
    /* B holds 2: m4 and m5 found it full */
    static const size_t want[8] = {0, 0, 0, 0, 1, 1, 0, 0};
    assert_memory_equal(dropped_of, want, sizeof(want));
    char t[10][8], shape[16];
    static const char *const in_a[] = {"m0", "m1", "m2", "m3", "m4", "m6", "m7"};
    assert_int_equal(topics_of(c, "sg:{g}:pq:A", t, 10, shape), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(t[i], in_a[i]);
    /* runs: m0 m1 (A), m2-m4 (A, B), m6 (A, C), m7 (A): the runs for
     * {A, C} and {A} are one message each */
    assert_string_equal(shape, "bbmm");
    assert_int_equal(topics_of(c, "sg:{g}:pq:B", t, 10, shape), 2);
    assert_string_equal(t[0], "m2");
    assert_string_equal(t[1], "m3");
    assert_string_equal(shape, "b"); /* m2-m4 cut to the room for two */
    redisReply *r = redisCommand(c, "HGET sg:{g}:pq:B:stats dropped");
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    r = redisCommand(c, "HGET sg:{g}:pq:A:stats queued");
    assert_string_equal(r->str, "7");
    freeReplyObject(r);
    r = redisCommand(c, "HGET sg:{g}:pq:B:stats queued");
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS sg:{g}:pq:C");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    sstore_destroy(&S);
    loop_destroy(&L);
    redisFree(c);
    redis_fixture_fini(&R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouped_appends),
        cmocka_unit_test(test_destroy_with_a_failed_batch_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
