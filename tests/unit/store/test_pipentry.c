/* Unit tests for lib/store/pipentry.c: the packed pipeline queue entry. An
 * entry round-trips (every field, binary payload, empty strings, the
 * largest lengths); the bytes are the documented layout; what cannot be
 * packed is refused by pipentry_size; every malformed entry is refused and
 * never read past its end (guard page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "store/pipentry.h"

static const uint8_t BIN[] = {0x00, 0xff, 'x'};

static pipentry_t sample(void)
{
    return (pipentry_t){.topic = "dev/7/t", .topic_len = 7, .payload = BIN, .payload_len = sizeof(BIN),
                        .qos = 2, .retain = true, .client_id = "dev-7", .client_id_len = 5,
                        .username = "boiler", .username_len = 6, .broker = "b1", .broker_len = 2,
                        .received_ms = 1767312345678ull};
}

static void test_round_trip(void **state)
{
    (void)state;
    struct guard g = guard_new();
    pipentry_t e = sample();
    size_t n = pipentry_size(&e);
    assert_int_equal(n, PIPENTRY_HEAD + 7 + 5 + 6 + 2 + 3);
    uint8_t buf[64];
    assert_int_equal(pipentry_encode(&e, buf), n);
    pipentry_t o;
    const uint8_t *in = guard_put_bytes(&g, buf, n);
    assert_int_equal(pipentry_decode(in, n, &o), 0);
    assert_int_equal(o.qos, 2);
    assert_true(o.retain);
    assert_int_equal(o.received_ms, 1767312345678ull);
    assert_int_equal(o.topic_len, 7);
    assert_memory_equal(o.topic, "dev/7/t", 7);
    assert_int_equal(o.client_id_len, 5);
    assert_memory_equal(o.client_id, "dev-7", 5);
    assert_int_equal(o.username_len, 6);
    assert_memory_equal(o.username, "boiler", 6);
    assert_int_equal(o.broker_len, 2);
    assert_memory_equal(o.broker, "b1", 2);
    assert_int_equal(o.payload_len, 3);
    assert_memory_equal(o.payload, BIN, 3);
    assert_ptr_equal(o.payload, in + n - 3); /* views into the input */
    guard_free(&g);
}

/* The layout of pipentry.h byte by byte (other readers, e.g. the tests'
 * Python decoder, depend on it). */
static void test_layout(void **state)
{
    (void)state;
    pipentry_t e = {.topic = "a", .topic_len = 1, .payload = (const uint8_t *)"P", .payload_len = 1, .qos = 1,
                    .client_id = "c", .client_id_len = 1, .username = "", .broker = "bk", .broker_len = 2,
                    .received_ms = 0x0102030405ull};
    static const uint8_t want[] = {1, 1, 0, 0, 0, 1, 2, 3, 4, 5, 0, 1, 'a', 0, 1, 'c', 0, 0, 0, 2, 'b', 'k', 'P'};
    uint8_t buf[64];
    assert_int_equal(pipentry_encode(&e, buf), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    e.retain = true;
    e.qos = 0;
    pipentry_encode(&e, buf);
    assert_int_equal(buf[1], 4);
}

/* Empty client id, username, broker and payload; the largest strings. */
static void test_edges(void **state)
{
    (void)state;
    pipentry_t e = {.topic = "t", .topic_len = 1, .payload = NULL, .payload_len = 0, .client_id = "",
                    .username = "", .broker = ""};
    uint8_t buf[PIPENTRY_HEAD + 1];
    assert_int_equal(pipentry_size(&e), PIPENTRY_HEAD + 1);
    pipentry_encode(&e, buf);
    struct guard g = guard_new();
    pipentry_t o;
    assert_int_equal(pipentry_decode(guard_put_bytes(&g, buf, sizeof(buf)), sizeof(buf), &o), 0);
    assert_int_equal(o.payload_len + o.client_id_len + o.username_len + o.broker_len, 0);
    assert_int_equal(o.qos, 0);
    assert_false(o.retain);
    guard_free(&g);

    char *big = malloc(PIPENTRY_STR_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', PIPENTRY_STR_MAX + 1);
    e = (pipentry_t){.topic = big, .topic_len = PIPENTRY_STR_MAX, .client_id = big,
                     .client_id_len = PIPENTRY_STR_MAX, .username = big, .username_len = PIPENTRY_STR_MAX,
                     .broker = big, .broker_len = PIPENTRY_STR_MAX, .received_ms = PIPENTRY_MS_MAX};
    size_t n = pipentry_size(&e);
    assert_int_equal(n, PIPENTRY_HEAD + 4 * (size_t)PIPENTRY_STR_MAX);
    uint8_t *out = malloc(n);
    assert_non_null(out);
    pipentry_encode(&e, out);
    assert_int_equal(pipentry_decode(out, n, &o), 0);
    assert_int_equal(o.broker_len, PIPENTRY_STR_MAX);
    assert_int_equal(o.payload_len, 0);
    assert_int_equal(o.received_ms, PIPENTRY_MS_MAX);
    free(out);
    /* one more byte in any string, qos 3, an empty topic, a time past
     * year 9999: cannot be packed */
    e.topic_len = PIPENTRY_STR_MAX + 1;
    assert_int_equal(pipentry_size(&e), 0);
    e.topic_len = 1;
    e.username_len = PIPENTRY_STR_MAX + 1;
    assert_int_equal(pipentry_size(&e), 0);
    e.username_len = 0;
    e.qos = 3;
    assert_int_equal(pipentry_size(&e), 0);
    e.qos = 0;
    e.topic_len = 0;
    assert_int_equal(pipentry_size(&e), 0);
    e.topic_len = 1;
    e.received_ms = PIPENTRY_MS_MAX + 1;
    assert_int_equal(pipentry_size(&e), 0);
    free(big);
}

static void expect_bad(const uint8_t *b, size_t n)
{
    struct guard g = guard_new();
    pipentry_t o;
    assert_int_equal(pipentry_decode(guard_put_bytes(&g, b, n), n, &o), -1);
    guard_free(&g);
}

static void test_malformed(void **state)
{
    (void)state;
    pipentry_t e = sample();
    uint8_t buf[64], b[64];
    size_t n = pipentry_encode(&e, buf);
    /* every cut before the payload fails; the payload is "the rest" */
    for (size_t cut = 0; cut < n - e.payload_len; cut++)
        expect_bad(buf, cut);
    memcpy(b, buf, n);
    b[0] = 2; /* another version */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[1] = 3; /* QoS 3 */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[1] = 8 | 1; /* unknown flag */
    expect_bad(b, n);
    memcpy(b, buf, n);
    memset(b + 2, 0xff, 8); /* received_ms past year 9999 */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[10] = 0; /* empty topic (its bytes then misread as the rest) */
    b[11] = 0;
    expect_bad(b, n);
    /* each length one past the end */
    size_t at = 10;
    size_t lens[] = {e.topic_len, e.client_id_len, e.username_len, e.broker_len};
    for (size_t i = 0; i < 4; i++) {
        memcpy(b, buf, n);
        size_t past = n - at - 2 + 1;
        b[at] = (uint8_t)(past >> 8);
        b[at + 1] = (uint8_t)past;
        expect_bad(b, n);
        at += 2 + lens[i];
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
