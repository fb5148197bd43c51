/* Unit test of services/admin/fleet.c (the Overview's history) against a
 * private redis-server: records are put the way the services put them, and
 * fleet_tick is driven by hand, so an hour of ticks for 10 brokers takes
 * seconds. Checks the fixed-size ring (it wraps, it never holds more than an
 * hour), the rates derived from counters, down and back, and that an
 * instance gone from the index gives its slot back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fleet.h"
#include "redis_fixture.h"
#include "store/instances.h"

static redis_fixture_t g_redis;

static int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "fleet-test") < 0)
        return -1;
    return redis_fixture_start(&g_redis);
}

static int group_teardown(void **state)
{
    redis_fixture_fini(&g_redis);
    return 0;
}

#define NB 10

/* Broker i's record at tick t: one record per second, 10 messages in per
 * second each, i connections, 5 accepted CONNECTs per second. */
static void put_broker(store_t *s, int i, long t)
{
    char id[16], rec[512];
    snprintf(id, sizeof(id), "b%02d", i);
    snprintf(rec, sizeof(rec),
             "{\"kind\":\"broker\",\"state\":\"serving\",\"version\":\"t\",\"started_ms\":1700000000000,"
             "\"at_ms\":%ld,\"cpu_ms\":%ld,\"rss_bytes\":1048576,\"connections\":%d,\"connack_0\":%ld,"
             "\"msgs_in\":%ld,\"msgs_out\":%ld,\"retained\":%d}",
             1700000000000L + t * 1000, t * 100, i, t * 5, t * 10, t * 20, i);
    assert_int_equal(store_instance_put(s, "broker", id, rec, 60000), 0);
}

static json_t *series(json_t *doc, const char *name)
{
    return json_object_get(json_object_get(doc, "series"), name);
}

static void test_an_hour_of_ten_brokers(void **state)
{
    store_t *s = store_new("127.0.0.1", g_redis.port, "t-fleet:", NULL);
    assert_int_equal(store_open(s), 0);
    redis_conf_t where;
    redis_conf_init(&where, NULL);
    snprintf(where.host, sizeof(where.host), "127.0.0.1");
    where.port = g_redis.port;
    where.prefix = "t-fleet:";
    fleet_config_t cfg = {&where, "mqtt://m.example:1883"};
    fleet_t *f = fleet_new(&cfg);
    assert_non_null(f);
    long ticks = FLEET_POINTS + 25; /* more than an hour: the ring wraps */
    for (long t = 1; t <= ticks; t++) {
        for (int i = 0; i < NB; i++)
            put_broker(s, i, t);
        fleet_tick(f);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *doc = fleet_overview(f, 0);
    char *text = json_dumps(doc, JSON_COMPACT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(doc);
    /* a figure for the notes, not an assertion */
    print_message("overview with %d brokers, %d points: %zu bytes of JSON, built in %.1f ms\n", NB, FLEET_POINTS,
                  strlen(text), (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    free(text);
    assert_int_equal(json_array_size(series(doc, "t")), FLEET_POINTS);
    json_t *conns = series(doc, "connections"), *in = series(doc, "messages_in");
    assert_int_equal(json_array_size(conns), FLEET_POINTS);
    /* sum of 0..9 connections; 10 brokers x 10 messages/s */
    assert_int_equal((int)json_number_value(json_array_get(conns, FLEET_POINTS - 1)), 45);
    assert_int_equal((int)json_number_value(json_array_get(in, FLEET_POINTS - 1)), 100);
    assert_int_equal((int)json_number_value(json_array_get(in, 0)), 100); /* the oldest kept point too */
    assert_int_equal((int)json_number_value(json_array_get(series(doc, "connects_accepted"), 10)), 50);
    assert_int_equal((int)json_number_value(json_array_get(series(doc, "retained"), 10)), 9); /* max, not sum */
    json_t *now = json_object_get(doc, "now");
    assert_int_equal(json_integer_value(json_object_get(now, "connections")), 45);
    assert_int_equal(json_integer_value(json_object_get(now, "messages_in_total")), NB * ticks * 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "cluster"), "broker"),
                                                        "up")),
                     NB);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "endpoints"), 0),
                                                          "transport")),
                        "TCP");
    json_decref(doc);

    /* one broker's own history: CPU 100 ms per second = 10 % */
    bool found = false;
    doc = fleet_instance(f, "broker:b03", 0, &found);
    assert_true(found);
    json_t *cpu = series(doc, "cpu_percent");
    assert_int_equal(json_array_size(cpu), FLEET_POINTS);
    assert_int_equal((int)(json_number_value(json_array_get(cpu, 100)) + 0.5), 10);
    json_decref(doc);
    assert_null(fleet_instance(f, "broker:nope", 0, &found));
    assert_false(found);

    /* b05 stops: down once its record expires, its points become null */
    assert_int_equal(store_instance_put(s, "broker", "b05", "{\"kind\":\"broker\"}", 1000), 0);
    usleep(1200 * 1000);
    for (int i = 0; i < NB; i++)
        if (i != 5)
            put_broker(s, i, ticks + 1);
    fleet_tick(f);
    doc = fleet_instances(f);
    json_t *rows = json_object_get(doc, "instances");
    assert_int_equal(json_array_size(rows), NB);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 5), "state")), "down");
    assert_true(json_is_null(json_object_get(json_array_get(rows, 5), "connections")));
    json_decref(doc);
    doc = fleet_overview(f, 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "cluster"), "broker"),
                                                        "down")),
                     1);
    json_decref(doc);

    /* gone from the index (an hour unseen): the slot is given back */
    redisContext *rc = redisConnect("127.0.0.1", g_redis.port);
    freeReplyObject(redisCommand(rc, "ZREM t-fleet:{g}:instances broker:b05"));
    redisFree(rc);
    fleet_tick(f);
    doc = fleet_instances(f);
    assert_int_equal(json_array_size(json_object_get(doc, "instances")), NB - 1);
    json_decref(doc);
    fleet_destroy(&f);
    assert_null(f);
    store_destroy(&s);
}

static void test_redis_unreachable(void **state)
{
    redis_conf_t where;
    redis_conf_init(&where, NULL);
    snprintf(where.host, sizeof(where.host), "127.0.0.1");
    where.port = 1;
    where.prefix = "t-fleet-down:";
    fleet_config_t cfg = {&where, ""};
    fleet_t *f = fleet_new(&cfg);
    assert_non_null(f);
    fleet_tick(f);
    json_t *doc = fleet_overview(f, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "cluster"), "redis")),
                        "unreachable");
    assert_int_equal(json_array_size(json_object_get(doc, "endpoints")), 0);
    json_decref(doc);
    fleet_destroy(&f);
}

static void test_endpoint_lists(void **state)
{
    const char *why = NULL;
    assert_int_equal(fleet_check_endpoints("", &why), 0);
    assert_int_equal(fleet_check_endpoints("mqtt://a:1883,mqtts://a:8883,ws://a/mqtt,wss://a/mqtt", &why), 0);
    assert_int_equal(fleet_check_endpoints("tcp://a:1883", &why), -1);
    assert_non_null(why);
    assert_int_equal(fleet_check_endpoints("mqtt://", &why), -1);
    assert_int_equal(fleet_check_endpoints("mqtt://a b", &why), -1);
    assert_int_equal(fleet_check_endpoints("mqtt://a,", &why), 0); /* a trailing comma adds nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_hour_of_ten_brokers),
        cmocka_unit_test(test_redis_unreachable),
        cmocka_unit_test(test_endpoint_lists),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
