/* Unit tests for lib/rpc/curve.c: key specs, and a CURVE link that works
 * with the right server key and stays silent with a wrong one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "base/err.h"
#include "rpc/curve.h"

static void test_load_key_specs(void **state)
{
    if (!zmq_has("curve"))
        skip();
    char pub[41], sec[41], got[41];
    assert_int_equal(rpc_curve_keypair(pub, sec), 0);
    assert_int_equal(rpc_curve_load_key(pub, got), 0);
    assert_string_equal(got, pub);

    char path[] = "/tmp/roost-curve-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "\n  %s  \n", sec);
    fclose(f);
    assert_int_equal(rpc_curve_load_key(path, got), 0);
    assert_string_equal(got, sec);
    f = fopen(path, "w"); /* comment lines before the key are skipped */
    fprintf(f, "# the cluster's bus key\n#\n%s\n", sec);
    fclose(f);
    assert_int_equal(rpc_curve_load_key(path, got), 0);
    assert_string_equal(got, sec);
    f = fopen(path, "w");
    fprintf(f, "not a key\n");
    fclose(f);
    assert_int_equal(rpc_curve_load_key(path, got), ROOST_ECONFIG);
    unlink(path);

    assert_int_equal(rpc_curve_load_key("short", got), ROOST_ECONFIG);
    assert_int_equal(rpc_curve_load_key("", got), ROOST_ECONFIG);
    assert_false(rpc_curve_spec_set(NULL));
    assert_false(rpc_curve_spec_set(""));
    assert_true(rpc_curve_spec_set(pub));
}

static void test_plain_when_unset(void **state)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    assert_int_equal(rpc_curve_server(s, NULL), 0);
    assert_int_equal(rpc_curve_server(s, ""), 0);
    assert_int_equal(rpc_curve_client(s, NULL, NULL), 0);
    int mech = -1;
    size_t sz = sizeof(mech);
    assert_int_equal(zmq_getsockopt(s, ZMQ_MECHANISM, &mech, &sz), 0);
    assert_int_equal(mech, ZMQ_NULL);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* Sends "ping" from a DEALER set up with server_pub and returns whether the
 * ROUTER got it within timeout_ms. */
static bool link_works(const char *server_sec, const char *server_pub_for_client, int timeout_ms)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(rpc_curve_server(router, server_sec), 1);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t sz = sizeof(ep);
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &sz), 0);
    assert_int_equal(rpc_curve_client(dealer, server_pub_for_client, NULL), 1);
    assert_int_equal(zmq_connect(dealer, ep), 0);
    zmq_send(dealer, "ping", 4, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
    bool ok = zmq_poll(&it, 1, timeout_ms) == 1;
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return ok;
}

static void test_curve_link(void **state)
{
    if (!zmq_has("curve"))
        skip();
    char pub[41], sec[41], other_pub[41], other_sec[41];
    assert_int_equal(rpc_curve_keypair(pub, sec), 0);
    assert_int_equal(rpc_curve_keypair(other_pub, other_sec), 0);
    assert_true(link_works(sec, pub, 3000));
    assert_false(link_works(sec, other_pub, 300));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_key_specs),
        cmocka_unit_test(test_plain_when_unset),
        cmocka_unit_test(test_curve_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
