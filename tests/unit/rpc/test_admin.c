/* Unit tests for lib/rpc/admin.c: AdminRequest/AdminReply codec, hostile
 * bodies, and DEALER/ROUTER framing over inproc. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

#include "base/err.h"
#include "rpc/admin.h"

static void test_request_roundtrip(void **state)
{
    rpc_admin_request_t in = {.request_id = 7, .deadline_ms = 99, .token = "tok", .op = RPC_ADMIN_CLIENT_UPDATE,
                              .id = "abc", .cursor = "c", .limit = 10, .search = "s", .body = "{\"name\":\"x\"}"};
    uint8_t buf[256];
    int n = rpc_admin_request_encode(&in, buf, sizeof(buf));
    assert_true(n > 0 && (size_t)n <= sizeof(buf));
    rpc_admin_request_t out;
    assert_int_equal(rpc_admin_request_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.request_id, 7);
    assert_int_equal(out.op, RPC_ADMIN_CLIENT_UPDATE);
    assert_string_equal(out.token, "tok");
    assert_string_equal(out.id, "abc");
    assert_string_equal(out.body, "{\"name\":\"x\"}");
    assert_int_equal(out.limit, 10);
    rpc_admin_request_fini(&out);
    assert_null(out.owned_);
    assert_string_equal(rpc_admin_op_name(RPC_ADMIN_CONNECTION_KICK), "connection.kick");
    assert_string_equal(rpc_admin_op_name(0), "unknown");
    in.op = 0;
    assert_int_equal(rpc_admin_request_encode(&in, buf, sizeof(buf)), ROOST_EINVAL);
}

static void test_reply_and_hostile(void **state)
{
    rpc_admin_reply_t in = {.request_id = 3, .status = 404, .body = "{}"}, out;
    uint8_t buf[64];
    int n = rpc_admin_reply_encode(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(rpc_admin_reply_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.status, 404);
    assert_string_equal(out.body, "{}");
    rpc_admin_reply_fini(&out);
    in.status = 42;
    assert_int_equal(rpc_admin_reply_encode(&in, buf, sizeof(buf)), ROOST_EINVAL);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    rpc_admin_request_t q;
    assert_int_equal(rpc_admin_request_decode(garbage, sizeof(garbage), &q), ROOST_EPROTO_MALFORMED);
    /* op 99 is not an operation this build knows */
    static const uint8_t unknown_op[] = {0x08, 0x01, 0x20, 0x63};
    assert_int_equal(rpc_admin_request_decode(unknown_op, sizeof(unknown_op), &q), ROOST_EPROTO_MALFORMED);
    /* a token holding a NUL byte */
    static const uint8_t nul[] = {0x08, 0x01, 0x20, 0x01, 0x1a, 0x03, 'a', 0x00, 'b'};
    assert_int_equal(rpc_admin_request_decode(nul, sizeof(nul), &q), ROOST_EPROTO_MALFORMED);
}

static void test_framing(void **state)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(zmq_bind(router, "inproc://admin-test"), 0);
    assert_int_equal(zmq_connect(dealer, "inproc://admin-test"), 0);
    rpc_admin_request_t q = {.request_id = 11, .token = "t", .op = RPC_ADMIN_TOKEN_LIST}, got;
    assert_int_equal(rpc_admin_request_send(dealer, &q), 0);
    rpc_envelope_t env;
    zmq_pollitem_t pi = {.socket = router, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&pi, 1, 2000), 1);
    assert_int_equal(rpc_admin_request_recv(router, &env, &got), 0);
    assert_int_equal(got.op, RPC_ADMIN_TOKEN_LIST);
    assert_int_equal(env.n, 1);
    rpc_admin_reply_t r = {.request_id = got.request_id, .status = 200, .body = "{\"items\":[]}"}, back;
    rpc_admin_request_fini(&got);
    assert_int_equal(rpc_admin_reply_send(router, &env, &r), 0);
    pi.socket = dealer;
    assert_int_equal(zmq_poll(&pi, 1, 2000), 1);
    assert_int_equal(rpc_admin_reply_recv(dealer, &back), 0);
    assert_int_equal(back.request_id, 11);
    assert_string_equal(back.body, "{\"items\":[]}");
    rpc_admin_reply_fini(&back);
    assert_int_equal(rpc_admin_reply_recv(dealer, &back), -EAGAIN);
    zmq_close(router);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip),
        cmocka_unit_test(test_reply_and_hostile),
        cmocka_unit_test(test_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
