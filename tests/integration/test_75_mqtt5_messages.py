"""MQTT 5.0, message side (issue 15), one node: PUBLISH properties passed
through unchanged to 5.0 subscribers and left out for 3.1.1 ones (and the
reverse), Message Expiry Interval (expired messages not delivered from a
queue or retained storage, the remaining interval sent), Payload Format
Indicator checked, PUB* reason codes, subscription options (No Local,
Retain As Published, Retain Handling) and Subscription Identifiers with
overlapping subscriptions. Raw sockets (exact bytes), paho-mqtt
(protocol=MQTTv5) and mosquitto_pub -V 5. Normative statements of MQTT 5.0
are cited as [MQTT-x.x.x-y]."""

import shutil
import subprocess
import time

import pytest

from conftest import RawClient, T, publish_pkt, uid, wait_until
from mqtt5 import (C5, pub5, CONTENT_TYPE, CORRELATION_DATA, MESSAGE_EXPIRY, PAYLOAD_FORMAT,
                   REASON_STRING, REQUEST_PROBLEM_INFO, RESPONSE_TOPIC, SESSION_EXPIRY, SUBSCRIPTION_ID,
                   TOPIC_ALIAS, USER_PROPERTY, ack5, ack5_pkt, paho5, props, publish5_pkt)

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

pytestmark = pytest.mark.roost_only  # Mosquitto differs (e.g. expiry of 0, retained expiry)

NL, RAP = 0x04, 0x08  # subscription options [MQTT-3.8.3-...] bits


def barrier5(sub, pub, marker):
    """Everything published before this has been delivered to sub: sub gets
    the marker last (one session's messages keep their order [MQTT-4.6.0-5])."""
    got = []
    pub.pub(marker, b"__barrier__", qos=1, pid=999)
    while True:
        t, pr, payload, p = sub.get()
        if t == marker:
            return got
        got.append((t, pr, payload, p))


# ------------------------------------------------------------ pass-through

ALL_PROPS = props((PAYLOAD_FORMAT, 1), (MESSAGE_EXPIRY, 100), (CONTENT_TYPE, "text/plain"),
                  (RESPONSE_TOPIC, "resp/x"), (CORRELATION_DATA, b"\x00\x01\xff"),
                  (USER_PROPERTY, ("a", "1")), (USER_PROPERTY, ("b", "2")),
                  (USER_PROPERTY, ("a", "3")), (TOPIC_ALIAS, 1))


def test_properties_pass_through_and_left_out_for_311(broker):
    """A 5.0 subscriber gets the publisher's Payload Format Indicator
    [MQTT-3.3.2-4], Content Type [MQTT-3.3.2-20], Response Topic
    [MQTT-3.3.2-15], Correlation Data [MQTT-3.3.2-16] and every User
    Property in order [MQTT-3.3.2-17,18] unaltered, the Message Expiry
    Interval minus the time waited [MQTT-3.3.2-6], never the publisher's
    Topic Alias [MQTT-3.3.2-7]; a 3.1.1 subscriber gets the same message as
    a 3.1.1 PUBLISH (no properties in that layout)."""
    t = uid("pt")
    with C5(broker.port) as s5, RawClient(broker.port) as s3, C5(broker.port) as p:
        assert s5.sub([(t, 1)]) == [1]
        s3.connect()
        assert s3.subscribe([(t, 1)]) == [1]
        assert p.pub(t, "hé", qos=1, properties=ALL_PROPS) == 0
        topic, pr, payload, pkt = s5.get()
        assert (topic, payload, pkt.qos, pkt.retain) == (t, "hé".encode(), 1, False)
        assert 98 <= pr.pop(MESSAGE_EXPIRY) <= 100
        assert pr == {PAYLOAD_FORMAT: 1, CONTENT_TYPE: "text/plain", RESPONSE_TOPIC: "resp/x",
                      CORRELATION_DATA: b"\x00\x01\xff",
                      USER_PROPERTY: [("a", "1"), ("b", "2"), ("a", "3")]}
        m = s3.expect("PUBLISH")
        assert (m.topic, m.payload, m.qos) == (t, "hé".encode(), 1)
        s3.send(ack5_pkt("PUBACK", m.pid))
        # a later PUBLISH with the alias alone reaches the same topic, and
        # the alias still does not travel
        assert p.pub("", b"again", qos=1, pid=2, properties=props((TOPIC_ALIAS, 1))) == 0
        topic, pr, payload, _ = s5.get()
        assert (topic, pr, payload) == (t, {}, b"again")


def test_311_publisher_to_v5_subscriber(broker):
    """A 3.1.1 publisher's message reaches a 5.0 subscriber as a 5.0 PUBLISH
    with an empty property list; QoS and payload unchanged."""
    t = uid("rv")
    with C5(broker.port) as s5, RawClient(broker.port) as p3:
        assert s5.sub([(t, 2)]) == [2]
        p3.connect()
        p3.send(publish_pkt(t, b"from-311", qos=1, pid=7))
        p3.expect("PUBACK")
        topic, pr, payload, pkt = s5.get()
        assert (topic, pr, payload, pkt.qos) == (t, {}, b"from-311", 1)


def test_paho_and_mosquitto_v5_clients(broker):
    """Stock clients: mosquitto_pub -V 5 sends User Properties, Content Type
    and Message Expiry; a paho-mqtt MQTTv5 subscriber reads them back."""
    if not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto_pub not installed")
    t = uid("mq")
    c, got = paho5(broker.port, t)
    try:
        subprocess.run(["mosquitto_pub", "-V", "5", "-p", str(broker.port), "-t", t, "-m", "hi",
                        "-q", "1", "-D", "publish", "user-property", "k", "v",
                        "-D", "publish", "content-type", "text/x",
                        "-D", "publish", "message-expiry-interval", "60"],
                       check=True, timeout=T)
        assert wait_until(lambda: got, T)
        m = got[0]
        assert (m.topic, m.payload) == (t, b"hi")
        assert m.properties.UserProperty == [("k", "v")]
        assert m.properties.ContentType == "text/x"
        assert 58 <= m.properties.MessageExpiryInterval <= 60
    finally:
        c.loop_stop()
        c.disconnect()


# ------------------------------------------------------------ expiry

def test_expired_not_delivered_from_queue_remaining_sent(broker):
    """A persistent 5.0 session (Session Expiry > 0) is offline: of the QoS 1
    messages queued for it, the one whose Message Expiry Interval ran out is
    not delivered [MQTT-3.3.2-5]; the other comes with what remains of its
    interval [MQTT-3.3.2-6]; one without expiry comes without the property."""
    t, cid = uid("ex"), uid("exs")
    keep = props((SESSION_EXPIRY, 300))
    with C5(broker.port, cid, clean=False, properties=keep) as s:
        assert s.sub([(t, 1)]) == [1]
    with C5(broker.port) as p:
        assert p.pub(t, b"short", qos=1, pid=1, properties=props((MESSAGE_EXPIRY, 1))) == 0
        assert p.pub(t, b"long", qos=1, pid=2, properties=props((MESSAGE_EXPIRY, 60))) == 0
        assert p.pub(t, b"none", qos=1, pid=3) == 0
    time.sleep(2.2)
    with C5(broker.port, cid, clean=False, properties=keep) as s:
        assert s.session_present == 1
        topic, pr, payload, _ = s.get()
        assert payload == b"long"
        assert 55 <= pr[MESSAGE_EXPIRY] <= 58
        topic, pr, payload, _ = s.get()
        assert (payload, pr) == (b"none", {})
        s.no_packet(0.3)


def test_expired_retained_not_sent(broker):
    """A retained message whose expiry ran out is not sent to a new
    subscriber [MQTT-3.3.2-5]; another one is, retain flag set, with the
    remaining interval [MQTT-3.3.2-6]."""
    base = uid("rx")
    with C5(broker.port) as p:
        assert p.pub(base + "/short", b"s", qos=1, pid=1, retain=True,
                     properties=props((MESSAGE_EXPIRY, 1))) == 0
        assert p.pub(base + "/long", b"l", qos=1, pid=2, retain=True,
                     properties=props((MESSAGE_EXPIRY, 60), (USER_PROPERTY, ("r", "1")))) == 0
    time.sleep(2.2)
    with C5(broker.port) as s:
        assert s.sub([(base + "/#", 1)]) == [1]
        topic, pr, payload, pkt = s.get()
        assert (topic, payload, pkt.retain) == (base + "/long", b"l", True)
        assert 55 <= pr[MESSAGE_EXPIRY] <= 58
        assert pr[USER_PROPERTY] == [("r", "1")]
        s.no_packet(0.3)


# ------------------------------------------------------------ reason codes

def test_payload_format_invalid(broker):
    """Payload Format Indicator 1 with a payload that is not UTF-8: PUBACK /
    PUBREC 0x99 Payload format invalid (3.3.2.3.2), nothing delivered; the
    refused QoS 2 exchange ends there (a PUBREL after it gets PUBCOMP 0x92
    Packet Identifier not found); valid UTF-8 with the indicator is
    delivered."""
    t = uid("pf")
    utf8 = props((PAYLOAD_FORMAT, 1))
    with C5(broker.port) as s, C5(broker.port) as p:
        assert s.sub([(t, 1), (t + "/mark", 1)]) == [1, 1]
        assert p.pub(t, b"\xff\xfe", qos=1, pid=1, properties=utf8) == 0x99
        assert p.pub(t, b"\xc0\x80", qos=2, pid=2, properties=utf8) == 0x99
        p.send(ack5_pkt("PUBREL", 2))
        assert ack5(p._expect_ack("PUBCOMP", 2))[:2] == (2, 0x92)
        assert p.pub(t, "ok ✓", qos=1, pid=3, properties=utf8) == 0
        got = barrier5(s, p, t + "/mark")
        assert [(x[2], x[1]) for x in got] == [("ok ✓".encode(), {PAYLOAD_FORMAT: 1})]


@pytest.mark.parametrize("problem_info", [1, 0])
def test_refusing_acks_carry_a_reason_string_when_allowed(broker, problem_info):
    """A refusing PUBACK/PUBREC says why in a Reason String (3.4.2.2.2),
    unless the client set Request Problem Information to 0, when only
    PUBLISH, CONNACK and DISCONNECT may carry one [MQTT-3.1.2-29]."""
    t = uid("rs")
    with C5(broker.port, properties=props((REQUEST_PROBLEM_INFO, problem_info))) as p:
        p.send(publish5_pkt(t, b"\xff", qos=1, pid=4, properties=props((PAYLOAD_FORMAT, 1))))
        pid, rc, pr = ack5(p._expect_ack("PUBACK", 4))
        assert (pid, rc) == (4, 0x99)
        assert pr.get(REASON_STRING) == ("Payload format invalid" if problem_info else None), pr


# ------------------------------------------------------------ subscription options

def test_no_local(broker):
    """No Local: a client's own messages are not sent back through that
    subscription [MQTT-3.8.3-3]; another client still gets them, and an
    overlapping subscription without No Local delivers one copy."""
    t = uid("nl")
    with C5(broker.port) as a, C5(broker.port) as b:
        assert a.sub([(t + "/#", 1 | NL)]) == [1]
        assert b.sub([(t + "/#", 1)]) == [1]
        assert a.pub(t + "/x", b"own", qos=1) == 0
        assert b.get()[2] == b"own"
        a.no_packet(0.3)
        assert a.sub([(t + "/x", 0)], pid=2) == [0]  # overlapping, no No Local
        assert a.pub(t + "/x", b"own2", qos=1, pid=3) == 0
        topic, _, payload, pkt = a.get()
        assert (topic, payload, pkt.qos) == (t + "/x", b"own2", 0)
        a.no_packet(0.3)


def test_retain_as_published_and_retain_handling(broker):
    """Retain As Published 1 keeps the RETAIN flag of a live delivery
    [MQTT-3.3.1-13], 0 clears it [MQTT-3.3.1-12]. Retain Handling 0 sends
    the retained message at every SUBSCRIBE [MQTT-3.3.1-9], 1 only when the
    subscription is new [MQTT-3.3.1-10], 2 never [MQTT-3.3.1-11]."""
    t = uid("rap")
    with C5(broker.port) as keep, C5(broker.port) as clear, C5(broker.port) as p:
        assert keep.sub([(t, 1 | RAP)]) == [1]
        assert clear.sub([(t, 1)]) == [1]
        assert p.pub(t, b"r1", qos=1, retain=True) == 0
        assert keep.get()[3].retain is True
        assert clear.get()[3].retain is False
    rh = lambda n: n << 4  # noqa: E731
    with C5(broker.port) as s:
        assert s.sub([(t, 1 | rh(1))]) == [1]  # new: sent
        assert s.get()[3].retain is True
        assert s.sub([(t, 1 | rh(1))], pid=2) == [1]  # exists: not sent
        s.no_packet(0.3)
        assert s.sub([(t, 1 | rh(0))], pid=3) == [1]  # 0: sent again
        assert s.get()[2] == b"r1"
    with C5(broker.port) as s:
        assert s.sub([(t, 1 | rh(2))]) == [1]
        s.no_packet(0.3)


def test_subscription_identifiers_overlapping(broker):
    """A PUBLISH carries the Subscription Identifier of every matching
    subscription that has one, in one message at the highest QoS
    [MQTT-3.3.4-3,4]; a SUBSCRIBE again replaces the identifier
    [MQTT-3.8.4-3]; a 3.1.1 subscriber's identifiers do not exist."""
    t = uid("sid")
    with C5(broker.port) as s, C5(broker.port) as p:
        assert s.sub([(t + "/#", 0)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [0]
        assert s.sub([(t + "/+", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 268435455))) == [1]
        assert s.sub([(t + "/x", 0)], pid=3) == [0]
        assert p.pub(t + "/x", b"1", qos=1) == 0
        topic, pr, payload, pkt = s.get()
        assert pkt.qos == 1
        assert sorted(pr[SUBSCRIPTION_ID]) == [1, 268435455]
        assert p.pub(t + "/x/y", b"2", qos=1, pid=2) == 0
        assert s.get()[1] == {SUBSCRIPTION_ID: [1]}
        assert s.sub([(t + "/#", 0)], pid=4) == [0]  # replaced, now without one
        assert p.pub(t + "/x/y", b"3", qos=1, pid=3) == 0
        assert s.get()[1] == {}
        s.no_packet(0.2)


def test_paho_subscription_identifier(broker):
    """paho-mqtt MQTTv5: the identifier given at SUBSCRIBE comes back."""
    t = uid("psid")
    sp = Properties(PacketTypes.SUBSCRIBE)
    sp.SubscriptionIdentifier = 77
    c, got = paho5(broker.port, t, sp)
    try:
        c.publish(t, b"x", qos=1)
        assert wait_until(lambda: got, T)
        assert got[0].properties.SubscriptionIdentifier == [77]
    finally:
        c.loop_stop()
        c.disconnect()


def test_subscriber_refuses_qos2_with_pubrec(broker_factory):
    """A 5.0 subscriber answers a QoS 2 delivery with PUBREC 0x80: the
    exchange ends there, no PUBREL is sent [MQTT-4.3.3-4], and the slot is
    free: with --max-inflight 1 the next message comes at once."""
    b = broker_factory(max_inflight=1)
    t = uid("q2r")
    with C5(b.port) as s, C5(b.port) as p:
        assert s.sub([(t, 2)]) == [2]
        assert p.pub(t, b"one", qos=2, pid=1) == 0
        assert p.pub(t, b"two", qos=2, pid=2) == 0
        first = s.expect("PUBLISH")
        _, pid, _, payload = pub5(first)
        assert payload == b"one"
        s.send(ack5_pkt("PUBREC", pid, 0x80))
        second = s.expect("PUBLISH")  # not a PUBREL
        _, pid2, _, payload = pub5(second)
        assert payload == b"two"
        s.send(ack5_pkt("PUBREC", pid2))
        assert s.expect("PUBREL").pid == pid2
        s.send(ack5_pkt("PUBCOMP", pid2))
        s.no_packet(0.3)


def test_will_properties_forwarded(broker):
    """A 5.0 will carries its will properties to the subscriber like a
    PUBLISH does (3.1.3.2: Content Type, Response Topic, Correlation Data,
    User Properties, Payload Format Indicator); its Message Expiry
    Interval counts from the will's publication (3.1.3.2.4)."""
    t = uid("will5")
    wprops = props((PAYLOAD_FORMAT, 1), (MESSAGE_EXPIRY, 30), (CONTENT_TYPE, "text/plain"),
                   (RESPONSE_TOPIC, "w/r"), (CORRELATION_DATA, b"\x07"),
                   (USER_PROPERTY, ("who", "dev")))
    with C5(broker.port) as s:
        assert s.sub([(t, 1)]) == [1]
        d = C5(broker.port, will=(t, "gone", 1, False, wprops))
        time.sleep(2.5)  # the interval counts from publication, not from CONNECT (27-28 left)
        d.close()  # no DISCONNECT: the will is published
        topic, pr, payload, _ = s.get()
        assert (topic, payload) == (t, b"gone")
        assert 29 <= pr.pop(MESSAGE_EXPIRY) <= 30
        assert pr == {PAYLOAD_FORMAT: 1, CONTENT_TYPE: "text/plain", RESPONSE_TOPIC: "w/r",
                      CORRELATION_DATA: b"\x07", USER_PROPERTY: [("who", "dev")]}


def test_large_property_list(broker):
    """A property list larger than the broker's stack buffers (User
    Properties of 3 KB, a Topic Alias to drop) passes through unchanged, in
    order [MQTT-3.3.2-17,18], to a subscriber with a Subscription
    Identifier."""
    t = uid("big")
    ups = [("k%d" % i, "v" * (300 + i)) for i in range(10)]
    with C5(broker.port) as s, C5(broker.port) as p:
        assert s.sub([(t, 1)], properties=props((SUBSCRIPTION_ID, 5))) == [1]
        assert p.pub(t, b"x", qos=1, properties=props(
            (TOPIC_ALIAS, 3), *[(USER_PROPERTY, u) for u in ups])) == 0
        topic, pr, payload, _ = s.get()
        assert (topic, payload) == (t, b"x")
        assert pr == {USER_PROPERTY: ups, SUBSCRIPTION_ID: [5]}
