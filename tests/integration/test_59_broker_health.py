"""59 broker /healthz tells the truth about authd (issue 12): with no authd
link up the broker answers 200 (its connected devices still work, so the
balancer must keep it) with a body saying it is degraded; 'ok' again once
authd is back. Redis unreachable or draining stay 503 (test_12, test_59)."""

from stack import free_port, http_get, stack, wait_for  # noqa: F401  (stack: fixture)


def test_healthz_degraded_while_authd_is_down(stack):
    stack.start_redis()
    authd = stack.start_authd()
    http = free_port()
    b = stack.start_broker(extra=("--http-port", str(http)))
    assert wait_for(lambda: http_get(http, "/healthz") == (200, "ok\n"), timeout=10), http_get(http, "/healthz")
    authd.stop()
    assert wait_for(lambda: http_get(http, "/healthz")[1].startswith("degraded"), timeout=10), \
        http_get(http, "/healthz")
    status, body = http_get(http, "/healthz")
    assert status == 200 and "no authd link" in body, (status, body)
    authd.start()
    assert wait_for(lambda: http_get(http, "/healthz") == (200, "ok\n"), timeout=10), http_get(http, "/healthz")
    assert "event=authd_link_down" in b.log() and "event=authd_link_up" in b.log()
