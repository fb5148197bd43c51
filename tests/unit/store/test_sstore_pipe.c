/* Unit test for lib/store/sstore_pipe.c's teardown (review bug): a batch of
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

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destroy_with_a_failed_batch_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
