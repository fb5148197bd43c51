/* Unit tests for services/broker/busbatch.c: the label is the longest
 * prefix some peer wants, at a level boundary; messages under one label
 * share a frame, in order; an interest change and a retained message emit
 * what is pending first; a full frame is emitted and the next one started.
 * Frames are read back with busframe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "busbatch.h"
#include "busframe.h"

#define FRAMES_MAX 64
struct sink {
    int n;
    uint8_t *f[FRAMES_MAX];
    size_t len[FRAMES_MAX];
    uint32_t count[FRAMES_MAX];
};

static void emit(void *arg, uint8_t *frame, size_t len, uint32_t count)
{
    struct sink *s = arg;
    assert_true(s->n < FRAMES_MAX);
    s->f[s->n] = frame;
    s->len[s->n] = len;
    s->count[s->n++] = count;
}

static void sink_free(struct sink *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->f[i]);
    s->n = 0;
}

static int add_bytes(busbatch_t *bb, const char *topic, const uint8_t *payload, size_t len,
                     uint8_t qos, bool retain)
{
    msg_parts_t p = {.topic = topic, .topic_len = (uint16_t)strlen(topic), .payload = payload,
                     .payload_len = (uint32_t)len, .qos = qos, .retain = retain};
    return busbatch_add(bb, &p, NULL, 0);
}

static int add(busbatch_t *bb, const char *topic, const char *payload, bool retain)
{
    return add_bytes(bb, topic, (const uint8_t *)payload, strlen(payload), 1, retain);
}

static void interest(busbatch_t *bb, const char *prefix, bool on)
{
    assert_int_equal(busbatch_interest(bb, prefix, strlen(prefix), on), 0);
}

/* Frame i's label, and its entries' full topics and payloads joined by ' '. */
static void frame_text(const struct sink *s, int i, char *label, char *out)
{
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, s->f[i], s->len[i]), 0);
    memcpy(label, r.label, r.label_len);
    label[r.label_len] = '\0';
    out[0] = '\0';
    int rc;
    while ((rc = busframe_next(&r, &e)) > 0) {
        size_t o = strlen(out);
        memcpy(out + o, r.label, r.label_len);
        memcpy(out + o + r.label_len, e.rest, e.rest_len);
        out[o + r.label_len + e.rest_len] = '=';
        memcpy(out + o + r.label_len + e.rest_len + 1, e.payload, e.payload_len);
        strcpy(out + o + r.label_len + e.rest_len + 1 + e.payload_len, " ");
    }
    assert_int_equal(rc, 0);
    assert_int_equal(r.index, s->count[i]);
}

static void test_labels(void **state)
{
    (void)state;
    struct sink s = {0};
    busbatch_t *bb = busbatch_new(emit, &s);
    assert_non_null(bb);
    assert_int_equal(add(bb, "a/b/c", "0", false), 0); /* nobody wants anything */
    interest(bb, "a/", true);
    interest(bb, "a/b", true);
    interest(bb, "a/bx", true); /* not at a boundary of a/b/c */
    assert_int_equal(busbatch_interests(bb), 3);
    assert_int_equal(add(bb, "a/b/c", "1", false), 1);
    assert_int_equal(add(bb, "a/b", "2", false), 1);
    assert_int_equal(add(bb, "a/x", "3", false), 1);
    assert_int_equal(add(bb, "a/b/c", "4", false), 1);
    assert_int_equal(add(bb, "b/c", "5", false), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(busbatch_pending(bb), 2);
    busbatch_flush(bb);
    assert_int_equal(s.n, 2);
    assert_int_equal(busbatch_pending(bb), 0);
    char label[64], text[256];
    frame_text(&s, 0, label, text);
    assert_string_equal(label, "a/b");
    assert_string_equal(text, "a/b/c=1 a/b=2 a/b/c=4 ");
    frame_text(&s, 1, label, text);
    assert_string_equal(label, "a/");
    assert_string_equal(text, "a/x=3 ");
    sink_free(&s);
    busbatch_destroy(&bb);
    assert_null(bb);
}

static void test_interest_change_emits_first(void **state)
{
    (void)state;
    struct sink s = {0};
    busbatch_t *bb = busbatch_new(emit, &s);
    interest(bb, "", true); /* a peer with '#' */
    assert_int_equal(add(bb, "a/b", "1", false), 1);
    interest(bb, "a/b", true);
    assert_int_equal(s.n, 1); /* chosen under the old set: sent before it changes */
    assert_int_equal(add(bb, "a/b", "2", false), 1);
    busbatch_flush(bb);
    char label[64], text[256];
    frame_text(&s, 0, label, text);
    assert_string_equal(label, "");
    assert_string_equal(text, "a/b=1 ");
    frame_text(&s, 1, label, text);
    assert_string_equal(label, "a/b");
    interest(bb, "a/b", false);
    interest(bb, "", false);
    assert_int_equal(add(bb, "a/b", "3", false), 0);
    sink_free(&s);
    busbatch_destroy(&bb);
}

static void test_retained_alone_in_order(void **state)
{
    (void)state;
    struct sink s = {0};
    busbatch_t *bb = busbatch_new(emit, &s);
    assert_int_equal(add(bb, "r/1", "0", true), 1); /* every broker takes retained ones */
    interest(bb, "r/", true);
    assert_int_equal(add(bb, "r/2", "a", false), 1);
    assert_int_equal(add(bb, "r/2", "b", true), 1);
    assert_int_equal(s.n, 3);
    assert_int_equal(busbatch_pending(bb), 0);
    char label[64], text[256];
    frame_text(&s, 0, label, text);
    assert_int_equal(s.f[0][0], 'r');
    assert_string_equal(text, "r/1=0 ");
    frame_text(&s, 1, label, text);
    assert_string_equal(text, "r/2=a ");
    frame_text(&s, 2, label, text);
    assert_int_equal(s.f[2][0], 'r');
    assert_string_equal(label, "r/2");
    sink_free(&s);
    busbatch_destroy(&bb);
}

static void test_full_frame_and_destroy(void **state)
{
    (void)state;
    struct sink s = {0};
    busbatch_t *bb = busbatch_new(emit, &s);
    interest(bb, "big", true);
    static uint8_t payload[BUSBATCH_BYTES / 3];
    memset(payload, 'p', sizeof(payload));
    for (int i = 0; i < 3; i++)
        assert_int_equal(add_bytes(bb, "big", payload, sizeof(payload), 0, false), 1);
    assert_int_equal(s.n, 1); /* the third did not fit the first frame */
    assert_int_equal(s.count[0], 2);
    assert_int_equal(busbatch_pending(bb), 1);
    /* larger than a frame: a frame of its own size */
    static uint8_t huge[BUSBATCH_BYTES * 2];
    assert_int_equal(add_bytes(bb, "big", huge, sizeof(huge), 0, false), 1);
    assert_int_equal(s.n, 2);
    sink_free(&s);
    busbatch_destroy(&bb); /* frees the pending frame (ASan checks) */
    assert_int_equal(s.n, 0);
}

/* A message's 5.0 part (its record's properties and expiry) and entry id
 * go into its entry. */
static void test_v5_part_and_eid(void **state)
{
    (void)state;
    struct sink s = {0};
    busbatch_t *bb = busbatch_new(emit, &s);
    interest(bb, "v/", true);
    static const uint8_t props[] = {0x03, 0x00, 0x01, 'x'}; /* Content Type "x" */
    msg_parts_t p = {.topic = "v/1", .topic_len = 3, .payload = (const uint8_t *)"pl",
                     .payload_len = 2, .qos = 1, .props = props, .props_len = sizeof(props),
                     .expiry_ms = 1234567};
    assert_int_equal(busbatch_add(bb, &p, "b1:7", 4), 1);
    busbatch_flush(bb);
    assert_int_equal(s.n, 1);
    busframe_reader_t r;
    busframe_entry_t e;
    assert_int_equal(busframe_open(&r, s.f[0], s.len[0]), 0);
    assert_int_equal(busframe_next(&r, &e), 1);
    assert_int_equal(e.qos, 1);
    assert_int_equal(e.expiry_ms, 1234567);
    assert_int_equal(e.props_len, sizeof(props));
    assert_memory_equal(e.props, props, sizeof(props));
    assert_int_equal(e.eid_len, 4);
    assert_memory_equal(e.eid, "b1:7", 4);
    assert_memory_equal(e.payload, "pl", 2);
    sink_free(&s);
    busbatch_destroy(&bb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_interest_change_emits_first),
        cmocka_unit_test(test_retained_alone_in_order),
        cmocka_unit_test(test_full_frame_and_destroy),
        cmocka_unit_test(test_v5_part_and_eid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
