"""MQTT 5.0, message side (issue 15), two brokers and Redis: properties and
expiry travel over the bus (a 3.1.1 subscriber on the other broker gets the
message without them, a 5.0 one with them and its own Subscription
Identifier); a persistent 5.0 session whose broker is killed (SIGKILL)
resumes on the other one with its queued messages, their properties and
remaining expiry, the expired one left out, and its subscription options
(Subscription Identifier, No Local) kept in Redis. Normative statements of
MQTT 5.0 are cited as [MQTT-x.x.x-y]."""

import time

import pytest

from cluster_stack import cluster  # noqa: F401  (fixture)
from conftest import RawClient, ack_pkt, publish_pkt, uid, wait_until
from mqtt5 import (C5, CONTENT_TYPE, CORRELATION_DATA, MESSAGE_EXPIRY, PAYLOAD_FORMAT,
                   RESPONSE_TOPIC, SESSION_EXPIRY, SUBSCRIPTION_ID, USER_PROPERTY, props)

pytestmark = pytest.mark.roost_only

T = 10.0
NL, RAP = 0x04, 0x08


def bus_ready(pub, sub, topic):
    """Publishes QoS 0 probes on topic from pub until sub (subscribed to it
    on the other broker) gets one: the peers' bus subscriptions are in place."""
    def probe():
        pub.pub(topic, b"__probe__")
        try:
            return sub.get(timeout=0.2)[2] == b"__probe__"
        except Exception:
            return False
    assert wait_until(probe, T, 0.05)
    time.sleep(0.3)
    while True:  # drain late probes
        try:
            assert sub.get(timeout=0.3)[2] == b"__probe__"
        except AssertionError:
            raise
        except Exception:
            return


V5_PROPS = props((PAYLOAD_FORMAT, 1), (MESSAGE_EXPIRY, 120), (CONTENT_TYPE, "application/json"),
                 (RESPONSE_TOPIC, "reply/here"), (CORRELATION_DATA, b"\x01\x02"),
                 (USER_PROPERTY, ("k1", "v1")), (USER_PROPERTY, ("k2", "v2")))


def test_properties_across_the_bus_both_directions(cluster):
    """A 5.0 publisher on b1: the 5.0 subscriber on b2 gets every property
    unaltered [MQTT-3.3.2-4,15,16,17,18,20], the remaining expiry
    [MQTT-3.3.2-6] and the identifier of its own subscription
    [MQTT-3.3.4-3]; the 3.1.1 subscriber on b2 gets the 3.1.1 PUBLISH. A
    3.1.1 publisher on b1: the 5.0 subscriber gets no properties."""
    b1, b2 = cluster.start_broker("b1"), cluster.start_broker("b2")
    cluster.wait_mesh()
    t = uid("bus5")
    with C5(b2.port) as s5, RawClient(b2.port) as s3, C5(b1.port) as p5, \
            RawClient(b1.port) as p3:
        assert s5.sub([(t, 1)], properties=props((SUBSCRIPTION_ID, 4242))) == [1]
        s3.connect()
        assert s3.subscribe([(t, 1)]) == [1]
        p3.connect()
        bus_ready(p5, s5, t)
        while True:  # the 3.1.1 subscriber's probes
            try:
                s3.recv_packet(0.3)
            except Exception:
                break
        assert p5.pub(t, b'{"v": 1}', qos=1, properties=V5_PROPS) == 0
        topic, pr, payload, pkt = s5.get(T)
        assert (topic, payload, pkt.qos) == (t, b'{"v": 1}', 1)
        assert 115 <= pr.pop(MESSAGE_EXPIRY) <= 120
        assert pr == {PAYLOAD_FORMAT: 1, CONTENT_TYPE: "application/json",
                      RESPONSE_TOPIC: "reply/here", CORRELATION_DATA: b"\x01\x02",
                      USER_PROPERTY: [("k1", "v1"), ("k2", "v2")], SUBSCRIPTION_ID: [4242]}
        m = s3.expect("PUBLISH", T)
        assert (m.topic, m.payload, m.qos) == (t, b'{"v": 1}', 1)
        p3.send(publish_pkt(t, b"plain", qos=1, pid=5))
        p3.expect("PUBACK", T)
        topic, pr, payload, _ = s5.get(T)
        assert (payload, pr) == (b"plain", {SUBSCRIPTION_ID: [4242]})


def test_persistent_v5_session_resumes_after_kill9(cluster):
    """A persistent 5.0 session (Session Expiry 600) on b1 with a
    Subscription Identifier and No Local; b1 is killed (SIGKILL). Messages
    published on b2 meanwhile wait in Redis; the session resumed on b2 gets
    them with their properties, the remaining expiry [MQTT-3.3.2-6] and its
    identifier, not the one that expired [MQTT-3.3.2-5]; its own message
    is still not sent back through the No Local subscription [MQTT-3.8.3-3]
    (the options survived in Redis)."""
    b1, b2 = cluster.start_broker("b1"), cluster.start_broker("b2")
    cluster.wait_mesh()
    t, cid = uid("k9"), uid("k9s")
    keep = props((SESSION_EXPIRY, 600))
    with C5(b1.port, cid, clean=False, properties=keep) as s:
        assert s.sub([(t + "/#", 1 | NL)], properties=props((SUBSCRIPTION_ID, 9))) == [1]
        with C5(b2.port) as p:
            bus_ready(p, s, t + "/probe")
        b1.kill9()
    with C5(b2.port) as p:
        assert p.pub(t + "/a", b"long", qos=1, pid=1, properties=V5_PROPS) == 0
        assert p.pub(t + "/b", b"short", qos=1, pid=2,
                     properties=props((MESSAGE_EXPIRY, 1), (USER_PROPERTY, ("x", "y")))) == 0
        assert p.pub(t + "/c", b"none", qos=1, pid=3,
                     properties=props((USER_PROPERTY, ("only", "this")))) == 0
    time.sleep(2.2)
    with C5(b2.port, cid, clean=False, properties=keep) as s:
        assert s.session_present == 1
        topic, pr, payload, _ = s.get(T)
        assert (topic, payload) == (t + "/a", b"long")
        assert 110 <= pr.pop(MESSAGE_EXPIRY) <= 118
        assert pr == {PAYLOAD_FORMAT: 1, CONTENT_TYPE: "application/json",
                      RESPONSE_TOPIC: "reply/here", CORRELATION_DATA: b"\x01\x02",
                      USER_PROPERTY: [("k1", "v1"), ("k2", "v2")], SUBSCRIPTION_ID: [9]}
        topic, pr, payload, _ = s.get(T)
        assert (topic, payload, pr) == (t + "/c", b"none",
                                        {USER_PROPERTY: [("only", "this")], SUBSCRIPTION_ID: [9]})
        s.no_packet(0.5)
        # No Local came back from Redis with the subscription
        assert s.pub(t + "/own", b"own", qos=1, pid=7) == 0
        s.no_packet(0.5)


def test_queued_retain_flag_follows_retain_as_published(cluster):
    """Messages published with RETAIN while a persistent session was
    offline wait in Redis; delivered through an established subscription
    they carry RETAIN 0 [MQTT-3.3.1-12] unless the subscription has Retain
    As Published [MQTT-3.3.1-13] (and a 3.1.1 session gets 0 too,
    3.1.1 [MQTT-3.3.1-9])."""
    b1 = cluster.start_broker("b1")
    t, cid, cid3 = uid("qr"), uid("qrs"), uid("qr3")
    keep = props((SESSION_EXPIRY, 600))
    with C5(b1.port, cid, clean=False, properties=keep) as s:
        assert s.sub([(t + "/keep/#", 1 | RAP), (t + "/clear/#", 1)]) == [1, 1]
    with RawClient(b1.port) as r:
        r.connect(cid3, clean=False)
        assert r.subscribe([(t + "/#", 1)]) == [1]
    with C5(b1.port) as p:
        assert p.pub(t + "/keep/x", b"k", qos=1, pid=1, retain=True) == 0
        assert p.pub(t + "/clear/x", b"c", qos=1, pid=2, retain=True) == 0
    with C5(b1.port, cid, clean=False, properties=keep) as s:
        got = {}
        for _ in range(2):
            topic, _, payload, pkt = s.get(T)
            got[payload] = pkt.retain
        assert got == {b"k": True, b"c": False}
    with RawClient(b1.port) as r:
        assert r.connect(cid3, clean=False) == 1
        for _ in range(2):
            m = r.expect("PUBLISH", T)
            assert m.retain is False
            r.send(ack_pkt("PUBACK", m.pid))


def test_retained_with_properties_from_redis_and_rap_over_the_bus(cluster):
    """Retained messages keep their properties and expiry in Redis: a broker
    started after the publishing one was killed (SIGKILL) loads them and
    sends the one still valid with its properties, retain flag set and the
    remaining interval [MQTT-3.3.2-6], not the expired one
    [MQTT-3.3.2-5]. A live retained publish from the other broker reaches a
    Retain As Published subscriber with RETAIN 1 [MQTT-3.3.1-13]."""
    b1 = cluster.start_broker("b1")
    base = uid("rr5")
    with C5(b1.port) as p:
        assert p.pub(base + "/long", b"L", qos=1, pid=1, retain=True, properties=V5_PROPS) == 0
        assert p.pub(base + "/short", b"S", qos=1, pid=2, retain=True,
                     properties=props((MESSAGE_EXPIRY, 1))) == 0
    b1.kill9()
    time.sleep(2.2)
    b2 = cluster.start_broker("b2")
    assert wait_until(lambda: "event=retained_loaded" in b2.log_since_start(), T)
    with C5(b2.port) as s:
        assert s.sub([(base + "/#", 1 | RAP)]) == [1]
        topic, pr, payload, pkt = s.get(T)
        assert (topic, payload, pkt.retain) == (base + "/long", b"L", True)
        assert 110 <= pr.pop(MESSAGE_EXPIRY) <= 118
        assert pr == {PAYLOAD_FORMAT: 1, CONTENT_TYPE: "application/json",
                      RESPONSE_TOPIC: "reply/here", CORRELATION_DATA: b"\x01\x02",
                      USER_PROPERTY: [("k1", "v1"), ("k2", "v2")]}
        s.no_packet(0.3)
        b3 = cluster.start_broker("b3")
        cluster.wait_mesh()
        with C5(b3.port) as p:
            bus_ready(p, s, base + "/probe")
            assert p.pub(base + "/live", b"R", qos=1, retain=True) == 0
        topic, pr, payload, pkt = s.get(T)
        assert (topic, payload, pkt.retain) == (base + "/live", b"R", True)
