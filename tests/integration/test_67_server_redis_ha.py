"""67 script/server with ROOST_REDIS_HA=1 (issue 19): a Redis primary, a
replica and three Sentinels under its var dir, every service finding Redis
through the Sentinels. Devices are served through haproxy (a QoS 1 message
queued for an offline persistent session: a durable write the brokers WAIT
on the replica for); a failover
(SENTINEL FAILOVER: the replica promoted, the old primary made its
replica) is followed by both brokers and admin, and devices keep being
served; SIGTERM stops every process, the Redis nodes and Sentinels too.

script/server runs as in test_58 (ROOST_BUILD=0, temp var dir, free ports)."""

import os
import signal
import subprocess
import time

import pytest

from conftest import PahoClient, uid, wait_until
from test_58_server_supervise import NAMES, T, Server, alive, finish, round_trip

pytestmark = pytest.mark.roost_only

HA_NAMES = NAMES + ("redis-replica", "sentinel1", "sentinel2", "sentinel3")


def ha_env(ports):
    return {"ROOST_REDIS_HA": "1",
            "ROOST_SENTINEL_PORTS": "%d,%d,%d" % (ports["SENTINEL1"], ports["SENTINEL2"], ports["SENTINEL3"])}


@pytest.fixture
def server(request):
    s = Server(extra_ports=("REDIS_REPLICA", "SENTINEL1", "SENTINEL2", "SENTINEL3"), extra_env=ha_env)
    try:
        yield s
    finally:
        finish(s, request, HA_NAMES)


def sentinel(s, *args):
    pw = open(os.path.join(s.var, "keys", "redis-sentinel.password")).read().strip()
    out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(s.ports["SENTINEL1"]), "-a", pw] +
                         list(args), capture_output=True, text=True, timeout=10)
    return out.stdout.split()


def redis(s, port, *args):
    pw = open(os.path.join(s.var, "keys", "redis-default.password")).read().strip()
    out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(port), "-a", pw] + list(args),
                         capture_output=True, text=True, timeout=10)
    return out.stdout


def log(s, name):
    try:
        with open(os.path.join(s.var, "log", name + ".log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def queued(port, topic, payload):
    """A persistent session subscribes to topic and goes away; a QoS 1
    PUBLISH to it (a write to the session's queue in Redis: PUBACK only once
    the replica has it) is then waiting for it when it comes back, through
    haproxy, to either broker."""
    cid = uid("ha")
    sub = PahoClient(port, client_id=cid, clean=False)
    sub.connect(timeout=T)
    assert sub.subscribe(topic, 1, timeout=T) == [1]
    sub.disconnect()
    time.sleep(1.2)  # the other broker's index of persistent subscriptions follows within 1 s
    p = PahoClient(port, client_id=uid("ha"))
    p.connect(timeout=T)
    p.publish(topic, payload, qos=1, timeout=3 * T)
    p.disconnect()
    sub = PahoClient(port, client_id=cid, clean=False)
    try:
        sub.connect(timeout=T)
        return sub.get(timeout=T).payload
    finally:
        sub.disconnect()


def test_redis_ha_failover_followed(server):
    s = server
    assert wait_until(lambda: "Roost is running" in s.out() or s.proc.poll() is not None, timeout=120), s.out()
    assert s.proc.poll() is None, s.out()
    pids = {n: s.pid(n) for n in HA_NAMES}
    assert all(pids.values()) and all(alive(p) for p in pids.values()), pids
    primary, replica = s.ports["REDIS"], s.ports["REDIS_REPLICA"]
    assert sentinel(s, "SENTINEL", "get-master-addr-by-name", "roost") == ["127.0.0.1", str(primary)]
    for b in ("broker1", "broker2"):
        assert "event=redis_ha sentinels=127.0.0.1:%d" % s.ports["SENTINEL1"] in log(s, b)
        assert "event=redis_connected host=127.0.0.1 port=%d" % primary in log(s, b)

    # the replica has synced (QoS 1 publishes that write wait for it)
    assert wait_until(lambda: "connected_slaves:1" in redis(s, primary, "INFO", "replication"), timeout=T)
    g = s.api("POST", "/api/v1/groups", {"name": "ha", "description": "",
                                         "acl": [{"permission": "allow", "action": "publish", "topic": "ha/#"},
                                                 {"permission": "allow", "action": "subscribe", "topic": "ha/#"}]})
    for pattern in ("ha-*", "sup-*"):  # sup-*: round_trip's clients
        s.api("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": pattern, "groups": [g["id"]]})
    mqtt_port = s.ports["MQTT"]
    assert queued(mqtt_port, "ha/q1", b"before") == b"before"

    assert sentinel(s, "SENTINEL", "FAILOVER", "roost") == ["OK"]
    t0 = time.monotonic()
    assert wait_until(lambda: sentinel(s, "SENTINEL", "get-master-addr-by-name", "roost") ==
                      ["127.0.0.1", str(replica)], timeout=30), "no failover"
    switched = time.monotonic() - t0
    for b in ("broker1", "broker2"):
        assert wait_until(lambda: "event=redis_connected host=127.0.0.1 port=%d" % replica in log(s, b),
                          timeout=T), "%s did not follow:\n%s" % (b, log(s, b)[-3000:])
    followed = time.monotonic() - t0
    print("SENTINEL FAILOVER: new primary named after %.2fs, brokers on it after %.2fs" % (switched, followed))
    # the old primary is now a replica of the new one (a queued QoS 1
    # message needs it: the brokers WAIT for one replica)
    assert wait_until(lambda: "connected_slaves:1" in redis(s, replica, "INFO", "replication"), timeout=3 * T)
    assert queued(mqtt_port, "ha/q2", b"after") == b"after"
    round_trip(mqtt_port, "ha/after")
    # admin writes to the new primary too
    s.api("POST", "/api/v1/groups", {"name": "ha2", "description": "", "acl": []})
    for name, pid in pids.items():
        assert s.pid(name) == pid and alive(pid), "%s restarted: %s" % (name, s.out())

    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(30) == 143
    left = [n for n, p in pids.items() if alive(p)]
    assert not left, "still running after SIGTERM to script/server: %r" % left
