/* Unit tests for lib/store/sstore_wait.c (WAIT for replicas before a write
 * counts as done) against a private primary and, where a test needs one, a
 * replica of it (two redis-servers, tests/unit/common/redis_fixture.h).
 *
 * Checked: without a replica a wait fails after the timeout and is counted;
 * with one it succeeds; every wait of one loop turn shares a single WAIT
 * (INFO commandstats) and calls back in call order; with 0 replicas it is
 * a barrier that sends no WAIT; without a link it fails at once. */
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/sstore.h"

typedef struct fx {
    redis_fixture_t primary, replica;
    loop_t *loop;
    sstore_t *s;
    bool up;
} fx_t;

typedef struct done {
    int n, want;
    int rc[8];
    int order[8];
} done_t;

typedef struct call {
    done_t *d;
    int id;
} call_t;

static void on_done(int rc, void *arg)
{
    call_t *c = arg;
    c->d->order[c->d->n] = c->id;
    c->d->rc[c->d->n++] = rc;
}

static void on_state(bool up, void *arg) { ((fx_t *)arg)->up = up; }

typedef struct until {
    bool (*pred)(void *);
    void *arg;
    uint64_t end;
} until_t;

static uint64_t check(loop_t *l, void *arg)
{
    until_t *u = arg;
    if (u->pred(u->arg) || loop_clock_ms() >= u->end) {
        loop_stop(l);
        return 0;
    }
    return 2;
}

/* Runs the loop until pred(arg) or ms passed; pred's last value. */
static bool spin(fx_t *f, bool (*pred)(void *), void *arg, uint64_t ms)
{
    until_t u = {pred, arg, loop_clock_ms() + ms};
    assert_true(loop_add_timer(f->loop, 1, check, &u) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    return pred(arg);
}

static bool is_up(void *arg) { return ((fx_t *)arg)->up; }
static bool is_down(void *arg) { return !sstore_connected(((fx_t *)arg)->s); }
static bool all_done(void *arg) { return ((done_t *)arg)->n == ((done_t *)arg)->want; }
static void on_write(int rc, void *arg) { *(int *)arg = rc; }

/* One command on port; the reply's text ("" for none). */
static void cmd(int port, char *out, size_t cap, const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_true(c && !c->err);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    snprintf(out, cap, "%s", r->str ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(redis_fixture_init(&f->primary, "sswait"), 0);
    assert_int_equal(redis_fixture_start(&f->primary), 0);
    f->loop = loop_new();
    f->s = sstore_new(f->loop, "127.0.0.1", f->primary.port, "w:");
    assert_true(f->loop && f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sstore_destroy(&f->s);
    loop_destroy(&f->loop);
    redis_fixture_fini(&f->replica);
    redis_fixture_fini(&f->primary);
    free(f);
    return 0;
}

static void start(fx_t *f, int replicas, int timeout_ms)
{
    assert_int_equal(sstore_set_wait(f->s, replicas, timeout_ms), 0);
    assert_int_equal(sstore_start(f->s, on_state, f), 0);
    assert_true(spin(f, is_up, f, 5000));
}

/* n waits issued in one turn behind a write; runs until all called back. */
static void waits(fx_t *f, done_t *d, int n)
{
    static call_t calls[8];
    static int write_rc;
    memset(d, 0, sizeof(*d));
    d->want = n;
    char out[64];
    cmd(f->primary.port, out, sizeof(out), "CONFIG RESETSTAT");
    write_rc = 1;
    assert_int_equal(sstore_broker_heartbeat(f->s, "b1", "tcp://127.0.0.1:1", 1, 5000, on_write, &write_rc), 0);
    for (int i = 0; i < n; i++) {
        calls[i] = (call_t){d, i};
        assert_int_equal(sstore_wait(f->s, on_done, &calls[i]), 0);
    }
    assert_true(spin(f, all_done, d, 5000));
    assert_int_equal(write_rc, 0); /* the write itself went through */
}

static long wait_calls(fx_t *f)
{
    redisContext *c = redisConnect("127.0.0.1", f->primary.port);
    redisReply *r = redisCommand(c, "INFO commandstats");
    const char *p = r && r->str ? strstr(r->str, "cmdstat_wait:calls=") : NULL;
    long n = p ? strtol(p + strlen("cmdstat_wait:calls="), NULL, 10) : 0;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void no_replica_fails_after_timeout(void **state)
{
    fx_t *f = *state;
    start(f, 1, 100);
    done_t d;
    uint64_t t0 = loop_clock_ms();
    waits(f, &d, 1);
    assert_int_equal(d.rc[0], ROOST_EUNAVAILABLE);
    assert_true(loop_clock_ms() - t0 >= 90);
    assert_int_equal((int)sstore_wait_failures(f->s), 1);
}

static void replica_acknowledges_one_wait_per_turn(void **state)
{
    fx_t *f = *state;
    char out[64];
    assert_int_equal(redis_fixture_init(&f->replica, "sswait-r"), 0);
    assert_int_equal(redis_fixture_start(&f->replica), 0);
    cmd(f->replica.port, out, sizeof(out), "REPLICAOF 127.0.0.1 %d", f->primary.port);
    for (int i = 0; i < 200; i++) { /* attached and synced */
        redisContext *c = redisConnect("127.0.0.1", f->primary.port);
        redisReply *r = redisCommand(c, "INFO replication");
        bool ok = r && r->str && strstr(r->str, "connected_slaves:1") && strstr(r->str, "state=online");
        freeReplyObject(r);
        redisFree(c);
        if (ok)
            break;
        redis_fixture_sleep_ms(50);
    }
    start(f, 1, 2000);
    done_t d;
    waits(f, &d, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d.rc[i], 0);
        assert_int_equal(d.order[i], i); /* call order */
    }
    assert_int_equal(wait_calls(f), 1); /* one WAIT for the five */
    assert_int_equal((int)sstore_wait_failures(f->s), 0);
}

static void zero_replicas_is_a_barrier(void **state)
{
    fx_t *f = *state;
    start(f, 0, 100);
    done_t d;
    waits(f, &d, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.rc[i], 0);
    assert_int_equal(wait_calls(f), 0);
}

static void without_a_link_fails_at_once(void **state)
{
    fx_t *f = *state;
    start(f, 1, 100);
    redis_fixture_stop(&f->primary);
    assert_true(spin(f, is_down, f, 5000));
    done_t d = {0};
    call_t c = {&d, 0};
    assert_int_equal(sstore_wait(f->s, on_done, &c), ROOST_EUNAVAILABLE);
    assert_int_equal(d.n, 0); /* never called back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_replica_fails_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(replica_acknowledges_one_wait_per_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_replicas_is_a_barrier, setup, teardown),
        cmocka_unit_test_setup_teardown(without_a_link_fails_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
