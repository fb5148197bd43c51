/* Unit tests for services/broker/wsupgrade.c: the WebSocket Upgrade request
 * parser (incremental, against a guard page), the verdicts and the answers
 * (RFC 6455 4.2: the accept key of its own example). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "guard.h"
#include "wsupgrade.h"

#define GOOD                                                                                       \
    "GET /mqtt HTTP/1.1\r\nHost: localhost:8083\r\nUpgrade: websocket\r\n"                         \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"           \
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqttv3.1, mqtt\r\n"                      \
    "Origin: https://app.example.com\r\n\r\n"

static struct guard g;

static int setup(void **state)
{
    (void)state;
    return guard_open(&g, 16384);
}

static int teardown(void **state)
{
    (void)state;
    guard_free(&g);
    return 0;
}

static const wsup_policy_t ANY = {"/mqtt", ""};

static int parse(const char *text, size_t n, wsup_request_t *r, size_t *used)
{
    return wsup_parse((const uint8_t *)guard_put_bytes(&g, text, n), n, r, used);
}

/* Every strict prefix of a good request needs more; the whole parses. */
static void good_incremental(void **state)
{
    (void)state;
    const char *req = GOOD "\x82\x80"; /* a frame right behind it is not consumed */
    size_t n = strlen(GOOD), used = 0;
    wsup_request_t r;
    for (size_t k = 0; k < n; k++)
        assert_int_equal(parse(req, k, &r, &used), WSUP_NEED_MORE);
    assert_int_equal(parse(req, n + 2, &r, &used), 0);
    assert_int_equal(used, n);
    assert_string_equal(r.subprotocol, "mqtt");
    assert_int_equal(r.host.n, strlen("localhost:8083"));
    wsup_verdict_t v = wsup_check(&r, &ANY);
    assert_int_equal(v.status, 101);
    char out[512];
    size_t len = wsup_response(&r, &v, out, sizeof(out));
    assert_true(len > 0);
    out[len] = 0;
    /* RFC 6455 1.3's example key and answer */
    assert_non_null(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(out, "Sec-WebSocket-Protocol: mqtt\r\n"));
    assert_true(strncmp(out, "HTTP/1.1 101 ", 13) == 0);
}

static void mqttv31_only(void **state)
{
    (void)state;
    const char *req = "GET /mqtt?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: other\r\nSec-WebSocket-Protocol: mqttv3.1\r\n\r\n";
    wsup_request_t r;
    size_t used;
    assert_int_equal(parse(req, strlen(req), &r, &used), 0);
    assert_string_equal(r.subprotocol, "mqttv3.1");
    assert_int_equal(wsup_check(&r, &ANY).status, 101); /* no Origin: not refused for it */
}

/* One request line or header changed: the status it gets. */
static int status_of(const char *req)
{
    wsup_request_t r;
    size_t used;
    int rc = parse(req, strlen(req), &r, &used);
    if (rc == WSUP_NEED_MORE)
        return -1;
    wsup_policy_t p = {"/mqtt", "https://app.example.com, http://localhost:8080"};
    wsup_verdict_t v = rc < 0 ? wsup_malformed(&r, rc) : wsup_check(&r, &p);
    assert_non_null(v.reason);
    return v.status;
}

static char buf[16384];

static const char *edit(const char *from, const char *to)
{
    const char *at = strstr(GOOD, from);
    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
    return buf;
}

static void refusals(void **state)
{
    (void)state;
    assert_int_equal(status_of(GOOD), 101);
    assert_int_equal(status_of(edit("Origin: https://app.example.com", "Origin: HTTPS://APP.example.com")), 101);
    assert_int_equal(status_of(edit("GET ", "POST ")), 400);
    assert_int_equal(status_of(edit("Upgrade: websocket\r\n", "")), 426);
    assert_int_equal(status_of(edit("keep-alive, Upgrade", "keep-alive")), 426);
    assert_int_equal(status_of(edit("/mqtt", "/other")), 404);
    assert_int_equal(status_of(edit("/mqtt", "/mqtt/")), 404);
    assert_int_equal(status_of(edit("Host: localhost:8083\r\n", "")), 400);
    assert_int_equal(status_of(edit("Sec-WebSocket-Version: 13\r\n", "")), 400);
    assert_int_equal(status_of(edit("Version: 13", "Version: 8")), 426);
    assert_int_equal(status_of(edit("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")), 400);
    assert_int_equal(status_of(edit("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ")), 400);
    assert_int_equal(status_of(edit("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==")), 400);
    assert_int_equal(status_of(edit("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j!Q==")), 400);
    assert_int_equal(status_of(edit("mqttv3.1, mqtt", "mqtt5, MQTT")), 400);
    assert_int_equal(status_of(edit("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n", "")), 400);
    assert_int_equal(status_of(edit("https://app.example.com\r\n", "https://evil.example.com\r\n")), 403);
    assert_int_equal(status_of(edit("Host:", "Host: a\r\nHost:")), 400);
    assert_int_equal(status_of(edit("Sec-WebSocket-Key:", "Sec-WebSocket-Key: x\r\nSec-WebSocket-Key:")), 400);
}

static void malformed_early(void **state)
{
    (void)state;
    /* an MQTT CONNECT on the WebSocket port: refused at its first byte */
    assert_int_equal(status_of("\x10\x0c\x00\x04MQTT"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.0\r\n"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/2"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\n"), 400);              /* bare LF */
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\rX"), 400);             /* bare CR */
    assert_int_equal(status_of("GET  /mqtt HTTP/1.1\r\n"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\r\nHost: a\r\n folded\r\n"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\r\nBad Name: a\r\n"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\r\nHost: a\x01"), 400);  /* before the line ends */
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\r\n: a\r\n"), 400);
    assert_int_equal(status_of("GET /mqtt HTTP/1.1\r\nHost: a"), -1);       /* incomplete, fine so far */
}

static void limits(void **state)
{
    (void)state;
    /* a head that never ends within WSUP_MAX_HEAD: 431 */
    size_t n = snprintf(buf, sizeof(buf), "GET /mqtt HTTP/1.1\r\nX: ");
    memset(buf + n, 'a', WSUP_MAX_HEAD);
    buf[WSUP_MAX_HEAD] = 0;
    assert_int_equal(status_of(buf), 431);
    /* too many header lines */
    n = snprintf(buf, sizeof(buf), "GET /mqtt HTTP/1.1\r\n");
    for (int i = 0; i <= WSUP_MAX_HEADERS; i++)
        n += snprintf(buf + n, sizeof(buf) - n, "X-%d: y\r\n", i);
    snprintf(buf + n, sizeof(buf) - n, "\r\n");
    assert_int_equal(status_of(buf), 400);
}

static void refusal_answer(void **state)
{
    (void)state;
    wsup_request_t r;
    size_t used;
    const char *req = edit("Version: 13", "Version: 8");
    assert_int_equal(parse(req, strlen(req), &r, &used), 0);
    wsup_verdict_t v = wsup_check(&r, &ANY);
    char out[512];
    size_t len = wsup_response(&r, &v, out, sizeof(out));
    assert_true(len > 0);
    out[len] = 0;
    assert_true(strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0);
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_int_equal(wsup_response(&r, &v, out, 20), 0);
}

static void forwarded_for(void **state)
{
    (void)state;
    const char *req = edit("Origin:", "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.2\r\nOrigin:");
    wsup_request_t r;
    size_t used;
    assert_int_equal(parse(req, strlen(req), &r, &used), 0);
    assert_int_equal(r.forwarded_for.n, strlen("203.0.113.9, 10.0.0.2"));
    assert_memory_equal(r.forwarded_for.p, "203.0.113.9, 10.0.0.2", r.forwarded_for.n);
    uint8_t a[16];
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
    assert_int_equal(wsup_forwarded_for(&r, a), 1); /* the last entry: what the proxy saw */
    assert_memory_equal(a, want, 16);
    static const struct { const char *v; int rc; } cases[] = {
        {"2001:db8::7", 1}, {"1.1.1.1, [2001:db8::7]", 1}, {" 198.51.100.1 ", 1},
        {"1.1.1.1, ", -1}, {"unknown", -1}, {"10.0.0.0/8", -1}, {"1.2.3.4:5678", -1}, {"", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hdr[128];
        snprintf(hdr, sizeof(hdr), "X-Forwarded-For: %s\r\nOrigin:", cases[i].v);
        req = edit("Origin:", hdr);
        assert_int_equal(parse(req, strlen(req), &r, &used), 0);
        assert_int_equal(wsup_forwarded_for(&r, a), cases[i].rc);
    }
    req = GOOD;
    assert_int_equal(parse(req, strlen(req), &r, &used), 0);
    assert_int_equal(wsup_forwarded_for(&r, a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_incremental), cmocka_unit_test(mqttv31_only),
        cmocka_unit_test(refusals),         cmocka_unit_test(malformed_early),
        cmocka_unit_test(limits),           cmocka_unit_test(refusal_answer),
        cmocka_unit_test(forwarded_for),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
