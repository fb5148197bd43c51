"""MQTT 5.0, expired retained messages (issue 15): a retained message whose
Message Expiry Interval has run out is removed from the broker's retained
store, not only skipped when sent [MQTT-3.3.2-5], so it stops counting
towards --max-retained, and (cluster) leaves Redis unless Redis holds a
newer message for the topic. Raw sockets (exact bytes)."""

import time

import pytest

from cluster_stack import cluster  # noqa: F401  (fixture)
from conftest import uid, wait_until
from mqtt5 import C5, MESSAGE_EXPIRY, props

pytestmark = pytest.mark.roost_only  # --max-retained is Roost's


def test_expired_retained_stop_counting(broker_factory):
    """--max-retained 2: two retained messages with a 1 s expiry fill the
    store; while they live a third topic is refused (dropped, as before);
    once they expired the third is kept and is the only one a new
    subscriber to the whole tree gets."""
    b = broker_factory(max_retained=2)
    t = uid("rx")
    short = props((MESSAGE_EXPIRY, 1))
    with C5(b.port) as p:
        assert p.pub(t + "/a", b"a", qos=1, retain=True, pid=1, properties=short) == 0
        assert p.pub(t + "/b", b"b", qos=1, retain=True, pid=2, properties=short) == 0
        assert p.pub(t + "/c", b"early", qos=1, retain=True, pid=3) == 0  # over the limit
        with C5(b.port) as s:
            assert s.sub([(t + "/#", 1)]) == [1]
            got = sorted(s.get()[2] for _ in range(2))
            assert got == [b"a", b"b"]
            s.no_packet(0.3)
        time.sleep(2.2)  # both expired (and past the once-a-second walk)
        assert p.pub(t + "/c", b"late", qos=1, retain=True, pid=4) == 0
        assert p.pub(t + "/d", b"d", qos=1, retain=True, pid=5) == 0
    with C5(b.port) as s:
        assert s.sub([(t + "/#", 1)]) == [1]
        got = sorted(s.get()[2] for _ in range(2))
        assert got == [b"d", b"late"]
        s.no_packet(0.3)
    assert "retained_expired" in b.log()


def resp(port, *args):
    """One command to Redis over RESP with binary arguments; the raw reply."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return s.recv(65536)


def test_expired_retained_leave_redis(cluster):
    """Cluster mode, --max-retained 2: the expired retained messages the
    walk removes are deleted from Redis too, unless Redis holds a newer
    message for the topic by then (stored by another broker: here written
    straight into the hash, a blob without expiry), which stays."""
    cluster.broker_args += ["--max-retained", "2"]
    b = cluster.start_broker()
    key = cluster.prefix + "{g}:retained"
    t = uid("rxr")
    short = props((MESSAGE_EXPIRY, 1))
    with C5(b.port) as p:
        assert p.pub(t + "/a", b"a", qos=1, retain=True, pid=1, properties=short) == 0
        assert p.pub(t + "/b", b"b", qos=1, retain=True, pid=2, properties=short) == 0
        assert sorted(cluster.redis.lines("HKEYS", key)) == [t + "/a", t + "/b"]
        time.sleep(2.2)
        topic = (t + "/b").encode()
        newer = bytes([0, 1]) + len(topic).to_bytes(2, "big") + topic + b"newer"  # sblob.h
        assert resp(cluster.redis.port, "HSET", key, topic, newer) == b":0\r\n"
        assert p.pub(t + "/c", b"c", qos=1, retain=True, pid=3) == 0
    assert wait_until(lambda: sorted(cluster.redis.lines("HKEYS", key)) == [t + "/b", t + "/c"], 5)
    assert resp(cluster.redis.port, "HGET", key, topic).endswith(b"newer\r\n")
