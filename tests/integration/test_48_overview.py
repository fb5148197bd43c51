"""Overview and Instances (issue 20): every broker and authd puts an instance
record into Redis (lib/store/instances.h); admin collects them every 2 s into
an hour of history and serves /api/v1/overview, /api/v1/instances and
/api/v1/instances/{kind}:{id}. A real stack (stack.py): redis, admin, one
authd, two cluster brokers, devices made through the HTTP API, raw MQTT
clients and mosquitto_pub; the numbers the API shows must be what the test did.
"""

import json
import os
import signal
import subprocess

import pytest

from conftest import RawClient, connect_pkt
from stack import ADMIN_BIN, BROKER_BIN, ROOSTCTL_BIN, TOKEN, Proc, free_port, http_get, parse_metrics, stack, wait_for  # noqa: F401

pytestmark = pytest.mark.skipif(not (os.path.exists(ADMIN_BIN) and os.path.exists(BROKER_BIN)),
                                reason="binaries not built")

PW = "password-123"
ENDPOINTS = "mqtt://mqtt.example.test:1883,ws://mqtt.example.test:8083/mqtt"


def connect(port, client_id, username, password):
    c = RawClient(port, 5.0)
    c.send(connect_pkt(client_id, username=username, password=password.encode()))
    p = c.expect("CONNACK", 5.0)
    return c, p.body[1]


def overview(st, since=None):
    status, doc = st.api("GET", "/api/v1/overview" + ("?cursor=%d" % since if since is not None else ""))
    assert status == 200, doc
    return doc


def instances(st):
    status, doc = st.api("GET", "/api/v1/instances")
    assert status == 200, doc
    return {i["key"]: i for i in doc["instances"]}


def test_overview_and_instances_show_what_the_devices_did(stack):
    st = stack
    st.start_redis()
    st.env_extra["ROOST_ADMIN_MQTT_ENDPOINTS"] = ENDPOINTS
    st.start_admin()
    st.start_authd(changes=True, extra=("--id", "authd-a"))
    b1_http = free_port()
    b1 = st.start_broker("broker-1", cluster=True, extra=("--http-port", str(b1_http)))
    b1.http_port = b1_http
    b2 = st.start_broker("broker-2", cluster=True)
    client = st.add_client("dev", PW)
    group = st.add_group("all", [("allow", "publish", "t/#"), ("allow", "subscribe", "t/#")])
    st.add_rule("client", client["id"], [group["id"]])
    # rates come from two records in a row: start once admin charts both brokers
    assert wait_for(lambda: all(instances(st).get("broker:broker-%d" % i, {}).get("connections") == 0
                                for i in (1, 2)), timeout=10)

    # N = 3 connections (2 on broker-1, 1 on broker-2), one refused password
    held = [connect(b1.port, "d1", "dev", PW), connect(b1.port, "d2", "dev", PW), connect(b2.port, "d3", "dev", PW)]
    assert [rc for _, rc in held] == [0, 0, 0]
    bad, rc = connect(b2.port, "d4", "dev", "wrong-password")
    assert rc == 4
    bad.close()
    # M = 7 messages through mosquitto_pub (one more connection, which ends)
    subprocess.run(["mosquitto_pub", "-p", str(b1.port), "-u", "dev", "-P", PW, "-i", "pub", "-q", "1",
                    "-t", "t/x", "-l"], input="".join("m%d\n" % i for i in range(7)), text=True, check=True,
                   timeout=10)

    def settled():
        now = overview(st)["now"]
        return now["connections"] == 3 and now["messages_in_total"] == 7 and now
    now = wait_for(settled, timeout=15)
    assert now, overview(st)["now"]
    assert now["connects_accepted_total"] == 4  # d1, d2, d3 and mosquitto_pub
    # refused: d4 (4) and each broker's start-up probe (anonymous: 5)
    assert now["connects_refused_total"] == 3
    assert now["auth_requests_total"] >= 6

    doc = overview(st)
    assert doc["endpoints"] == [{"transport": "TCP", "url": "mqtt://mqtt.example.test:1883"},
                                {"transport": "WebSocket", "url": "ws://mqtt.example.test:8083/mqtt"}]
    assert doc["cluster"]["redis"] == "reachable"
    assert doc["cluster"]["broker"] == {"up": 2, "draining": 0, "down": 0}
    assert doc["cluster"]["authd"] == {"up": 1, "draining": 0, "down": 0}
    assert doc["interval_ms"] == 2000
    series = doc["series"]
    n = len(series["t"])
    assert 1 <= n <= 1800
    for name in ("connections", "connects_accepted", "refused_bad_credentials", "refused_not_authorized",
                 "refused_unavailable", "refused_protocol", "messages_in", "messages_out", "queued", "dropped",
                 "retained", "bus_in", "bus_out", "auth_requests", "cache_hits", "cache_misses", "cache_hit_ratio"):
        assert len(series[name]) == n, name
    assert series["connections"][-1] == 3
    assert series["t"] == sorted(series["t"])
    # incremental polling: nothing after the last point, the last one after the one before
    assert overview(st, since=series["t"][-1])["series"]["t"] == []
    if n > 1:
        assert overview(st, since=series["t"][-2])["series"]["t"] == series["t"][-1:]

    # messages per second: the rate over the history adds up to about the 7
    # messages (records and admin's ticks are not in phase: not exactly)
    def rate_total():
        s = overview(st)["series"]
        t, v = s["t"], s["messages_in"]
        return sum(v[i] * (t[i] - t[i - 1]) / 1000.0 for i in range(1, len(t)) if v[i] is not None)
    assert wait_for(lambda: 3.5 <= rate_total() <= 10.5, timeout=10), rate_total()

    rows = instances(st)
    assert set(rows) == {"authd:authd-a", "broker:broker-1", "broker:broker-2"}
    r1 = rows["broker:broker-1"]
    assert r1["kind"] == "broker" and r1["id"] == "broker-1" and r1["state"] == "serving"
    assert r1["version"] and r1["uptime_s"] >= 0 and r1["rss_bytes"] > 0
    assert r1["connections"] == 2 and rows["broker:broker-2"]["connections"] == 1
    assert r1["mqtt"] == "127.0.0.1:%d" % b1.port
    assert r1["totals"]["msgs_in"] == 7
    assert rows["authd:authd-a"]["state"] == "serving" and "connections" not in rows["authd:authd-a"]

    status, one = st.api("GET", "/api/v1/instances/broker:broker-1")
    assert status == 200, one
    assert one["instance"]["key"] == "broker:broker-1"
    assert len(one["series"]["t"]) == len(one["series"]["cpu_percent"]) == len(one["series"]["connections"])
    assert one["series"]["connections"][-1] == 2
    assert "cache_hits" not in one["series"]
    status, err = st.api("GET", "/api/v1/instances/broker:nope")
    assert status == 404 and err["code"] == "NOT_FOUND"
    status, err = st.api("GET", "/api/v1/overview?cursor=yesterday")
    assert status == 400 and err["details"]["field"] == "cursor"
    status, _ = st.api("GET", "/api/v1/overview", token="wrong-token")
    assert status == 401
    status, _ = st.api("POST", "/api/v1/overview", body={})
    assert status == 405

    # the same numbers on the broker's /metrics, for Prometheus
    m = parse_metrics(http_get(b1.http_port, "/metrics")[1])
    assert m['roost_broker_connack_total{code="0"}'] == 3  # d1, d2, mosquitto_pub
    assert m['roost_broker_connack_total{code="5"}'] == 1  # the start-up probe
    assert m["roost_broker_draining"] == 0
    assert m["process_resident_memory_bytes"] > 0 and m["process_cpu_seconds_total"] > 0
    assert any(k.startswith('roost_build_info{service="broker",version=') for k in m)

    # roostctl status: the same figures over the RPC
    ctl = [ROOSTCTL_BIN, "--admin", st.admin.rpc, "--token", TOKEN]
    p = subprocess.run(ctl + ["status"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "brokers      2 up, 0 draining, 0 down" in lines, p.stdout
    assert "endpoints    mqtt://mqtt.example.test:1883 (TCP)" in lines, p.stdout
    assert any(l.startswith("devices      3 connected; 4 accepted, 3 refused; messages 7 in") for l in lines), p.stdout
    row = [l.split() for l in lines if l.startswith("broker ") and " broker-1 " in l]
    assert row and row[0][2] == "serving" and row[0][5] == "2", p.stdout
    p = subprocess.run(ctl + ["--json", "status"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["now"]["connections"] == 3 and doc["series"]["t"] == []
    p = subprocess.run(ctl[:3] + ["--token", "wrong", "status"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 6, (p.returncode, p.stderr)

    # a killed broker shows down within a few seconds, and comes back
    for c, _ in held:
        c.close()
    b2.kill()
    assert wait_for(lambda: instances(st)["broker:broker-2"]["state"] == "down", timeout=12)
    doc = overview(st)
    assert doc["cluster"]["broker"] == {"up": 1, "draining": 0, "down": 1}
    b2.start()
    assert wait_for(lambda: instances(st)["broker:broker-2"]["state"] == "serving", timeout=12)


def test_authd_metrics_carry_process_figures(stack):
    st = stack
    st.start_redis()
    a = st.start_authd()
    am = parse_metrics(http_get(a.http_port, "/metrics")[1])
    assert am["process_cpu_seconds_total"] >= 0 and am["process_resident_memory_bytes"] > 0
    assert am["process_start_time_seconds"] > 1.7e9
    assert any(k.startswith('roost_build_info{service="authd",version=') for k in am)


def test_admin_refuses_bad_endpoints(stack):
    st = stack
    st.start_redis()
    for bad in ("tcp://host:1883", "mqtt://", "mqtt://a b:1883"):
        p = subprocess.run([ADMIN_BIN, "--redis", st.redis.addr, "--mqtt-endpoints", bad],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert "--mqtt-endpoints" in p.stderr, p.stderr


def test_a_broker_stopped_with_sigterm_shows_draining_then_down(stack):
    st = stack
    st.start_redis()
    st.start_admin()
    st.start_authd()
    b = st.start_broker("broker-d", cluster=True)
    assert wait_for(lambda: instances(st).get("broker:broker-d", {}).get("state") == "serving", timeout=10)
    b.proc.send_signal(signal.SIGTERM)  # the broker puts its record once more, as draining, and exits
    seen = []

    def state():
        s = instances(st)["broker:broker-d"]["state"]
        if not seen or seen[-1] != s:
            seen.append(s)
        return s == "down"
    assert wait_for(state, timeout=12, interval=0.1), seen
    assert seen == ["serving", "draining", "down"], seen
    assert b.proc.wait(10) == 0


FORWARDER_BIN = os.path.join(os.path.dirname(ADMIN_BIN), "..", "forwarder", "roost-forwarder")


@pytest.mark.skipif(not os.path.exists(FORWARDER_BIN), reason="roost-forwarder not built")
def test_forwarders_are_instances_too(stack):
    st = stack
    st.start_redis()
    st.start_admin()
    http = free_port()
    argv = [FORWARDER_BIN, "--redis", st.redis.addr, "--prefix", st.prefix, "--consumer", "fwd-1",
            "--http-port", str(http)]
    fwd = st._add(Proc(st, "forwarder", argv, lambda p: http_get(http, "/healthz", 1.0)[0] is not None))
    fwd.start()
    assert wait_for(lambda: instances(st).get("forwarder:fwd-1", {}).get("state") == "serving", timeout=10)
    row = instances(st)["forwarder:fwd-1"]
    assert row["version"] and row["rss_bytes"] > 0 and "connections" not in row
    assert wait_for(lambda: overview(st)["cluster"]["forwarder"] == {"up": 1, "draining": 0, "down": 0}, timeout=5)
    p = subprocess.run([ROOSTCTL_BIN, "--admin", st.admin.rpc, "--token", TOKEN, "status"], capture_output=True,
                       text=True, timeout=20)
    assert "forwarders   1 up, 0 draining, 0 down" in p.stdout.splitlines(), p.stdout
    fwd.kill()
    assert wait_for(lambda: instances(st)["forwarder:fwd-1"]["state"] == "down", timeout=12)
