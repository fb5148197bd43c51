"""12: roost-broker's /healthz and /metrics (Roost-only contract).

The broker answers on --http-port: /healthz is 200 while it accepts MQTT
connections, /metrics is Prometheus text whose counters follow the traffic,
and unknown paths or methods are refused."""

import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

from conftest import IS_MOSQUITTO, RawClient, free_port, roost_binary, stop_process, uid, wait_until

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only endpoint")


@pytest.fixture
def http_broker():
    mqtt_port, http_port = free_port(), free_port()
    log = tempfile.NamedTemporaryFile(prefix="broker-http-", suffix=".log", delete=False)
    proc = subprocess.Popen([roost_binary(), "--bind", "127.0.0.1", "--port", str(mqtt_port),
                             "--insecure-no-auth", "--http-port", str(http_port)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _get(http_port, "/healthz")[0] == 200, timeout=10), open(log.name).read()
        yield mqtt_port, http_port
    finally:
        stop_process(proc)
        os.unlink(log.name)


def _get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def _metric(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, "metric %s missing in:\n%s" % (name, text)
    return int(m.group(1))


def test_healthz_ok(http_broker):
    _, http_port = http_broker
    assert _get(http_port, "/healthz") == (200, "ok\n")


def test_metrics_follow_traffic(http_broker):
    mqtt_port, http_port = http_broker
    status, before = _get(http_port, "/metrics")
    assert status == 200
    assert _metric(before, "roost_broker_connections") == 0
    sub, pub = RawClient(mqtt_port), RawClient(mqtt_port)
    try:
        sub.connect(uid("s"))
        pub.connect(uid("p"))
        topic = "m/" + uid("t")
        assert sub.subscribe([(topic, 1)]) == [1]
        for i in range(3):
            pub.publish(topic, b"x%d" % i, qos=1, pid=i + 1)
        for _ in range(3):
            p = sub.expect("PUBLISH")
            sub.send(bytes([0x40, 2, p.pid >> 8, p.pid & 0xFF]))
        _, after = _get(http_port, "/metrics")
        assert _metric(after, "roost_broker_connections") == 2
        assert _metric(after, "roost_broker_subscriptions") == 1
        assert _metric(after, "roost_broker_messages_received_total") == 3
        assert _metric(after, "roost_broker_messages_sent_total") == 3
    finally:
        sub.close()
        pub.close()


def test_unknown_path_and_method(http_broker):
    _, http_port = http_broker
    assert _get(http_port, "/nope")[0] == 404
    assert _get(http_port, "/healthz", method="POST")[0] == 405
