/* Unit tests for Redis AUTH in lib/store (store_set_auth, sync) and
 * lib/store/sstore (sstore_set_auth, async), against a real redis-server
 * whose default user needs a password and which has an ACL user:
 * the right credentials connect; no credentials or wrong ones fail with
 * Redis's words (never the password), the sync handle reporting
 * ROOST_EUNAVAILABLE and the async one calling its refusal hook and never
 * reporting connected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/sstore.h"
#include "store/store.h"

#define PASS "s3cret-default"
#define ACL_USER "roost-svc"
#define ACL_PASS "s3cret-acl"

static redis_fixture_t g_redis;

static void raw_ok(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "auth") < 0 || redis_fixture_start(&g_redis) < 0)
        return -1;
    redisContext *c = redisConnect("127.0.0.1", g_redis.port);
    if (!c || c->err)
        return -1;
    raw_ok(c, "ACL SETUSER " ACL_USER " on >" ACL_PASS " ~* +@all");
    raw_ok(c, "CONFIG SET requirepass " PASS);
    redisFree(c);
    return 0;
}

static int group_teardown(void **state)
{
    redis_fixture_fini(&g_redis);
    return 0;
}

static store_t *open_with(const char *user, const char *pass, int *rc)
{
    store_t *s = store_new("127.0.0.1", g_redis.port, "t-auth:", NULL);
    assert_non_null(s);
    assert_int_equal(store_set_auth(s, user, pass), 0);
    *rc = store_open(s);
    return s;
}

static void sync_right_password_connects(void **state)
{
    int rc;
    store_t *s = open_with(NULL, PASS, &rc);
    assert_int_equal(rc, 0);
    int64_t v = -1;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_true(v >= 0);
    store_destroy(&s);
    s = open_with(ACL_USER, ACL_PASS, &rc); /* Redis 6 ACL user */
    assert_int_equal(rc, 0);
    store_destroy(&s);
}

static void sync_wrong_or_missing_password_is_named(void **state)
{
    int rc;
    store_t *s = open_with(NULL, "not-it", &rc);
    assert_int_equal(rc, ROOST_EUNAVAILABLE);
    const char *why = store_last_error(s)->reason;
    assert_non_null(strstr(why, "WRONGPASS"));
    assert_null(strstr(why, "not-it"));
    /* the next call retries and fails the same way, nothing half-open */
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_EUNAVAILABLE);
    store_destroy(&s);

    s = open_with(ACL_USER, PASS, &rc); /* right password, wrong user */
    assert_int_equal(rc, ROOST_EUNAVAILABLE);
    store_destroy(&s);

    s = open_with(NULL, NULL, &rc); /* none configured */
    assert_int_equal(rc, ROOST_EUNAVAILABLE);
    assert_non_null(strstr(store_last_error(s)->reason, "NOAUTH"));
    store_destroy(&s);
}

/* ---- async -------------------------------------------------------------- */

typedef struct {
    bool up, refused;
    char reply[256];
} watch_t;

static void on_state(bool up, void *arg) { ((watch_t *)arg)->up = up; }

static void on_refused(const char *reply, void *arg)
{
    watch_t *w = arg;
    w->refused = true;
    snprintf(w->reply, sizeof(w->reply), "%s", reply);
}

static uint64_t stop_at(loop_t *l, void *arg)
{
    loop_stop(l);
    return 0;
}

static uint64_t poll_flag(loop_t *l, void *arg)
{
    if (*(bool *)arg) {
        loop_stop(l);
        return 0;
    }
    return 5;
}

/* Runs the loop until *flag or ms pass. */
static bool run_until(loop_t *l, bool *flag, uint64_t ms)
{
    uint64_t t1 = loop_add_timer(l, ms, stop_at, NULL);
    uint64_t t2 = loop_add_timer(l, 1, poll_flag, flag);
    loop_run(l);
    loop_del_timer(l, t1);
    loop_del_timer(l, t2);
    return *flag;
}

static void async_case(const char *user, const char *pass, bool want_up, const char *want_word)
{
    loop_t *l = loop_new();
    sstore_t *s = sstore_new(l, "127.0.0.1", g_redis.port, "t-auth:");
    watch_t w = {0};
    assert_int_equal(sstore_set_auth(s, user, pass), 0);
    sstore_on_refused(s, on_refused, &w);
    assert_int_equal(sstore_start(s, on_state, &w), 0);
    if (want_up) {
        assert_true(run_until(l, &w.up, 5000));
        assert_false(w.refused);
        assert_true(sstore_connected(s));
    } else {
        assert_true(run_until(l, &w.refused, 5000));
        assert_non_null(strstr(w.reply, want_word));
        if (pass)
            assert_null(strstr(w.reply, pass));
        /* it keeps retrying (backoff), and is never reported connected */
        bool never = false;
        run_until(l, &never, 400);
        assert_false(w.up);
        assert_false(sstore_connected(s));
    }
    sstore_destroy(&s);
    loop_destroy(&l);
}

static void async_right_password_connects(void **state)
{
    async_case(NULL, PASS, true, NULL);
    async_case(ACL_USER, ACL_PASS, true, NULL);
}

static void async_refusals_are_reported(void **state)
{
    async_case(NULL, "not-it", false, "WRONGPASS");
    async_case(NULL, NULL, false, "NOAUTH");
    async_case(ACL_USER, "wrong-too", false, "WRONGPASS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_right_password_connects),
        cmocka_unit_test(sync_wrong_or_missing_password_is_named),
        cmocka_unit_test(async_right_password_connects),
        cmocka_unit_test(async_refusals_are_reported),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
