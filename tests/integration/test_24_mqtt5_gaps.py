"""MQTT 5.0 leftovers of issue 15, raw sockets (exact bytes):

- a message queued for its own publisher (behind a full Receive Maximum
  window) and sent later carries no Subscription Identifier of a No Local
  subscription, which did not deliver it [MQTT-3.8.3-3], [MQTT-3.3.4-3];
- PUBACK / PUBREC 0x10 No matching subscribers (3.4.2.1, 3.5.2.1) on a
  single node when no subscription matched a message that is not retained;
  0x00 as soon as one does, for a retained message (kept for subscribers
  to come), and never for 3.1.1 (no reason code there);
- a shared copy queued behind a full window, and a retained message sent
  for a new subscription, carry only their own subscription's identifier
  [MQTT-3.3.4-3], [MQTT-3.3.4-5].
  A cluster answers 0x00 (test_pipeline: peers' subscriptions are known
  by prefix only)."""

import pytest

from conftest import RawClient, uid
from mqtt5 import (C5, RECEIVE_MAXIMUM, SUBSCRIPTION_ID, ack5, ack5_pkt, pub5, props,
                   publish5_pkt, unsubscribe5_pkt)
from rawmqtt import publish_pkt

pytestmark = pytest.mark.roost_only  # 0x10 is a MAY (3.4.2.1)

NL = 0x04  # No Local


def test_queued_own_message_has_no_no_local_identifier(broker):
    """a subscribes to t/# with No Local (identifier 1) and t/x (2), with a
    Receive Maximum of 1; b's message on t/x fills a's window (both
    identifiers); a's own message on t/x waits in the queue; once a
    acknowledges the first, the second arrives with identifier 2 only."""
    t = uid("nlq")
    with C5(broker.port, properties=props((RECEIVE_MAXIMUM, 1))) as a, C5(broker.port) as b:
        assert a.sub([(t + "/#", 1 | NL)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [1]
        assert a.sub([(t + "/x", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 2))) == [1]
        assert b.pub(t + "/x", b"other", qos=1, pid=1) == 0
        topic, pid1, pr, payload = pub5(a.expect("PUBLISH"))
        assert (topic, payload, sorted(pr[SUBSCRIPTION_ID])) == (t + "/x", b"other", [1, 2])
        a.send(publish5_pkt(t + "/x", b"own", qos=1, pid=7))
        assert ack5(a.expect("PUBACK"))[:2] == (7, 0)  # matched (t/x), so not 0x10
        a.no_packet(0.3)  # queued: the window of 1 is full
        a.send(ack5_pkt("PUBACK", pid1))
        topic, pid2, pr, payload = pub5(a.expect("PUBLISH"))
        assert (topic, payload, pr) == (t + "/x", b"own", {SUBSCRIPTION_ID: [2]})
        a.send(ack5_pkt("PUBACK", pid2))
        # and someone else's message queued the same way carries both
        assert b.pub(t + "/x", b"o1", qos=1, pid=2) == 0
        assert b.pub(t + "/x", b"o2", qos=1, pid=3) == 0
        _, pid3, pr, payload = pub5(a.expect("PUBLISH"))
        assert (payload, sorted(pr[SUBSCRIPTION_ID])) == (b"o1", [1, 2])
        a.send(ack5_pkt("PUBACK", pid3))
        _, pid4, pr, payload = pub5(a.expect("PUBLISH"))
        assert (payload, sorted(pr[SUBSCRIPTION_ID])) == (b"o2", [1, 2])
        a.send(ack5_pkt("PUBACK", pid4))


def test_shared_delivery_carries_its_own_identifier(broker):
    """a subscribes to t/# (identifier 1) and to $share/g/t/x (identifier
    5): a message on t/x comes twice, the copy of t/# with 1 and the shared
    group's with 5 alone [MQTT-3.3.4-5]: each PUBLISH carries the
    identifier of the subscription it is sent for (before, the shared copy
    carried every matching subscription's: [1, 5])."""
    t = uid("shid")
    with C5(broker.port) as a, C5(broker.port) as b:
        assert a.sub([(t + "/#", 1)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [1]
        assert a.sub([("$share/g/" + t + "/x", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 5))) == [1]
        for qos, pid in ((0, 1), (1, 2)):
            b.pub(t + "/x", b"m%d" % qos, qos=qos, pid=pid)
            got = []
            for _ in range(2):
                topic, rpid, pr, payload = pub5(a.expect("PUBLISH"))
                if rpid:
                    a.send(ack5_pkt("PUBACK", rpid))
                got.append((payload, sorted(pr[SUBSCRIPTION_ID])))
            assert sorted(got) == [(b"m%d" % qos, [1]), (b"m%d" % qos, [5])], got


def test_queued_shared_copies_carry_their_own_identifier(broker):
    """The same as above for copies that wait behind a Receive Maximum of 1:
    a subscribes to t/x (identifier 1) and $share/g/t/# (5); two messages on
    t/x make four copies, three of them queued, each with its own
    subscription's identifier alone (before, the queued ones were given
    every matching subscription's identifier again: [1, 5])."""
    t = uid("shq")
    with C5(broker.port, properties=props((RECEIVE_MAXIMUM, 1))) as a, C5(broker.port) as b:
        assert a.sub([(t + "/x", 1)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [1]
        assert a.sub([("$share/g/" + t + "/#", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 5))) == [1]
        assert b.pub(t + "/x", b"m1", qos=1, pid=1) == 0
        assert b.pub(t + "/x", b"m2", qos=1, pid=2) == 0
        got = []
        for _ in range(4):
            topic, rpid, pr, payload = pub5(a.expect("PUBLISH"))
            got.append((payload, sorted(pr.get(SUBSCRIPTION_ID, []))))
            a.send(ack5_pkt("PUBACK", rpid))
        assert sorted(got) == [(b"m1", [1]), (b"m1", [5]), (b"m2", [1]), (b"m2", [5])], got


def test_retained_on_subscribe_carries_the_new_subscriptions_identifier(broker):
    """a subscribes to t/# (identifier 1), then to t/r (2): the retained
    message on t/r sent for the new subscription carries 2 alone (before:
    [1, 2], the identifiers of every matching subscription of a)."""
    t = uid("rsid")
    with C5(broker.port) as a, C5(broker.port) as b:
        b.send(publish5_pkt(t + "/r", b"kept", qos=1, pid=1, retain=True))
        assert ack5(b.expect("PUBACK"))[:2] == (1, 0)
        assert a.sub([(t + "/#", 1)], pid=1, properties=props((SUBSCRIPTION_ID, 1))) == [1]
        _, rpid, pr, payload = pub5(a.expect("PUBLISH"))
        assert (payload, pr[SUBSCRIPTION_ID]) == (b"kept", [1])
        a.send(ack5_pkt("PUBACK", rpid))
        assert a.sub([(t + "/r", 1)], pid=2, properties=props((SUBSCRIPTION_ID, 2))) == [1]
        _, rpid, pr, payload = pub5(a.expect("PUBLISH"))
        assert (payload, pr[SUBSCRIPTION_ID]) == (b"kept", [2])
        a.send(ack5_pkt("PUBACK", rpid))


def test_no_matching_subscribers(broker):
    """0x10 for QoS 1 and 2 with nobody subscribed (the QoS 2 exchange
    goes on: PUBREL, PUBCOMP 0x00); 0x00 with a subscriber, also one whose
    own No Local subscription is the only match, and for a retained
    message."""
    t = uid("nms")
    with C5(broker.port) as p:
        assert p.pub(t + "/a", b"1", qos=1, pid=1) == 0x10
        assert p.pub(t + "/a", b"2", qos=2, pid=2) == 0x10  # C5.pub checks PUBCOMP 0x00
        assert p.pub(t + "/a", b"r", qos=1, pid=3, retain=True) == 0
        assert p.pub(t + "/a", b"", qos=1, pid=4, retain=True) == 0  # clears it
        with C5(broker.port) as s:
            assert s.sub([(t + "/#", 1)]) == [1]
            assert p.pub(t + "/a", b"3", qos=1, pid=5) == 0
            assert p.pub(t + "/a", b"4", qos=2, pid=6) == 0
            assert [s.get()[2] for _ in range(2)] == [b"3", b"4"]
            s.send(unsubscribe5_pkt(2, [t + "/#"]))
            assert s.expect("UNSUBACK")  # gone before the next PUBLISH is read
            assert p.pub(t + "/a", b"5", qos=1, pid=7) == 0x10
        assert p.sub([(t + "/n", 1 | NL)]) == [1]
        assert p.pub(t + "/n", b"6", qos=1, pid=8) == 0  # a subscription matched
        p.no_packet(0.2)


def test_no_reason_code_for_311(broker):
    """A 3.1.1 PUBACK stays the two-byte packet id."""
    with RawClient(broker.port) as c:
        c.connect(uid("nms311"))
        c.send(publish_pkt(uid("nms311"), b"x", qos=1, pid=9))
        p = c.expect("PUBACK")
        assert p.body == b"\x00\x09"
