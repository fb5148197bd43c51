"""57 broker /healthz tells the truth about authd (issue 12): with no authd
link up the broker answers 200 (its connected devices still work, so the
balancer must keep it) with a body saying it is degraded; 'ok' again once
authd is back. Redis unreachable or draining stay 503 (test_12, test_59).
And once authd has been gone for longer than --auth-timeout-ms, a CONNECT
gets CONNACK 3 at once instead of waiting that long for nothing."""

import time

from stack import free_port, http_get, mqtt_probe, stack, wait_for  # noqa: F401  (stack: fixture)


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


def test_connack_3_at_once_when_authd_has_been_gone_longer_than_the_auth_timeout(stack):
    stack.start_redis()
    authd = stack.start_authd(allow_anonymous=True)
    b = stack.start_broker(auth_timeout_ms=2000)
    assert mqtt_probe(b.port, "h-1") == 0
    authd.stop()
    # just gone: a CONNECT waits for authd to come back (up to its deadline)
    t0 = time.monotonic()
    assert mqtt_probe(b.port, "h-2", timeout=10) == 3
    assert time.monotonic() - t0 >= 1.5
    # gone for longer than that deadline: refused at once, nothing held
    t0 = time.monotonic()
    assert mqtt_probe(b.port, "h-3", timeout=10) == 3
    assert time.monotonic() - t0 < 1.0
    authd.start()
    assert wait_for(lambda: mqtt_probe(b.port, "h-4") == 0, timeout=10)
