/* Unit tests for services/broker/shframe.c: the shared-subscription bus
 * frames (records built and read back; malformed input refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shframe.h"

static const char KEY[] = "g\0a/+"; /* ShareName NUL filter */
#define KLEN (sizeof(KEY) - 1)

static void test_round_trip(void **state)
{
    (void)state;
    shframe_buf_t b = {0};
    assert_int_equal(shframe_begin(&b, "b2", "b1"), 0);
    uint8_t props[] = {0x03, 0x00, 0x01, 't'}; /* Content Type "t" */
    shframe_msg_t m = {1, "a/x", 3, (const uint8_t *)"hi", 2, props, sizeof(props), 1796414400123ull};
    assert_int_equal(shframe_deliver(&b, 42, KEY, KLEN, &m), 0);
    assert_int_equal(shframe_ack(&b, 'A', 42, 0), 0);
    assert_int_equal(shframe_ack(&b, 'N', 7, SHFRAME_NACK_NO_MEMBER), 0);
    assert_int_equal(shframe_reset(&b), 0);
    assert_int_equal(shframe_weight(&b, KEY, KLEN, 3), 0);
    assert_int_equal(b.records, 5);

    shframe_reader_t r;
    shframe_rec_t rec;
    assert_int_equal(shframe_open(&r, b.p, b.len), 0);
    assert_string_equal(r.target, "b2");
    assert_string_equal(r.sender, "b1");
    assert_int_equal(shframe_next(&r, &rec), 1);
    assert_int_equal(rec.type, 'D');
    assert_int_equal(rec.seq, 42);
    assert_int_equal(rec.key_len, KLEN);
    assert_memory_equal(rec.key, KEY, KLEN);
    assert_int_equal(rec.msg.qos, 1);
    assert_int_equal(rec.msg.topic_len, 3);
    assert_memory_equal(rec.msg.topic, "a/x", 3);
    assert_int_equal(rec.msg.payload_len, 2);
    assert_int_equal(rec.msg.props_len, sizeof(props));
    assert_int_equal(rec.msg.expiry_ms, 1796414400123ull);
    assert_int_equal(shframe_next(&r, &rec), 1);
    assert_true(rec.type == 'A' && rec.seq == 42);
    assert_int_equal(shframe_next(&r, &rec), 1);
    assert_true(rec.type == 'N' && rec.seq == 7 && rec.flags == SHFRAME_NACK_NO_MEMBER);
    assert_int_equal(shframe_next(&r, &rec), 1);
    assert_int_equal(rec.type, 'R');
    assert_int_equal(shframe_next(&r, &rec), 1);
    assert_true(rec.type == 'W' && rec.members == 3 && rec.key_len == KLEN);
    assert_int_equal(shframe_next(&r, &rec), 0);

    const char *name, *filter;
    size_t nl, fl;
    assert_int_equal(shframe_key_split(rec.key, rec.key_len, &name, &nl, &filter, &fl), 0);
    assert_true(nl == 1 && name[0] == 'g' && fl == 3 && memcmp(filter, "a/+", 3) == 0);
    assert_int_equal(shframe_key_split("nonul", 5, &name, &nl, &filter, &fl), -1);
    free(b.p);
}

/* Every strict prefix of a valid frame either fails to open or stops with
 * an error at a record (never reads past the end: ASan). */
static void test_truncated_and_bad(void **state)
{
    (void)state;
    shframe_buf_t b = {0};
    shframe_msg_t m = {2, "t", 1, (const uint8_t *)"p", 1, NULL, 0, 0};
    assert_int_equal(shframe_begin(&b, "", "b1"), 0);
    size_t head = b.len;
    assert_int_equal(shframe_deliver(&b, 1, KEY, KLEN, &m), 0);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        shframe_reader_t r;
        shframe_rec_t rec;
        if (shframe_open(&r, copy, n) == 0) {
            int rc = shframe_next(&r, &rec);
            assert_true(n == head ? rc == 0 : rc == -1);
            if (rc < 0)
                assert_non_null(r.error);
        }
        free(copy);
    }
    uint8_t bad[] = {'s', 0, 'b', '1', 0, 'Z'}; /* unknown record type */
    shframe_reader_t r;
    shframe_rec_t rec;
    assert_int_equal(shframe_open(&r, bad, sizeof(bad)), 0);
    assert_int_equal(shframe_next(&r, &rec), -1);
    uint8_t notours[] = {'m', 'a', 0};
    assert_int_equal(shframe_open(&r, notours, sizeof(notours)), -1);
    uint8_t nosender[] = {'s', 'b', '2', 0, 'b', '1'};
    assert_int_equal(shframe_open(&r, nosender, sizeof(nosender)), -1);
    /* a 5.0 property a peer may not send (Topic Alias) is refused */
    uint8_t alias[] = {0x23, 0x00, 0x01};
    shframe_msg_t ma = {1, "t", 1, (const uint8_t *)"p", 1, alias, sizeof(alias), 0};
    assert_int_equal(shframe_begin(&b, "b2", "b1"), 0);
    assert_int_equal(shframe_deliver(&b, 9, KEY, KLEN, &ma), 0);
    assert_int_equal(shframe_open(&r, b.p, b.len), 0);
    assert_int_equal(shframe_next(&r, &rec), -1);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
