/* Unit tests for lib/rpc/rpc.c: codec round trips, hostile bodies, limits,
 * and the ZeroMQ framing over inproc sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "base/err.h"
#include "rpc/rpc.h"

static rpc_auth_request_t sample_request(void)
{
    static const uint8_t pw[] = {'s', 'e', 0, 'c', 'r', 'e', 't', 0xff};
    return (rpc_auth_request_t){
        .request_id = 0x1122334455667788ull,
        .deadline_ms = 1700000000123ull,
        .broker_id = "broker-1",
        .client_id = "dev-42",
        .username = "alice",
        .password = pw,
        .password_len = sizeof(pw),
        .has_password = true,
        .peer = "10.0.0.7:51234",
        .protocol_version = 5,
        .tls_sni = "",
        .tls_cert_fingerprint = "",
    };
}

/* Encodes into a fresh heap buffer; *len gets the size. */
static uint8_t *encode_request(const rpc_auth_request_t *r, size_t *len)
{
    int n = rpc_auth_request_encode(r, NULL, 0);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(rpc_auth_request_encode(r, buf, (size_t)n), n);
    *len = (size_t)n;
    return buf;
}

static void test_request_round_trip(void **state)
{
    rpc_auth_request_t in = sample_request(), out;
    size_t len;
    uint8_t *buf = encode_request(&in, &len);
    assert_int_equal(rpc_auth_request_decode(buf, len, &out), 0);
    assert_int_equal(out.request_id, in.request_id);
    assert_int_equal(out.deadline_ms, in.deadline_ms);
    assert_string_equal(out.broker_id, "broker-1");
    assert_string_equal(out.client_id, "dev-42");
    assert_string_equal(out.username, "alice");
    assert_true(out.has_password);
    assert_int_equal(out.password_len, in.password_len);
    assert_memory_equal(out.password, in.password, in.password_len);
    assert_string_equal(out.peer, "10.0.0.7:51234");
    assert_int_equal(out.protocol_version, 5);
    assert_string_equal(out.tls_sni, "");

    const uint8_t *pw = out.password;
    rpc_auth_request_wipe_password(&out);
    assert_int_equal(out.password_len, 0);
    for (size_t i = 0; i < in.password_len; i++)
        assert_int_equal(pw[i], 0);
    rpc_auth_request_fini(&out);
    assert_null(out.owned_);
    rpc_auth_request_fini(&out); /* twice is harmless */
    free(buf);
}

/* The facts of a client certificate travel with the request. */
static void test_request_tls_facts_round_trip(void **state)
{
    rpc_auth_request_t in = sample_request(), out;
    in.tls_cert_fingerprint = "SHA256:932e50d1c0170388b2258081699741f8aa3f4d859826a2ffa33feaf930c5c4a2";
    in.tls_cert_subject = "CN=unit-device,O=Roost Test";
    in.tls_cert_issuer = "CN=Roost Test CA";
    in.tls_cert_serial = "1A2B3C";
    in.tls_cert_not_before = 1796416914;
    in.tls_cert_not_after = 2111776914;
    size_t len;
    uint8_t *buf = encode_request(&in, &len);
    assert_int_equal(rpc_auth_request_decode(buf, len, &out), 0);
    assert_string_equal(out.tls_cert_fingerprint, in.tls_cert_fingerprint);
    assert_string_equal(out.tls_cert_subject, in.tls_cert_subject);
    assert_string_equal(out.tls_cert_issuer, in.tls_cert_issuer);
    assert_string_equal(out.tls_cert_serial, "1A2B3C");
    assert_int_equal(out.tls_cert_not_before, 1796416914);
    assert_int_equal(out.tls_cert_not_after, 2111776914);
    rpc_auth_request_fini(&out);
    free(buf);
    /* without a certificate: empty strings and zero times */
    in = sample_request();
    buf = encode_request(&in, &len);
    assert_int_equal(rpc_auth_request_decode(buf, len, &out), 0);
    assert_string_equal(out.tls_cert_subject, "");
    assert_int_equal(out.tls_cert_not_after, 0);
    rpc_auth_request_fini(&out);
    free(buf);
}

static void test_request_anonymous_and_empty_password(void **state)
{
    rpc_auth_request_t in = sample_request(), out;
    in.username = NULL;
    in.has_password = false;
    in.peer = NULL;
    size_t len;
    uint8_t *buf = encode_request(&in, &len);
    assert_int_equal(rpc_auth_request_decode(buf, len, &out), 0);
    assert_null(out.username);
    assert_false(out.has_password);
    assert_string_equal(out.peer, "");
    rpc_auth_request_fini(&out);
    free(buf);

    in.username = "";
    in.has_password = true;
    in.password = NULL;
    in.password_len = 0;
    buf = encode_request(&in, &len);
    assert_int_equal(rpc_auth_request_decode(buf, len, &out), 0);
    assert_non_null(out.username);
    assert_string_equal(out.username, "");
    assert_true(out.has_password);
    assert_int_equal(out.password_len, 0);
    rpc_auth_request_fini(&out);
    free(buf);
}

static void test_encode_size_query_writes_nothing(void **state)
{
    rpc_auth_request_t in = sample_request();
    uint8_t small[4] = {0xaa, 0xaa, 0xaa, 0xaa};
    int n = rpc_auth_request_encode(&in, small, sizeof(small));
    assert_true(n > (int)sizeof(small));
    for (size_t i = 0; i < sizeof(small); i++)
        assert_int_equal(small[i], 0xaa);
}

static void test_request_required_fields(void **state)
{
    rpc_auth_request_t in = sample_request();
    in.broker_id = NULL;
    assert_int_equal(rpc_auth_request_encode(&in, NULL, 0), ROOST_EINVAL);
    in = sample_request();
    in.client_id = NULL;
    assert_int_equal(rpc_auth_request_encode(&in, NULL, 0), ROOST_EINVAL);
    /* Body without request id or deadline: field 3 (broker_id) only. */
    static const uint8_t only_broker[] = {0x1a, 0x01, 'b'};
    rpc_auth_request_t out;
    assert_int_equal(rpc_auth_request_decode(only_broker, sizeof(only_broker), &out), ROOST_EPROTO_MALFORMED);
    assert_null(out.owned_);
}

static void test_request_truncated(void **state)
{
    rpc_auth_request_t in = sample_request(), out;
    size_t len;
    uint8_t *buf = encode_request(&in, &len);
    /* Every prefix decodes or fails cleanly; cutting inside the last field
     * (the empty fingerprint's length byte) must fail. */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = rpc_auth_request_decode(buf, cut, &out);
        assert_true(rc == 0 || rc == ROOST_EPROTO_MALFORMED);
        rpc_auth_request_fini(&out);
    }
    assert_int_equal(rpc_auth_request_decode(buf, len - 1, &out), ROOST_EPROTO_MALFORMED);
    /* Cut in the middle of the password bytes. */
    assert_int_equal(rpc_auth_request_decode(buf, 40, &out), ROOST_EPROTO_MALFORMED);
    free(buf);
}

static void test_garbage(void **state)
{
    static const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t group[] = {0x08, 0x01, 0x10, 0x01, 0x1b, 0x1c}; /* wire type 3 */
    static const uint8_t huge_len[] = {0x08, 0x01, 0x10, 0x01, 0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    rpc_auth_request_t out;
    rpc_auth_reply_t rep;
    rpc_change_event_t ev;
    assert_int_equal(rpc_auth_request_decode(ff, sizeof(ff), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_request_decode(group, sizeof(group), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_request_decode(huge_len, sizeof(huge_len), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_decode(ff, sizeof(ff), &rep), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_change_event_decode(ff, sizeof(ff), &ev), ROOST_EPROTO_MALFORMED);

    /* Pseudo-random bodies: never crash, never leak (ASan). */
    uint32_t x = 12345;
    uint8_t rnd[64];
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof(rnd); i++) {
            x = x * 1103515245u + 12345u;
            rnd[i] = (uint8_t)(x >> 16);
        }
        size_t n = (size_t)(x % sizeof(rnd));
        if (rpc_auth_request_decode(rnd, n, &out) == 0)
            rpc_auth_request_fini(&out);
        if (rpc_auth_reply_decode(rnd, n, &rep) == 0)
            rpc_auth_reply_fini(&rep);
        if (rpc_change_event_decode(rnd, n, &ev) == 0)
            rpc_change_event_fini(&ev);
    }
}

static void test_nul_inside_string_rejected(void **state)
{
    /* request_id 1, deadline 1, username "a\0b" */
    static const uint8_t body[] = {0x08, 0x01, 0x10, 0x01, 0x22, 0x01, 'c', 0x1a, 0x01, 'b',
                                   0x2a, 0x03, 'a', 0x00, 'b'};
    rpc_auth_request_t out;
    assert_int_equal(rpc_auth_request_decode(body, sizeof(body), &out), ROOST_EPROTO_MALFORMED);
    /* The same with "ab" decodes; a NUL in the password (bytes) is fine. */
    static const uint8_t ok[] = {0x08, 0x01, 0x10, 0x01, 0x22, 0x01, 'c', 0x1a, 0x01, 'b',
                                 0x2a, 0x02, 'a', 'b', 0x32, 0x02, 0x00, 0x01};
    assert_int_equal(rpc_auth_request_decode(ok, sizeof(ok), &out), 0);
    assert_string_equal(out.username, "ab");
    assert_int_equal(out.password_len, 2);
    rpc_auth_request_fini(&out);
}

static void test_oversized_fields(void **state)
{
    rpc_auth_request_t in = sample_request(), out;
    char *big = malloc(RPC_MAX_MQTT_STR + 2);
    assert_non_null(big);
    memset(big, 'u', RPC_MAX_MQTT_STR + 1);
    big[RPC_MAX_MQTT_STR + 1] = '\0';
    in.username = big;
    assert_int_equal(rpc_auth_request_encode(&in, NULL, 0), ROOST_EPROTO_TOO_LARGE);
    big[RPC_MAX_MQTT_STR] = '\0'; /* exactly the limit is fine */
    assert_true(rpc_auth_request_encode(&in, NULL, 0) > (int)RPC_MAX_MQTT_STR);
    in = sample_request();
    in.password_len = RPC_MAX_MQTT_STR + 1;
    in.password = (const uint8_t *)big;
    assert_int_equal(rpc_auth_request_encode(&in, NULL, 0), ROOST_EPROTO_TOO_LARGE);
    in = sample_request();
    big[RPC_MAX_ID + 1] = '\0';
    in.broker_id = big;
    assert_int_equal(rpc_auth_request_encode(&in, NULL, 0), ROOST_EPROTO_TOO_LARGE);

    /* Decoder: a 300-byte broker_id on the wire. */
    uint8_t body[320] = {0x08, 0x01, 0x10, 0x01, 0x22, 0x00, 0x1a, 0xac, 0x02};
    memset(body + 9, 'b', 300);
    assert_int_equal(rpc_auth_request_decode(body, 309, &out), ROOST_EPROTO_TOO_LARGE);

    /* A body over RPC_MAX_BODY is refused before parsing. */
    uint8_t *huge = calloc(1, RPC_MAX_BODY + 1);
    assert_non_null(huge);
    assert_int_equal(rpc_auth_request_decode(huge, RPC_MAX_BODY + 1, &out), ROOST_EPROTO_TOO_LARGE);
    free(huge);
    free(big);
}

static rpc_auth_reply_t sample_reply(void)
{
    static const char *const groups[] = {"g1", "g2"};
    static const rpc_acl_entry_t acl[] = {
        {RPC_ACL_ALLOW, RPC_ACL_PUBLISH, "dev/%c/up"},
        {RPC_ACL_DENY, RPC_ACL_SUBSCRIBE, "dev/+/secret"},
        {RPC_ACL_ALLOW, RPC_ACL_BOTH, "shared/#"},
    };
    return (rpc_auth_reply_t){
        .request_id = 77,
        .status = RPC_AUTH_OK,
        .client_id = "0123456789abcdef01234567",
        .client_name = "Sensor 1",
        .groups = groups,
        .n_groups = 2,
        .acl = acl,
        .n_acl = 3,
        .config_version = 9,
    };
}

static void test_reply_round_trip(void **state)
{
    rpc_auth_reply_t in = sample_reply(), out;
    uint8_t buf[512];
    int n = rpc_auth_reply_encode(&in, buf, sizeof(buf));
    assert_true(n > 0 && n <= (int)sizeof(buf));
    assert_int_equal(rpc_auth_reply_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.request_id, 77);
    assert_int_equal(out.status, RPC_AUTH_OK);
    assert_string_equal(out.client_id, in.client_id);
    assert_string_equal(out.client_name, "Sensor 1");
    assert_int_equal(out.n_groups, 2);
    assert_string_equal(out.groups[1], "g2");
    assert_int_equal(out.n_acl, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out.acl[i].permission, in.acl[i].permission);
        assert_int_equal(out.acl[i].action, in.acl[i].action);
        assert_string_equal(out.acl[i].topic, in.acl[i].topic);
    }
    assert_int_equal(out.config_version, 9);
    rpc_auth_reply_fini(&out);

    /* A refusal carries only the id and the status. */
    rpc_auth_reply_t refused = {.request_id = 5, .status = RPC_AUTH_THROTTLED};
    n = rpc_auth_reply_encode(&refused, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(rpc_auth_reply_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.status, RPC_AUTH_THROTTLED);
    assert_int_equal(out.n_acl, 0);
    assert_string_equal(out.client_name, "");
    rpc_auth_reply_fini(&out);
    assert_string_equal(rpc_auth_status_name(RPC_AUTH_THROTTLED), "throttled");
}

static void test_reply_invalid(void **state)
{
    rpc_auth_reply_t in = sample_reply(), out;
    in.status = (rpc_auth_status_t)0;
    assert_int_equal(rpc_auth_reply_encode(&in, NULL, 0), ROOST_EINVAL);
    in = sample_reply();
    rpc_acl_entry_t bad = {RPC_ACL_ALLOW, (rpc_acl_action_t)7, "x"};
    in.acl = &bad;
    in.n_acl = 1;
    assert_int_equal(rpc_auth_reply_encode(&in, NULL, 0), ROOST_EINVAL);
    in.n_acl = RPC_MAX_ACL + 1;
    assert_int_equal(rpc_auth_reply_encode(&in, NULL, 0), ROOST_EPROTO_TOO_LARGE);

    static const uint8_t no_status[] = {0x08, 0x01};
    static const uint8_t status0[] = {0x08, 0x01, 0x10, 0x00};
    static const uint8_t status9[] = {0x08, 0x01, 0x10, 0x09};
    /* ACL entry with permission 3 (unknown) */
    static const uint8_t bad_acl[] = {0x08, 0x01, 0x10, 0x01, 0x32, 0x07, 0x08, 0x03, 0x10, 0x01, 0x1a, 0x01, 't'};
    /* ACL entry whose topic holds a NUL (nested message scan) */
    static const uint8_t nul_acl[] = {0x08, 0x01, 0x10, 0x01, 0x32, 0x08, 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02, 't', 0};
    assert_int_equal(rpc_auth_reply_decode(no_status, sizeof(no_status), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_decode(status0, sizeof(status0), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_decode(status9, sizeof(status9), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_decode(bad_acl, sizeof(bad_acl), &out), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_decode(nul_acl, sizeof(nul_acl), &out), ROOST_EPROTO_MALFORMED);
}

static void test_change_round_trip(void **state)
{
    rpc_change_event_t in = {RPC_CHANGE_CLIENT, RPC_CHANGE_UPDATE, "abc", "alice", 12, 1700000000000ull, NULL};
    rpc_change_event_t out;
    uint8_t buf[128];
    int n = rpc_change_event_encode(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(rpc_change_event_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.kind, RPC_CHANGE_CLIENT);
    assert_int_equal(out.op, RPC_CHANGE_UPDATE);
    assert_string_equal(out.object_id, "abc");
    assert_string_equal(out.username, "alice");
    assert_int_equal(out.version, 12);
    assert_int_equal(out.time_ms, 1700000000000ull);
    rpc_change_event_fini(&out);

    /* A kind from a newer admin reads as "drop everything". */
    static const uint8_t future[] = {0x08, 0x63, 0x10, 0x02};
    assert_int_equal(rpc_change_event_decode(future, sizeof(future), &out), 0);
    assert_int_equal(out.kind, RPC_CHANGE_ALL);
    rpc_change_event_fini(&out);
}

/* STYLE.md 17: the decoder reads input that ends right before a guard page,
 * so a read past the end faults even without ASan. */
static void test_guard_page(void **state)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    rpc_auth_request_t in = sample_request(), out;
    size_t len;
    uint8_t *buf = encode_request(&in, &len);
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *p = mem + page - cut;
        memcpy(p, buf, cut);
        if (rpc_auth_request_decode(p, cut, &out) == 0)
            rpc_auth_request_fini(&out);
    }
    free(buf);
    munmap(mem, (size_t)page * 2);
}

/* ---- framing over inproc ------------------------------------------------ */

static void wait_readable(void *s)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&it, 1, 2000), 1);
}

static void test_dealer_router_round_trip(void **state)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(zmq_bind(router, "inproc://rpc-test"), 0);
    assert_int_equal(zmq_connect(dealer, "inproc://rpc-test"), 0);

    rpc_envelope_t env;
    rpc_auth_request_t req, in = sample_request();
    assert_int_equal(rpc_auth_request_recv(router, &env, &req), -EAGAIN);
    assert_false(rpc_readable(router));
    assert_int_equal(rpc_auth_request_send(dealer, &in), 0);
    wait_readable(router);
    assert_true(rpc_readable(router));
    assert_int_equal(rpc_auth_request_recv(router, &env, &req), 0);
    assert_int_equal(env.n, 1);
    assert_string_equal(req.username, "alice");
    assert_int_equal(req.password_len, in.password_len);

    rpc_auth_reply_t rep = sample_reply(), got;
    rep.request_id = req.request_id;
    rpc_auth_request_fini(&req);
    assert_int_equal(rpc_auth_reply_send(router, &env, &rep), 0);
    wait_readable(dealer);
    assert_int_equal(rpc_auth_reply_recv(dealer, &got), 0);
    assert_int_equal(got.request_id, in.request_id);
    assert_int_equal(got.n_acl, 3);
    rpc_auth_reply_fini(&got);
    assert_int_equal(rpc_auth_reply_recv(dealer, &got), -EAGAIN);

    /* Bad framing from the DEALER: no delimiter -> unroutable, dropped. */
    assert_int_equal(zmq_send(dealer, "junk", 4, 0), 4);
    wait_readable(router);
    assert_int_equal(rpc_auth_request_recv(router, &env, &req), ROOST_EPROTO_MALFORMED);
    assert_int_equal(env.n, 0);
    /* Good framing, bad body -> routable error: answer BAD_REQUEST. */
    assert_int_equal(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(dealer, "\xff\xff", 2, 0), 2);
    wait_readable(router);
    assert_int_equal(rpc_auth_request_recv(router, &env, &req), ROOST_EPROTO_MALFORMED);
    assert_int_equal(env.n, 1);
    rpc_auth_reply_t bad = {.request_id = 0, .status = RPC_AUTH_BAD_REQUEST};
    assert_int_equal(rpc_auth_reply_send(router, &env, &bad), 0);
    wait_readable(dealer);
    assert_int_equal(rpc_auth_reply_recv(dealer, &got), 0);
    assert_int_equal(got.status, RPC_AUTH_BAD_REQUEST);
    rpc_auth_reply_fini(&got);
    /* A reply without the empty delimiter -> malformed, consumed. */
    assert_int_equal(zmq_send(router, env.id[0], env.id_len[0], ZMQ_SNDMORE), (int)env.id_len[0]);
    assert_int_equal(zmq_send(router, "x", 1, 0), 1);
    wait_readable(dealer);
    assert_int_equal(rpc_auth_reply_recv(dealer, &got), ROOST_EPROTO_MALFORMED);
    assert_int_equal(rpc_auth_reply_recv(dealer, &got), -EAGAIN);

    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

static void test_change_pub_sub(void **state)
{
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_bind(pub, "inproc://rpc-chg"), 0);
    assert_int_equal(zmq_connect(sub, "inproc://rpc-chg"), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, RPC_CHANGE_TOPIC, strlen(RPC_CHANGE_TOPIC)), 0);
    rpc_change_event_t in = {RPC_CHANGE_GROUP, RPC_CHANGE_DELETE, "g1", NULL, 3, 4, NULL}, out;
    /* The subscription travels asynchronously: publish until one arrives. */
    zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
    int got = 0;
    for (int i = 0; i < 100 && !got; i++) {
        assert_int_equal(rpc_change_event_send(pub, &in), 0);
        got = zmq_poll(&it, 1, 20);
    }
    assert_int_equal(got, 1);
    assert_int_equal(rpc_change_event_recv(sub, &out), 0);
    assert_int_equal(out.kind, RPC_CHANGE_GROUP);
    assert_string_equal(out.object_id, "g1");
    assert_string_equal(out.username, "");
    rpc_change_event_fini(&out);
    zmq_close(sub);
    zmq_close(pub);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_tls_facts_round_trip),
        cmocka_unit_test(test_request_anonymous_and_empty_password),
        cmocka_unit_test(test_encode_size_query_writes_nothing),
        cmocka_unit_test(test_request_required_fields),
        cmocka_unit_test(test_request_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_nul_inside_string_rejected),
        cmocka_unit_test(test_oversized_fields),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_reply_invalid),
        cmocka_unit_test(test_change_round_trip),
        cmocka_unit_test(test_guard_page),
        cmocka_unit_test(test_dealer_router_round_trip),
        cmocka_unit_test(test_change_pub_sub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
