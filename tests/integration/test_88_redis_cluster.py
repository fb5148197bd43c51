"""Roost on a Redis Cluster (issue 19): 3 primaries + 3 replicas
(redis_cluster.py), brokers given --redis-cluster.

- The cluster cases of the integration suite (test_50 bus, test_51
  takeover and persistent sessions, test_52 broker failover, test_53 scale
  out) run unchanged against the Redis Cluster: cluster_stack.py starts one
  instead of a single redis-server when ROOST_TEST_REDIS_CLUSTER=1.
- Persistent sessions spread over the primaries by client id (the hash tag
  of store/keys.h), every key of one client in one slot, everything global
  in the slot of {g}; queued messages resume on the other broker.
"""

import os
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest

from cluster_stack import Cluster, running
from conftest import DISCONNECT, RawClient, connect_pkt, free_port, publish_pkt, uid, wait_until
from stack import http_get

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("suite", ["test_50_cluster_bus.py", "test_51_cluster_takeover.py",
                                   "test_52_cluster_failover.py", "test_53_cluster_scale.py"])
def test_cluster_suite_passes_on_a_redis_cluster(suite):
    env = dict(os.environ, ROOST_TEST_REDIS_CLUSTER="1")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(HERE, suite)], env=env, capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, "%s on a Redis Cluster:\n%s\n%s" % (suite, r.stdout[-6000:], r.stderr[-2000:])


def _client(cid, clean):
    c = mqtt.Client(client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    return c


def test_sessions_spread_over_primaries_and_resume_elsewhere():
    with running(Cluster(), None) as cl:
        rc = cl.start_redis(cluster=True)
        b1, b2 = cl.start_broker(), cl.start_broker()
        cl.wait_mesh()
        ids = ["dev-%d" % i for i in range(24)] + ["odd}id", "{braces}"]
        for cid in ids:
            c = _client(cid, False)
            c.connect("127.0.0.1", b1.port)
            c.loop_start()
            assert c.subscribe("fleet/#", 1)[0] == mqtt.MQTT_ERR_SUCCESS
            assert wait_until(lambda: rc.cmd("HLEN", cl.prefix + "subs:{c:%s}" % cid) == "1", 10)
            c.disconnect()
            c.loop_stop()
        # b2 knows all of them (its psubs index reloads on a version change;
        # a reload racing a bus announcement can miss one for a poll period)
        assert wait_until(lambda: "event=psubs_loaded subscriptions=%d " % len(ids) in b2.log(), 10)
        pub = _client("pub", True)
        pub.connect("127.0.0.1", b2.port)
        pub.loop_start()
        for k in range(5):
            pub.publish("fleet/x", "m%d" % k, qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        # every client's keys in one slot; the clients on more than one primary
        owners = set()
        for cid in ids:
            keys = [cl.prefix + n + "{c:%s}" % cid for n in ("sess:", "subs:", "q:", "qm:")]
            slots = {rc.slot(k) for k in keys}
            assert len(slots) == 1, (cid, slots)
            owners.add(rc.primary_of(keys[0]).port)
            assert rc.cmd("LLEN", keys[2]) == "5", cid
        assert len(owners) == 3, owners
        assert rc.slot(cl.prefix + "{g}:psubs") == rc.slot(cl.prefix + "{g}:retained")
        # a session resumes on the other broker with its queue, in order
        got = []
        c = _client("odd}id", False)
        c.on_message = lambda cli, ud, m: got.append(m.payload.decode())
        c.connect("127.0.0.1", b2.port)
        c.loop_start()
        assert wait_until(lambda: len(got) >= 5, 10), got
        time.sleep(0.3)
        assert got == ["m%d" % k for k in range(5)]
        assert wait_until(lambda: rc.cmd("LLEN", cl.prefix + "q:{c:odd}id}") == "0", 5)
        c.disconnect()
        c.loop_stop()



def test_no_client_is_taken_in_before_the_index_is_read():
    """A broker routes no client message before its first read of the
    persistent-subscription index. The primary of the {g} slot (where the
    index lives) is paused for writes (CLIENT PAUSE WRITE: scripts wait,
    SCRIPT LOAD and the links do not), so a new broker links to every
    primary but its read of the index waits. A QoS 1 PUBLISH to it, from a
    client whose keys are on another primary, is not acknowledged before
    the index is read, and is queued for the offline persistent subscriber
    (before the fix: acknowledged at once and never queued)."""
    pause_ms = 3000  # shorter than the broker's hold of its listeners (5 s, server.c)
    with running(Cluster(), None) as cl:
        rc = cl.start_redis(cluster=True)
        b1 = cl.start_broker("b1")
        run = uid("gate")
        sub_id = run + "-sub"
        s = RawClient(b1.port)
        s.connect(sub_id, clean=False)
        assert s.subscribe([(run + "/#", 1)]) == [1]
        s.send(DISCONNECT)
        s.close()
        assert wait_until(lambda: cl.lease(sub_id) == "", 10), cl.lease(sub_id)

        g = rc.primary_of(cl.prefix + "{g}:psubs")
        pub_id = next(c for c in ("%s-pub%d" % (run, i) for i in range(200))
                      if rc.primary_of(cl.prefix + "sess:{c:%s}" % c).port != g.port)
        http = free_port()
        cl.broker_args = ["--http-port", str(http)]
        assert g.cmd("CLIENT", "PAUSE", str(pause_ms), "WRITE") == "OK"
        paused_at = time.monotonic()
        b2 = cl.start_broker("b2")   # returns once linked to Redis and listening
        assert "event=psubs_loaded" not in b2.log(), "the index was read during the pause"
        assert http_get(http, "/healthz", 2) == (503, "persistent-subscription index not loaded\n")
        p = RawClient(b2.port, timeout=pause_ms / 1000 + 10)
        p.send(connect_pkt(pub_id, True))
        p.send(publish_pkt(run + "/x", b"held", qos=1, pid=1))
        assert p.expect("CONNACK").body == b"\x00\x00"
        assert p.expect("PUBACK").pid == 1
        # acknowledged only after the index was read (the log is written first)
        assert "event=psubs_loaded" in b2.log(), "PUBACK %.1f s into the pause, before the index was read" % (
            time.monotonic() - paused_at)
        assert "event=cluster_ready" in b2.log()
        assert http_get(http, "/healthz", 2) == (200, "ok\n")
        p.send(DISCONNECT)
        p.close()

        s = RawClient(b1.port)
        assert s.connect(sub_id, clean=False) == 1
        m = s.expect("PUBLISH")
        assert (m.topic, m.payload) == (run + "/x", b"held"), m
        s.ack(m)
        s.send(DISCONNECT)
        s.close()


def test_one_clients_messages_keep_their_order_without_replica_waits():
    """With --redis-min-replicas 0 a connection's message still waits behind
    its earlier pending writes on a Redis Cluster. A retained QoS 1 PUBLISH
    writes to the {g} primary (paused for writes here) and to the queue of
    an offline persistent subscriber on another primary; the next PUBLISH
    on the same topic, not retained, writes only that queue. Each primary
    answers in order, the two do not: before, the second one's queue write
    came back first, so it was delivered and acknowledged before the first
    (a live subscriber saw 2 then 1; PUBACK 2 before PUBACK 1 breaks
    [MQTT-4.6.0-2])."""
    pause_ms = 600
    with running(Cluster(broker_args=["--redis-min-replicas", "0"]), None) as cl:
        rc = cl.start_redis(cluster=True)
        b1 = cl.start_broker("b1")
        run = uid("order")
        topic = run + "/t"
        g = rc.primary_of(cl.prefix + "{g}:psubs")
        sub_id = next(c for c in ("%s-sub%d" % (run, i) for i in range(200))
                      if rc.primary_of(cl.prefix + "sess:{c:%s}" % c).port != g.port)
        s = RawClient(b1.port)
        s.connect(sub_id, clean=False)
        assert s.subscribe([(topic, 1)]) == [1]
        s.send(DISCONNECT)
        s.close()
        assert wait_until(lambda: cl.lease(sub_id) == "", 10), cl.lease(sub_id)
        live = RawClient(b1.port)
        live.connect(run + "-live", clean=True)
        assert live.subscribe([(topic, 1)]) == [1]
        p = RawClient(b1.port, timeout=pause_ms / 1000 + 10)
        p.connect(run + "-pub", clean=True)
        assert g.cmd("CLIENT", "PAUSE", str(pause_ms), "WRITE") == "OK"
        p.send(publish_pkt(topic, b"first", qos=1, retain=True, pid=1) +
               publish_pkt(topic, b"second", qos=1, pid=2))
        acks = [p.expect("PUBACK").pid, p.expect("PUBACK").pid]
        got = []
        for _ in range(2):
            m = live.expect("PUBLISH")
            live.ack(m)
            got.append(m.payload)
        assert got == [b"first", b"second"], got
        assert acks == [1, 2], acks
        for c in (p, live):
            c.send(DISCONNECT)
            c.close()
