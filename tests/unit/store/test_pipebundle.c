/* Unit tests for lib/store/pipebundle.c: several packed messages in one
 * queue entry. A bundle built with the head writers decodes to its members
 * (views into the input, byte for byte); the bytes are the documented
 * layout; the count the queue's bookkeeping reads is the header's (1 for a
 * field too short to hold one), as the Lua scripts read it; every bundle
 * whose framing is wrong is refused and never read past its end (guard
 * page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "store/pipebundle.h"
#include "store/pipentry.h"

/* A bundle of the members m[0..n-1] (lengths l) at out; returns its size. */
static size_t build(uint8_t *out, const char *const *m, const size_t *l, size_t n)
{
    pipebundle_head(out, n);
    size_t at = PIPEBUNDLE_HEAD;
    for (size_t i = 0; i < n; i++) {
        pipebundle_member_head(out + at, l[i]);
        memcpy(out + at + PIPEBUNDLE_MEMBER_HEAD, m[i], l[i]);
        at += PIPEBUNDLE_MEMBER_HEAD + l[i];
    }
    return at;
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *m[] = {"first", "", "\x00\xff third"};
    size_t l[] = {5, 0, 8};
    uint8_t buf[64];
    size_t n = build(buf, m, l, 3);
    assert_int_equal(n, PIPEBUNDLE_HEAD + 3 * PIPEBUNDLE_MEMBER_HEAD + 13);
    struct guard g = guard_new();
    const uint8_t *in = guard_put_bytes(&g, buf, n);
    assert_int_equal(pipebundle_count(in, n), 3);
    pipebundle_member_t out[3];
    assert_int_equal(pipebundle_decode(in, n, out, 3), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].len, l[i]);
        assert_memory_equal(out[i].b, m[i], l[i]);
    }
    assert_ptr_equal(out[0].b, in + PIPEBUNDLE_HEAD + PIPEBUNDLE_MEMBER_HEAD);
    /* too little room for the members: refused, nothing read past n */
    assert_int_equal(pipebundle_decode(in, n, out, 2), -1);
    guard_free(&g);
}

/* Members that are pipentries decode as such (the forwarder's path). */
static void test_pipentry_members(void **state)
{
    (void)state;
    pipentry_t e = {.topic = "a/b", .topic_len = 3, .payload = (const uint8_t *)"x", .payload_len = 1,
                    .qos = 1, .client_id = "c", .client_id_len = 1, .username = "", .broker = "b1",
                    .broker_len = 2, .received_ms = 42};
    uint8_t one[64];
    size_t el = pipentry_encode(&e, one);
    const char *m[] = {(const char *)one, (const char *)one};
    size_t l[] = {el, el};
    uint8_t buf[160];
    size_t n = build(buf, m, l, 2);
    pipebundle_member_t out[2];
    assert_int_equal(pipebundle_decode(buf, n, out, 2), 2);
    pipentry_t d;
    assert_int_equal(pipentry_decode(out[1].b, out[1].len, &d), 0);
    assert_int_equal(d.topic_len, 3);
    assert_memory_equal(d.topic, "a/b", 3);
    assert_int_equal(d.received_ms, 42);
}

/* The layout of pipebundle.h byte by byte (the Lua scripts and the tests'
 * Python reader depend on it). */
static void test_layout(void **state)
{
    (void)state;
    const char *m[] = {"AB"};
    size_t l[] = {2};
    uint8_t buf[16];
    static const uint8_t want[] = {1, 0, 1, 0, 0, 0, 2, 'A', 'B'};
    assert_int_equal(build(buf, m, l, 1), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    pipebundle_head(buf, 0x1234);
    assert_int_equal(buf[1], 0x12);
    assert_int_equal(buf[2], 0x34);
    assert_int_equal(pipebundle_count(buf, 3), 0x1234);
    pipebundle_member_head(buf, 0x01020304);
    static const uint8_t len[] = {1, 2, 3, 4};
    assert_memory_equal(buf, len, 4);
    /* too short to hold a count: one message (as the scripts count it) */
    assert_int_equal(pipebundle_count(buf, 0), 1);
    assert_int_equal(pipebundle_count(buf, 2), 1);
}

static void expect_bad(const uint8_t *b, size_t n)
{
    struct guard g = guard_new();
    pipebundle_member_t out[8];
    assert_int_equal(pipebundle_decode(guard_put_bytes(&g, b, n), n, out, 8), -1);
    guard_free(&g);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *m[] = {"one", "two!"};
    size_t l[] = {3, 4};
    uint8_t buf[64], b[64];
    size_t n = build(buf, m, l, 2);
    for (size_t cut = 0; cut < n; cut++) /* every cut: a member or the count short */
        expect_bad(buf, cut);
    memcpy(b, buf, n);
    b[n] = 'x'; /* a byte left over */
    expect_bad(b, n + 1);
    memcpy(b, buf, n);
    b[0] = 2; /* another version */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[2] = 3; /* more members than there are */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[2] = 1; /* fewer: the second one is left over */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[2] = 0; /* none */
    expect_bad(b, PIPEBUNDLE_HEAD);
    expect_bad(b, n);
    memcpy(b, buf, n);
    memset(b + PIPEBUNDLE_HEAD, 0xff, 4); /* a length past the end (and past 2^31) */
    expect_bad(b, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pipentry_members),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
