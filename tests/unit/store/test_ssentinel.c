/* Unit tests for lib/store/ssentinel.c (and ss_io.c): asks driven by a
 * loop_t against a real redis-sentinel monitoring a real redis-server, and
 * "Sentinels" that are blackholes (listening sockets that never accept:
 * the kernel completes the handshake, nothing is ever answered). The loop
 * keeps turning meanwhile: a 10 ms ticker measures the longest gap. And
 * the watch, past a Sentinel that refuses its AUTH to the next one. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/ssentinel.h"

#define MAX_GAP_MS 200u /* a blocking ask would hold the loop for its 250 ms timeout */

typedef struct fx {
    redis_fixture_t redis;
    redis_fixture_t sentinel; /* its port and dir; pid of redis-sentinel */
    redis_fixture_t refusing; /* a second one, when a test starts it */
    int hole[2];              /* blackhole listening sockets */
    int hole_port[2];
    loop_t *loop;
    uint64_t last_tick, max_gap;
    bool done;
    int rc, port;
    char host[64];
} fx_t;

static int blackhole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    *state = f;
    if (!f || redis_fixture_init(&f->redis, "ssentinel") < 0 || redis_fixture_start(&f->redis) < 0 ||
        redis_fixture_init(&f->sentinel, "ssentinel-s") < 0 ||
        redis_fixture_sentinel(&f->sentinel, f->redis.port) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if ((f->hole[i] = blackhole(&f->hole_port[i])) < 0)
            return -1;
    f->loop = loop_new();
    return f->loop ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    loop_destroy(&f->loop);
    for (int i = 0; i < 2; i++)
        if (f->hole[i] > 0)
            close(f->hole[i]);
    redis_fixture_sentinel_fini(&f->sentinel);
    redis_fixture_sentinel_fini(&f->refusing); /* (not started: nothing) */
    redis_fixture_fini(&f->redis);
    free(f);
    return 0;
}

static uint64_t tick(loop_t *l, void *arg)
{
    fx_t *f = arg;
    uint64_t now = loop_clock_ms();
    if (f->last_tick && now - f->last_tick > f->max_gap)
        f->max_gap = now - f->last_tick;
    f->last_tick = now;
    if (f->done)
        loop_stop(l);
    return 10;
}

static void answered(int rc, const char *host, int port, void *arg)
{
    fx_t *f = arg;
    f->done = true;
    f->rc = rc;
    f->port = port;
    snprintf(f->host, sizeof(f->host), "%s", host ? host : "");
}

/* Runs one ask over the list; returns its duration in ms. */
static uint64_t ask(fx_t *f, const char *list, ssentinel_t **out)
{
    store_sentinel_conf_t sc = {.sentinels = list, .master = "m", .user = "", .password = ""};
    sentinel_t *l = sentinel_new(&sc);
    assert_non_null(l);
    ssentinel_t *a = ssentinel_new(f->loop, &l);
    assert_non_null(a);
    assert_null(l);
    uint64_t t = loop_add_timer(f->loop, 10, tick, f);
    assert_true(t > 0);
    uint64_t t0 = loop_clock_ms();
    assert_int_equal(ssentinel_ask(a, 250, answered, f), 0);
    assert_false(f->done); /* never from inside the call */
    assert_true(ssentinel_asking(a));
    assert_int_equal(loop_run(f->loop), 0);
    uint64_t took = loop_clock_ms() - t0;
    loop_del_timer(f->loop, t);
    assert_false(ssentinel_asking(a));
    *out = a;
    return took;
}

static void test_ask_past_a_blackhole(void **state)
{
    fx_t *f = *state;
    char list[128];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", f->hole_port[0], f->sentinel.port);
    ssentinel_t *a = NULL;
    uint64_t took = ask(f, list, &a);
    assert_int_equal(f->rc, 0);
    assert_string_equal(f->host, "127.0.0.1");
    assert_int_equal(f->port, f->redis.port);
    assert_true(took >= 250); /* the blackhole had its whole timeout */
    assert_true(f->max_gap < MAX_GAP_MS);
    int port;
    sentinel_at(ssentinel_list(a), 0, &port); /* the one that answered is asked first now */
    assert_int_equal(port, f->sentinel.port);

    /* the next ask goes straight to it */
    f->done = false;
    f->max_gap = f->last_tick = 0;
    uint64_t t = loop_add_timer(f->loop, 10, tick, f);
    uint64_t t0 = loop_clock_ms();
    assert_int_equal(ssentinel_ask(a, 250, answered, f), 0);
    assert_int_equal(loop_run(f->loop), 0);
    loop_del_timer(f->loop, t);
    assert_int_equal(f->rc, 0);
    assert_true(loop_clock_ms() - t0 < 250);
    ssentinel_free(&a);
    assert_null(a);
}

static void test_no_sentinel_answers(void **state)
{
    fx_t *f = *state;
    char list[128];
    int refused = redis_fixture_free_port(); /* nobody listens: refused at once */
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", f->hole_port[0], refused,
             f->hole_port[1]);
    ssentinel_t *a = NULL;
    uint64_t took = ask(f, list, &a);
    assert_int_equal(f->rc, ROOST_EUNAVAILABLE);
    assert_true(took >= 500); /* both blackholes timed out */
    assert_true(f->max_gap < MAX_GAP_MS);
    ssentinel_free(&a);
}

static void test_wrong_master_name(void **state)
{
    fx_t *f = *state;
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f->sentinel.port);
    store_sentinel_conf_t sc = {.sentinels = list, .master = "nobody", .user = "", .password = ""};
    sentinel_t *l = sentinel_new(&sc);
    ssentinel_t *a = ssentinel_new(f->loop, &l);
    uint64_t t = loop_add_timer(f->loop, 10, tick, f);
    assert_int_equal(ssentinel_ask(a, 250, answered, f), 0);
    assert_int_equal(loop_run(f->loop), 0);
    loop_del_timer(f->loop, t);
    assert_int_equal(f->rc, ROOST_EUNAVAILABLE); /* a name it does not monitor is no answer */
    ssentinel_free(&a);
}

static void test_free_mid_ask(void **state)
{
    fx_t *f = *state;
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d", f->hole_port[0]);
    store_sentinel_conf_t sc = {.sentinels = list, .master = "m", .user = "", .password = ""};
    sentinel_t *l = sentinel_new(&sc);
    ssentinel_t *a = ssentinel_new(f->loop, &l);
    assert_int_equal(ssentinel_ask(a, 250, answered, f), 0);
    assert_int_equal(ssentinel_watch(a, NULL, NULL), 0);
    assert_int_equal(ssentinel_watch(a, NULL, NULL), -EALREADY);
    ssentinel_free(&a); /* links closed; no callback afterwards */
    f->done = true;     /* the ticker stops the loop at once */
    uint64_t t = loop_add_timer(f->loop, 300, tick, f);
    assert_int_equal(loop_run(f->loop), 0);
    loop_del_timer(f->loop, t);
    assert_int_equal(f->rc, 0); /* answered never ran */
    assert_string_equal(f->host, "");
}

/* The reply to argv from the server on port (NULL: no answer). */
static redisReply *command(int port, int argc, const char **argv)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r = c && !c->err ? redisCommandArgv(c, argc, argv, NULL) : NULL;
    redisFree(c);
    return r;
}

/* Whether a CLIENT LIST reply shows a client of user "u" subscribed. */
static bool subscribed_as_u(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING || !r->str)
        return false;
    for (const char *p = r->str; p && *p;) { /* one line per client: "name=value ..." */
        const char *end = strchr(p, '\n');
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
        if (strstr(line, " user=u ") && strstr(line, " sub=1 "))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

typedef struct watched {
    int port;         /* the Sentinel that takes user "u" */
    uint64_t deadline;
    bool subscribed;  /* the watch (user "u") has subscribed there */
} watched_t;

static uint64_t check_watch(loop_t *l, void *arg)
{
    watched_t *w = arg;
    const char *argv[] = {"CLIENT", "LIST"};
    redisReply *r = command(w->port, 2, argv);
    w->subscribed = subscribed_as_u(r);
    freeReplyObject(r);
    if (w->subscribed || loop_clock_ms() >= w->deadline) {
        loop_stop(l);
        return 0;
    }
    return 100;
}

/* A Sentinel that refuses the watch's AUTH is passed over once: the next
 * one in the list is tried (it was skipped too, so with two Sentinels the
 * watch went back to the refusing one each time and never subscribed). */
static void test_watch_tries_the_next_after_an_auth_refusal(void **state)
{
    fx_t *f = *state;
    redis_fixture_t *refusing = &f->refusing; /* knows no user "u": AUTH u p is refused */
    assert_int_equal(redis_fixture_init(refusing, "ssentinel-r"), 0);
    assert_int_equal(redis_fixture_sentinel(refusing, f->redis.port), 0);
    const char *acl[] = {"ACL", "SETUSER", "u", "on", ">p", "allcommands", "allchannels"};
    redisReply *r = command(f->sentinel.port, 7, acl);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", refusing->port, f->sentinel.port);
    store_sentinel_conf_t sc = {.sentinels = list, .master = "m", .user = "u", .password = "p"};
    sentinel_t *l = sentinel_new(&sc);
    ssentinel_t *a = ssentinel_new(f->loop, &l);
    assert_non_null(a);
    assert_int_equal(ssentinel_watch(a, NULL, NULL), 0);
    /* refused at once, the next one after WATCH_RETRY_MS (1 s) */
    watched_t w = {f->sentinel.port, loop_clock_ms() + 4000, false};
    uint64_t t = loop_add_timer(f->loop, 100, check_watch, &w);
    assert_true(t > 0);
    assert_int_equal(loop_run(f->loop), 0);
    assert_true(w.subscribed);
    ssentinel_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ask_past_a_blackhole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sentinel_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_master_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_mid_ask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_tries_the_next_after_an_auth_refusal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
