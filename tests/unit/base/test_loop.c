/* Unit tests for lib/base/loop.c: fd callbacks and timers run, before_sleep
 * runs before every wait, loop_last_ready reports what the last wait found,
 * and loop_no_sleep makes the next wait return at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/loop.h"

typedef struct {
    int hooks;          /* before_sleep calls */
    int ready_seen[8];  /* loop_last_ready at each call */
    int no_sleep_until; /* calls that ask for no sleep */
    int reads;
    int fd;
} probe_t;

static void hook(loop_t *l, void *arg)
{
    probe_t *p = arg;
    if (p->hooks < 8)
        p->ready_seen[p->hooks] = loop_last_ready(l);
    p->hooks++;
    if (p->hooks <= p->no_sleep_until)
        loop_no_sleep(l);
}

static uint64_t stop_timer(loop_t *l, void *arg)
{
    loop_stop(l);
    return 0;
}

static void on_read(loop_t *l, int fd, unsigned events, void *arg)
{
    probe_t *p = arg;
    char c;
    if (read(fd, &c, 1) == 1)
        p->reads++;
}

/* Without loop_no_sleep the loop sleeps until the timer: one hook call. */
static void sleeps_until_the_timer(void **state)
{
    loop_t *l = loop_new();
    probe_t p = {0};
    loop_set_before_sleep(l, hook, &p);
    loop_add_timer(l, 50, stop_timer, NULL);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(p.hooks, 1);
    loop_destroy(&l);
}

/* With it, the wait after each asking hook returns at once, found nothing
 * (last_ready 0), and the hook runs again before the timer is due. */
static void no_sleep_polls_instead(void **state)
{
    loop_t *l = loop_new();
    probe_t p = {.no_sleep_until = 3};
    loop_set_before_sleep(l, hook, &p);
    loop_add_timer(l, 200, stop_timer, NULL);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(p.hooks, 4); /* three polls, then one sleep until the timer */
    assert_int_equal(p.ready_seen[1], 0);
    assert_int_equal(p.ready_seen[2], 0);
    assert_int_equal(p.ready_seen[3], 0);
    loop_destroy(&l);
}

/* A wait that finds a readable fd reports it in loop_last_ready. */
static void last_ready_counts_events(void **state)
{
    loop_t *l = loop_new();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    probe_t p = {.no_sleep_until = 2};
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, on_read, &p), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    loop_set_before_sleep(l, hook, &p);
    loop_add_timer(l, 100, stop_timer, NULL);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(p.reads, 1);
    assert_true(p.hooks >= 3);
    assert_int_equal(p.ready_seen[1], 1); /* the wait that found the pipe */
    assert_int_equal(p.ready_seen[2], 0); /* the poll after it: nothing */
    loop_del_fd(l, fds[0]);
    close(fds[0]);
    close(fds[1]);
    loop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sleeps_until_the_timer),
        cmocka_unit_test(no_sleep_polls_instead),
        cmocka_unit_test(last_ready_counts_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
