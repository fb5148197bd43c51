/* Unit tests for lib/base/ticker.c and lib/base/proc.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/proc.h"
#include "base/ticker.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_ticker_calls_at_once_then_every_period(void **state)
{
    atomic_int n = 0;
    ticker_t *t = NULL;
    assert_int_equal(ticker_start(50, count, &n, &t), 0);
    usleep(20 * 1000);
    assert_int_equal(atomic_load(&n), 1); /* at once, not after a period */
    usleep(260 * 1000);
    int seen = atomic_load(&n);
    assert_true(seen >= 3 && seen <= 7);
    ticker_stop(&t);
    assert_null(t);
    int after = atomic_load(&n);
    usleep(120 * 1000);
    assert_int_equal(atomic_load(&n), after); /* no call after stop */
    ticker_stop(&t); /* NULL-safe */
}

static void test_ticker_stop_does_not_wait_out_the_period(void **state)
{
    atomic_int n = 0;
    ticker_t *t = NULL;
    assert_int_equal(ticker_start(60000, count, &n, &t), 0);
    usleep(20 * 1000);
    uint64_t t0 = mono_ms();
    ticker_stop(&t);
    assert_true(mono_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&n), 1);
}

static void test_proc_figures(void **state)
{
    proc_sample_t p;
    assert_int_equal(proc_sample(&p), 0);
    assert_true(p.rss_bytes > 100 * 1024);
    volatile double x = 0;
    for (int i = 0; i < 30000000; i++) /* burn some CPU time */
        x = x + i * 0.5;
    assert_true(x > 0);
    proc_sample_t q;
    assert_int_equal(proc_sample(&q), 0);
    assert_true(q.cpu_ms >= p.cpu_ms);
    assert_true(proc_wall_ms() > 1700000000000ULL);
    assert_true(strlen(proc_version()) > 0);
    char buf[1024];
    int n = proc_metrics_text(buf, sizeof(buf), "test", 1700000000123ULL);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    assert_non_null(strstr(buf, "\nprocess_start_time_seconds 1700000000.123\n"));
    assert_non_null(strstr(buf, "roost_build_info{service=\"test\",version=\""));
    assert_non_null(strstr(buf, "\nprocess_resident_memory_bytes "));
    assert_true(proc_metrics_text(buf, 16, "test", 1) >= 16); /* truncation reported as snprintf does */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticker_calls_at_once_then_every_period),
        cmocka_unit_test(test_ticker_stop_does_not_wait_out_the_period),
        cmocka_unit_test(test_proc_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
