/* Unit tests of services/forwarder/body.c: the JSON a pipeline's API gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "body.h"

#define PID "0123456789abcdef01234567"

/* The body and its length, read after the call (the order in which a
 * call's arguments are evaluated is unspecified: gcc reads len first). */
static json_t *message_json(const pipeq_msg_t *m)
{
    size_t len = 0;
    char *txt = body_message(PID, m, &len);
    assert_non_null(txt);
    assert_int_equal(strlen(txt), len);
    json_t *o = json_loads(txt, 0, NULL);
    assert_non_null(o);
    free(txt);
    return o;
}

static void text_payload(void **state)
{
    (void)state;
    /* a bundle's member: its message id "<entry id>:<index>" */
    pipeq_msg_t m = {.eid = "1700000000123-4", .mid = "1700000000123-4:2",
                     .msg = {.topic = "devices/7/telemetry", .topic_len = 19,
                     .payload = (const uint8_t *)"{\"t\":21.5} é", .payload_len = 13, .qos = 1, .retain = true,
                     .client_id = "dev-7+", .client_id_len = 5, .username = "boiler7+", .username_len = 7,
                     .broker = "b1+", .broker_len = 2, .received_ms = 1700000000123}}; /* views: not NUL-terminated */
    json_t *o = message_json(&m);
    assert_string_equal(json_string_value(json_object_get(o, "id")), PID ":1700000000123-4:2");
    assert_string_equal(json_string_value(json_object_get(o, "topic")), "devices/7/telemetry");
    assert_string_equal(json_string_value(json_object_get(o, "payload")), "{\"t\":21.5} é");
    assert_string_equal(json_string_value(json_object_get(o, "encoding")), "utf-8");
    assert_int_equal(json_integer_value(json_object_get(o, "qos")), 1);
    assert_true(json_is_true(json_object_get(o, "retain")));
    assert_string_equal(json_string_value(json_object_get(o, "client_id")), "dev-7");
    assert_string_equal(json_string_value(json_object_get(o, "username")), "boiler7");
    assert_string_equal(json_string_value(json_object_get(o, "broker")), "b1");
    assert_string_equal(json_string_value(json_object_get(o, "received_at")), "2023-11-14T22:13:20.123Z");
    assert_int_equal(json_integer_value(json_object_get(o, "received_at_ms")), 1700000000123);
    json_decref(o);
}

static void binary_payload_is_base64(void **state)
{
    (void)state;
    static const uint8_t bin[] = {0x00, 0xff, 0x10, 'a'};
    /* a NUL, an invalid byte: base64; an empty payload: empty text */
    pipeq_msg_t m = {.eid = "1-0", .mid = "1-0", .msg = {.topic = "b", .topic_len = 1, .payload = bin, .payload_len = 4,
                     .client_id = "", .username = "", .broker = ""}};
    json_t *o = message_json(&m);
    assert_string_equal(json_string_value(json_object_get(o, "encoding")), "base64");
    assert_string_equal(json_string_value(json_object_get(o, "payload")), "AP8QYQ==");
    json_decref(o);
    m.msg.payload_len = 0;
    o = message_json(&m);
    assert_string_equal(json_string_value(json_object_get(o, "encoding")), "utf-8");
    assert_string_equal(json_string_value(json_object_get(o, "payload")), "");
    json_decref(o);
}

/* The text is the one jansson would make of the same object (compact,
 * keys in this order): escapes of quote, backslash and every control
 * character, UTF-8 and DEL kept as they are. */
static void escapes_as_jansson(void **state)
{
    (void)state;
    static const char pay[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9 \xe2\x80\xa8 end";
    pipeq_msg_t m = {.eid = "5-6", .mid = "5-6", .msg = {.topic = "a/\"b\"/\\c/\xc3\xa9\t", .topic_len = 12,
                     .payload = (const uint8_t *)pay, .payload_len = sizeof(pay) - 1, .qos = 2,
                     .client_id = "id\"\n", .client_id_len = 4, .username = "u\\\x02", .username_len = 3, .broker = "b/1",
                     .broker_len = 3, .received_ms = 0}};
    size_t len = 0;
    char *mine = body_message(PID, &m, &len);
    assert_non_null(mine);
    assert_int_equal(strlen(mine), len);
    json_t *o = json_pack("{s:s, s:s, s:s%, s:s%, s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:I}", "id", PID ":5-6",
                          "pipeline", PID, "topic", m.msg.topic, m.msg.topic_len, "payload", pay, sizeof(pay) - 1,
                          "encoding", "utf-8", "qos", 2, "retain", 0, "client_id", m.msg.client_id, "username",
                          m.msg.username, "broker", m.msg.broker, "received_at", "1970-01-01T00:00:00.000Z",
                          "received_at_ms", (json_int_t)0);
    assert_non_null(o);
    char *ref = json_dumps(o, JSON_COMPACT);
    assert_string_equal(mine, ref);
    free(ref);
    json_decref(o);
    free(mine);
}

/* What cannot become JSON text is refused (dead-lettered by fwd.c). */
static void malformed_entries_refused(void **state)
{
    (void)state;
    pipeq_msg_t m = {.eid = "1-0", .mid = "1-0", .msg = {.topic = "a/b", .topic_len = 3, .payload = (const uint8_t *)"\xff",
                     .payload_len = 1, .client_id = "c", .client_id_len = 1, .username = "", .broker = "b1", .broker_len = 2}};
    assert_true(body_ok(&m)); /* a binary payload is fine: base64 */
    m.msg.topic = NULL;
    assert_false(body_ok(&m));
    m.msg.topic = "a/\xff";
    assert_false(body_ok(&m));
    m.msg.topic = "a/\0b"; /* U+0000 */
    assert_false(body_ok(&m));
    m.msg.topic = "a/b";
    m.msg.client_id = "\xc3";
    assert_false(body_ok(&m));
    m.msg.client_id = "c";
    m.msg.username = "\xed\xa0\x80"; /* a surrogate */
    m.msg.username_len = 3;
    assert_false(body_ok(&m));
    m.msg.username = "";
    m.msg.username_len = 0;
    m.msg.broker = "\x80";
    m.msg.broker_len = 1;
    assert_false(body_ok(&m));
    m.msg.broker = "b1\x80"; /* only the view's bytes count */
    m.msg.broker_len = 2;
    assert_true(body_ok(&m));
}

static void join_batch_and_single(void **state)
{
    (void)state;
    char a[] = "{\"a\":1}", b[] = "{\"b\":2}";
    char *parts[] = {a, b};
    size_t lens[] = {7, 7}, len = 0;
    char *out = body_join(parts, lens, 2, 1, &len);
    assert_string_equal(out, "[{\"a\":1},{\"b\":2}]");
    assert_int_equal(len, strlen(out));
    free(out);
    out = body_join(parts, lens, 1, 0, &len);
    assert_string_equal(out, "{\"a\":1}");
    free(out);
    out = body_join(parts, lens, 1, 1, &len);
    assert_string_equal(out, "[{\"a\":1}]");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_payload),
        cmocka_unit_test(binary_payload_is_base64),
        cmocka_unit_test(escapes_as_jansson),
        cmocka_unit_test(malformed_entries_refused),
        cmocka_unit_test(join_batch_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
