/* Unit tests for services/broker/busframe.c: data frames and control bodies
 * round-trip; every truncation of a valid frame is refused at the entry it
 * cuts (never read past the end: inputs sit against a guard page); each
 * malformed header is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "busframe.h"
#include "guard.h"

/* A frame with label "a/" and three entries: an eid'd QoS 1, an empty
 * payload QoS 0, a QoS 2 with an empty topic rest. */
static size_t build(uint8_t *f, char kind)
{
    bool r = kind == 'r';
    size_t n = busframe_head(f, kind, "a/", 2);
    n += busframe_put(f + n, 1, r, "b1:5", 4, "x", 1, (const uint8_t *)"hello", 5);
    n += busframe_put(f + n, 0, r, NULL, 0, "yy/z", 4, NULL, 0);
    n += busframe_put(f + n, 2, r, NULL, 0, "", 0, (const uint8_t *)"\0\1", 2);
    return n;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct guard g = guard_new();
    uint8_t f[256];
    size_t n = build(f, 'm');
    assert_int_equal(n, 4 + busframe_entry_size(4, 1, 5) + busframe_entry_size(0, 4, 0) +
                            busframe_entry_size(0, 0, 2));
    const uint8_t *in = guard_put_bytes(&g, f, n);
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, in, n), 0);
    assert_int_equal(r.kind, 'm');
    assert_int_equal(r.label_len, 2);
    assert_memory_equal(r.label, "a/", 2);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.qos, 1);
    assert_false(e.retain);
    assert_int_equal(e.eid_len, 4);
    assert_memory_equal(e.eid, "b1:5", 4);
    assert_int_equal(e.rest_len, 1);
    assert_memory_equal(e.rest, "x", 1);
    assert_int_equal(e.payload_len, 5);
    assert_memory_equal(e.payload, "hello", 5);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.qos, 0);
    assert_int_equal(e.eid_len, 0);
    assert_int_equal(e.rest_len, 4);
    assert_memory_equal(e.rest, "yy/z", 4);
    assert_int_equal(e.payload_len, 0);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.qos, 2);
    assert_int_equal(e.rest_len, 0);
    assert_int_equal(e.payload_len, 2);
    assert_memory_equal(e.payload, "\0\1", 2);
    assert_int_equal(busframe_next(&r, &e), 0);
    assert_int_equal(busframe_next(&r, &e), 0);
    assert_int_equal(r.index, 3);
    guard_free(&g);
}

static void test_retained_frame(void **state)
{
    (void)state;
    uint8_t f[256];
    size_t n = build(f, 'r');
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, f, n), 0);
    assert_int_equal(r.kind, 'r');
    for (int i = 0; i < 3; i++) {
        assert_int_equal(busframe_next(&r, &e), 1);
        assert_true(e.retain);
    }
    assert_int_equal(busframe_next(&r, &e), 0);
}

/* Every prefix of a valid frame: the head or an entry is refused, nothing
 * is read past the end, and entries before the cut still decode. */
static void test_truncations(void **state)
{
    (void)state;
    struct guard g = guard_new();
    uint8_t f[256];
    size_t n = build(f, 'm');
    size_t ends[3] = {4 + busframe_entry_size(4, 1, 5), 0, n};
    ends[1] = ends[0] + busframe_entry_size(0, 4, 0);
    for (size_t cut = 0; cut < n; cut++) {
        const uint8_t *in = guard_put_bytes(&g, f, cut);
        busframe_reader_t r;
        busframe_entry_t e;
        if (cut < 4) { /* "m" "a" "/" then the NUL */
            assert_int_equal(busframe_open(&r, in, cut), -1);
            assert_non_null(r.error);
            continue;
        }
        assert_int_equal(busframe_open(&r, in, cut), 0);
        size_t whole = 0;
        while (whole < 3 && ends[whole] <= cut)
            whole++;
        for (size_t i = 0; i < whole; i++)
            assert_int_equal(busframe_next(&r, &e), 1);
        if (cut == 4 || (whole && ends[whole - 1] == cut)) {
            assert_int_equal(busframe_next(&r, &e), 0);
        } else {
            assert_int_equal(busframe_next(&r, &e), -1);
            assert_int_equal(r.index, whole);
            assert_non_null(r.error);
            assert_int_equal(busframe_next(&r, &e), 0); /* nothing after it is read */
        }
    }
    guard_free(&g);
}

static void expect_malformed(const uint8_t *f, size_t n, const char *why)
{
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, f, n), 0);
    assert_int_equal(busframe_next(&r, &e), -1);
    assert_string_equal(r.error, why);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    busframe_reader_t r;
    assert_int_equal(busframe_open(&r, (const uint8_t *)"x\0", 2), -1);
    assert_string_equal(r.error, "not a data frame");
    assert_int_equal(busframe_open(&r, (const uint8_t *)"mab", 3), -1);
    assert_string_equal(r.error, "no label end");

    uint8_t f[64];
    size_t h = busframe_head(f, 'm', "", 0);
    size_t n = h + busframe_put(f + h, 1, false, NULL, 0, "t", 1, (const uint8_t *)"p", 1);
    f[h] = 3; /* QoS 3 */
    expect_malformed(f, n, "bad entry header");
    f[h] = 0x21; /* an unknown flag bit */
    expect_malformed(f, n, "bad entry header");
    f[h] = 5; /* retained entry in an 'm' frame */
    expect_malformed(f, n, "retain flag outside an 'r' frame");
    f[h] = 1;
    f[h + 3] = 200; /* topic rest longer than the frame */
    expect_malformed(f, n, "bad topic length");
    f[h + 3] = 1;
    f[h + 8] = 9; /* payload longer than the frame */
    expect_malformed(f, n, "bad payload length");
    f[h + 8] = 1;
    f[0] = 'r'; /* a plain entry in an 'r' frame */
    expect_malformed(f, n, "retain flag outside an 'r' frame");
}

/* label + rest over 65535 bytes is not a topic. */
/* 5.0 properties: Content Type "t", User Property ("k","v"). */
static const uint8_t PROPS[] = {0x03, 0, 1, 't', 0x26, 0, 1, 'k', 0, 1, 'v'};

static void test_ext_round_trip(void **state)
{
    (void)state;
    struct guard g = guard_new();
    uint8_t f[256];
    busframe_ext_t both = {PROPS, sizeof(PROPS), 0x0102030405060708ull};
    busframe_ext_t expiry_only = {NULL, 0, 1796414400123ull};
    busframe_ext_t none = {NULL, 0, 0};
    size_t n = busframe_head(f, 'm', "a/", 2);
    size_t e1 = busframe_entry_size_ext(4, 1, 5, &both);
    assert_int_equal(e1, busframe_entry_size(4, 1, 5) + 8 + 4 + sizeof(PROPS));
    n += busframe_put_ext(f + n, 1, false, "b1:5", 4, "x", 1, (const uint8_t *)"hello", 5, &both);
    n += busframe_put_ext(f + n, 0, false, NULL, 0, "y", 1, NULL, 0, &expiry_only);
    /* an empty 5.0 part is the 3.1.1 entry, byte for byte */
    size_t before = n;
    n += busframe_put_ext(f + n, 2, false, NULL, 0, "z", 1, (const uint8_t *)"q", 1, &none);
    uint8_t plain[32];
    size_t pn = busframe_put(plain, 2, false, NULL, 0, "z", 1, (const uint8_t *)"q", 1);
    assert_int_equal(n - before, pn);
    assert_memory_equal(f + before, plain, pn);
    assert_int_equal(n, 4 + e1 + busframe_entry_size_ext(0, 1, 0, &expiry_only) + pn);

    const uint8_t *in = guard_put_bytes(&g, f, n);
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, in, n), 0);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.expiry_ms, 0x0102030405060708ull);
    assert_int_equal(e.props_len, sizeof(PROPS));
    assert_memory_equal(e.props, PROPS, sizeof(PROPS));
    assert_int_equal(e.payload_len, 5);
    assert_memory_equal(e.payload, "hello", 5);
    assert_memory_equal(e.eid, "b1:5", 4);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.expiry_ms, 1796414400123ull);
    assert_int_equal(e.props_len, 0);
    assert_null(e.props);
    assert_int_equal(e.payload_len, 0);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.expiry_ms, 0);
    assert_int_equal(e.props_len, 0);
    assert_int_equal(e.qos, 2);
    assert_int_equal(busframe_next(&r, &e), 0);

    /* every truncation fails at the entry it cuts, never reads past the end */
    for (size_t cut = 5; cut < n; cut++) {
        const uint8_t *t = guard_put_bytes(&g, f, cut);
        assert_int_equal(busframe_open(&r, t, cut), 0);
        int rc;
        while ((rc = busframe_next(&r, &e)) > 0)
            ;
        if (cut != 4 + e1 && cut != 4 + e1 + busframe_entry_size_ext(0, 1, 0, &expiry_only))
            assert_int_equal(rc, -1);
    }
    guard_free(&g);
}

static void test_ext_malformed(void **state)
{
    (void)state;
    uint8_t f[128];
    size_t h = busframe_head(f, 'm', "", 0);
    busframe_ext_t x = {PROPS, sizeof(PROPS), 7};
    size_t n = h + busframe_put_ext(f + h, 1, false, NULL, 0, "t", 1, (const uint8_t *)"p", 1, &x);
    /* layout: flags, elen, rest len (2), "t", expiry (8), props len (4), props, payload */
    size_t at_exp = h + 5, at_plen = at_exp + 8, at_props = at_plen + 4;
    f[at_exp + 7] = 0; /* expiry 0 with its flag: not the one encoding */
    expect_malformed(f, n, "bad expiry");
    f[at_exp + 7] = 7;
    f[at_plen + 3] = 0; /* properties flag with length 0 */
    expect_malformed(f, n, "bad properties length");
    f[at_plen + 3] = 200; /* longer than the frame */
    expect_malformed(f, n, "bad properties length");
    f[at_plen + 3] = sizeof(PROPS);
    f[at_props] = 0x7f; /* not a property */
    expect_malformed(f, n, "bad properties");
    f[at_props] = 0x23; /* Topic Alias: per hop, never forwarded (2 bytes: 0x00 0x01) */
    expect_malformed(f, n, "bad properties");
    f[at_props] = 0x03;
    f[at_props + 3] = 0xff; /* Content Type not UTF-8 */
    expect_malformed(f, n, "bad properties");
    f[at_props + 3] = 't';

    /* Message Expiry Interval travels as the entry's expiry, never as a property */
    static const uint8_t mei[] = {0x02, 0, 0, 0, 5};
    busframe_ext_t y = {mei, sizeof(mei), 0};
    n = h + busframe_put_ext(f + h, 1, false, NULL, 0, "t", 1, NULL, 0, &y);
    expect_malformed(f, n, "bad properties");
    /* Subscription Identifier: per subscriber */
    static const uint8_t sid[] = {0x0B, 5};
    busframe_ext_t z = {sid, sizeof(sid), 0};
    n = h + busframe_put_ext(f + h, 1, false, NULL, 0, "t", 1, NULL, 0, &z);
    expect_malformed(f, n, "bad properties");
}

static void test_topic_too_long(void **state)
{
    (void)state;
    size_t llen = 40000, rest = 30000;
    uint8_t *f = malloc(llen + 2 + busframe_entry_size(0, rest, 0));
    char *t = malloc(llen + rest);
    assert_non_null(f);
    assert_non_null(t);
    memset(t, 'a', llen + rest);
    size_t n = busframe_head(f, 'm', t, llen);
    n += busframe_put(f + n, 0, false, NULL, 0, t + llen, rest, NULL, 0);
    expect_malformed(f, n, "bad topic length");
    free(f);
    free(t);
}

static void test_control_round_trip(void **state)
{
    (void)state;
    struct guard g = guard_new();
    busctl_t in = {BUSCTL_PSUB_ADD, "broker-2", 8, "dev/1", 5, "s/#", 3, 2}, out;
    uint8_t body[64];
    size_t n = busctl_size(&in);
    assert_int_equal(n, 1 + 1 + 8 + 2 + 5 + 2 + 3 + 1);
    assert_int_equal(busctl_encode(&in, body), n);
    const uint8_t *p = guard_put_bytes(&g, body, n);
    assert_int_equal(busctl_decode(p, n, &out), 0);
    assert_int_equal(out.type, BUSCTL_PSUB_ADD);
    assert_int_equal(out.target_len, 8);
    assert_memory_equal(out.target, "broker-2", 8);
    assert_int_equal(out.cid_len, 5);
    assert_memory_equal(out.cid, "dev/1", 5);
    assert_int_equal(out.filter_len, 3);
    assert_memory_equal(out.filter, "s/#", 3);
    assert_int_equal(out.qos, 2);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(busctl_decode(guard_put_bytes(&g, body, cut), cut, &out), -1);
    in.target_len = 256;
    assert_int_equal(busctl_size(&in), 0);
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_retained_frame),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_ext_round_trip),
        cmocka_unit_test(test_ext_malformed),
        cmocka_unit_test(test_topic_too_long),
        cmocka_unit_test(test_control_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
