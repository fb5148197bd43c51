/* sstore_test.h: what tests/unit/store/test_sstore*.c share (lib/store's
 * asynchronous handle, sstore.c, against a private redis-server).
 *
 * Each test's setup starts `redis-server --port P --save '' --appendonly
 * no` on a free loopback port in a temp dir (redis_fixture.h), runs a
 * loop_t and an sstore_t connected to it; tests drive sstore calls with
 * callbacks (run_until runs the loop until a flag is set, or a timeout).
 * A plain hiredis context (raw) checks what landed in Redis. Teardown
 * destroys the handle and the loop and stops Redis by PID. Header-only
 * (static inline); include in exactly one file of a test executable. */
#ifndef ROOST_TEST_SSTORE_TEST_H
#define ROOST_TEST_SSTORE_TEST_H

#include <errno.h>
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/sstore.h"

#define PFX "t:"
#define GPFX PFX "{g}:" /* the global family of store/keys.h */

typedef struct fx {
    redis_fixture_t r;
    loop_t *loop;
    sstore_t *s;
    bool up;
    int ups, downs;
    redisContext *raw;
} fx_t;

/* ---- redis-server ---------------------------------------------------------- */

static inline void redis_start(fx_t *f)
{
    if (redis_fixture_start(&f->r) < 0)
        fail_msg("redis-server did not start on port %d", f->r.port);
}

/* SIGKILL: what was sent and not answered is never answered. */
static inline void redis_stop(fx_t *f)
{
    if (f->r.pid <= 0)
        return;
    kill(f->r.pid, SIGKILL);
    waitpid(f->r.pid, NULL, 0);
    f->r.pid = 0;
}

/* A plain command through the checking context; caller frees. */
static inline redisReply *raw(fx_t *f, const char *fmt, ...)
{
    if (!f->raw || f->raw->err) {
        redisFree(f->raw);
        f->raw = redisConnect("127.0.0.1", f->r.port);
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->raw, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static inline long long raw_int(fx_t *f, const char *fmt, const char *a, const char *b)
{
    redisReply *r = raw(f, fmt, a, b);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* ---- loop helpers ------------------------------------------------------------ */

typedef struct waiter {
    const bool *flag;
    uint64_t deadline;
} waiter_t;

static inline uint64_t wait_tick(loop_t *l, void *arg)
{
    waiter_t *w = arg;
    if (*w->flag || loop_clock_ms() >= w->deadline) {
        loop_stop(l);
        return 0;
    }
    return 2;
}

static inline bool run_until(fx_t *f, const bool *flag, uint64_t ms)
{
    if (*flag)
        return true;
    waiter_t w = {flag, loop_clock_ms() + ms};
    assert_true(loop_add_timer(f->loop, 1, wait_tick, &w) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    return *flag;
}

static inline void run_for(fx_t *f, uint64_t ms)
{
    bool never = false;
    run_until(f, &never, ms);
}

static inline void on_state(bool up, void *arg)
{
    fx_t *f = arg;
    f->up = up;
    if (up)
        f->ups++;
    else
        f->downs++;
}

static inline int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(redis_fixture_init(&f->r, "sstore-test"), 0);
    redis_start(f);
    f->loop = loop_new();
    assert_non_null(f->loop);
    f->s = sstore_new(f->loop, "127.0.0.1", f->r.port, PFX);
    assert_non_null(f->s);
    assert_int_equal(sstore_start(f->s, on_state, f), 0);
    assert_true(run_until(f, &f->up, 5000));
    assert_true(sstore_connected(f->s));
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fx_t *f = *state;
    sstore_destroy(&f->s);
    assert_null(f->s);
    sstore_destroy(&f->s); /* NULL-safe */
    loop_destroy(&f->loop);
    redisFree(f->raw);
    redis_stop(f);
    redis_fixture_fini(&f->r);
    free(f);
    return 0;
}

/* ---- callback recorders ---------------------------------------------------------- */

typedef struct res {
    bool done;
    int rc;
    int calls;
    size_t n;
    uint64_t u;
    bool flag;
    char text[256];
    int order[16];
    int n_order;
    int *seq; /* shared order log */
} res_t;

static inline void done_cb(int rc, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->calls++;
}

/* Issues call (with done_cb, &r), runs the loop until it finishes, checks rc. */
#define DO(f, call_with_r)                                                                         \
    do {                                                                                           \
        res_t r = {0};                                                                             \
        assert_int_equal((call_with_r), 0);                                                        \
        assert_true(run_until((f), &r.done, 3000));                                                \
        assert_int_equal(r.rc, 0);                                                                 \
        assert_int_equal(r.calls, 1);                                                              \
    } while (0)

#endif
