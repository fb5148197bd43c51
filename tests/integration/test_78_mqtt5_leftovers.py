"""MQTT 5.0 message side, leftovers (issue 15): a QoS 0 PUBLISH whose
Payload Format Indicator says UTF-8 but whose payload is not gets
DISCONNECT 0x99 Payload format invalid (3.3.2.3.2, 4.13: a QoS 0 message
has no acknowledgement to carry the reason), and nothing of it is
delivered; a will's Will Delay Interval is not forwarded with it; a
client's own message carries no Subscription Identifier of a No Local
subscription (which did not deliver it).
Raw sockets (exact bytes)."""

import pytest

from conftest import uid
from mqtt5 import (C5, MESSAGE_EXPIRY, PAYLOAD_FORMAT, SUBSCRIPTION_ID, USER_PROPERTY, WILL_DELAY,
                   props)

pytestmark = pytest.mark.roost_only  # a receiver MAY check (Mosquitto does not)


def test_qos0_payload_format_invalid_disconnects(broker):
    """Invalid UTF-8 (0xFF, an overlong NUL, a lone surrogate) with the
    indicator at QoS 0: DISCONNECT 0x99 and the connection closed; the
    subscriber gets only the valid messages (and the indicator 0 with the
    same bytes is not checked)."""
    t = uid("pf0")
    utf8 = props((PAYLOAD_FORMAT, 1))
    with C5(broker.port) as s:
        assert s.sub([(t, 0)]) == [0]
        for bad in (b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80"):
            with C5(broker.port) as p:
                p.pub(t, "ok ✓", properties=utf8)
                p.pub(t, b"\xff bytes", properties=props((PAYLOAD_FORMAT, 0)))
                p.pub(t, bad, properties=utf8)
                p.expect_disconnect(0x99)
            topic, pr, payload, _ = s.get()
            assert (topic, payload, pr) == (t, "ok ✓".encode(), {PAYLOAD_FORMAT: 1})
            topic, pr, payload, _ = s.get()
            assert (topic, payload, pr) == (t, b"\xff bytes", {PAYLOAD_FORMAT: 0})
        s.no_packet(0.3)


def test_will_delay_not_forwarded(broker):
    """The Will Delay Interval is for the server (3.1.3.2.2): the will's
    subscriber gets its other properties, in order, without it (0x18 is
    not even allowed in a PUBLISH, 2.2.2.2)."""
    t = uid("wd")
    wprops = props((USER_PROPERTY, ("a", "1")), (WILL_DELAY, 0), (USER_PROPERTY, ("b", "2")),
                   (MESSAGE_EXPIRY, 30))
    with C5(broker.port) as s:
        assert s.sub([(t, 1)]) == [1]
        d = C5(broker.port, will=(t, "gone", 1, False, wprops))
        d.close()  # no DISCONNECT: the will is published at once (delay 0)
        topic, pr, payload, _ = s.get()
        assert (topic, payload) == (t, b"gone")
        assert 29 <= pr.pop(MESSAGE_EXPIRY) <= 30
        assert pr == {USER_PROPERTY: [("a", "1"), ("b", "2")]}


NL = 0x04  # No Local [MQTT-3.8.3-3]


@pytest.mark.parametrize("qos", [0, 1])
def test_no_local_gives_no_subscription_identifier(broker, qos):
    """A client subscribed to t/# with No Local (identifier 1) and to t/x
    without it (identifier 2) publishes on t/x: it gets one copy, through
    t/x only, so with identifier 2 alone [MQTT-3.3.4-3]; another client's
    message on t/x carries both."""
    t = uid("nlsid")
    with C5(broker.port) as a, C5(broker.port) as b:
        assert a.sub([(t + "/#", 1 | NL)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [1]
        assert a.sub([(t + "/x", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 2))) == [1]
        a.pub(t + "/x", b"own", qos=qos, pid=3)
        topic, pr, payload, _ = a.get()
        assert (topic, payload, pr) == (t + "/x", b"own", {SUBSCRIPTION_ID: [2]})
        b.pub(t + "/x", b"other", qos=qos, pid=4)
        topic, pr, payload, _ = a.get()
        assert (topic, payload, sorted(pr[SUBSCRIPTION_ID])) == (t + "/x", b"other", [1, 2])
        a.no_packet(0.2)
