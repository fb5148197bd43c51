"""08 takeover: a second CONNECT with the same client id closes the first
connection [MQTT-3.1.4-2]."""

import pytest

from conftest import DISCONNECT, ack_pkt, assert_closed_by_broker, connect_pkt, uid


def test_second_connect_closes_first(raw):
    cid = uid("to")
    a = raw()
    a.connect(cid)
    b = raw()
    assert b.connect(cid) == 0
    assert_closed_by_broker(a)
    t = uid("to-t")
    b.subscribe([(t, 1)])
    b.publish(t, b"mine", qos=1, pid=2)
    p = b.expect("PUBLISH")
    assert p.payload == b"mine"
    b.send(ack_pkt("PUBACK", p.pid))


def test_takeover_publishes_first_connections_will_clean_session(raw, paho):
    """The first connection ends without DISCONNECT, so its will is published
    [MQTT-3.1.2-8]."""
    cid, wt = uid("tow"), uid("tow-will")
    sub = paho()
    sub.subscribe(wt, 1)
    a = raw()
    a.connect(cid, clean=True, will=(wt, b"taken-over", 1, False))
    b = raw()
    b.connect(cid, clean=True)
    assert_closed_by_broker(a)
    m = sub.get()
    assert (m.topic, m.payload) == (wt, b"taken-over")


@pytest.mark.mosquitto_deviates("2.0.11 discards the old will on takeover when both connections use clean session 0")
def test_takeover_publishes_will_persistent_session(raw, paho):
    """Same as above with clean session 0 on both: the old network connection
    still ended without DISCONNECT [MQTT-3.1.2-8]."""
    cid, wt = uid("towp"), uid("towp-will")
    sub = paho()
    sub.subscribe(wt, 1)
    a = raw()
    a.connect(cid, clean=False, will=(wt, b"taken-over", 1, False))
    b = raw()
    assert b.connect(cid, clean=False) == 1
    assert_closed_by_broker(a)
    m = sub.get()
    assert (m.topic, m.payload) == (wt, b"taken-over")


def test_takeover_keeps_persistent_session_and_inflight(raw, paho):
    """Session present 1 for the new connection; its subscription is kept and
    the QoS 1 message the old connection never acked is re-sent with DUP
    [MQTT-4.4.0-1]."""
    cid, t = uid("tos"), uid("tos-t")
    a = raw()
    a.connect(cid, clean=False)
    a.subscribe([(t, 1)])
    paho().publish(t, b"inflight", qos=1)
    p = a.expect("PUBLISH")
    b = raw()
    assert b.connect(cid, clean=False) == 1
    assert_closed_by_broker(a)
    r = b.expect("PUBLISH")
    assert (r.payload, r.pid, r.dup) == (b"inflight", p.pid, True)
    b.send(ack_pkt("PUBACK", r.pid))
    paho().publish(t, b"next", qos=1)
    n = b.expect("PUBLISH")
    assert (n.payload, n.dup) == (b"next", False)
    b.send(ack_pkt("PUBACK", n.pid))


def test_repeated_takeovers(raw):
    cid = uid("tor")
    prev = raw()
    prev.connect(cid)
    for _ in range(4):
        nxt = raw()
        assert nxt.connect(cid) == 0
        assert_closed_by_broker(prev)
        prev = nxt
    prev.ping()
    prev.send(DISCONNECT)
    assert_closed_by_broker(prev)


@pytest.mark.parametrize("clean", [True, False])
def test_reconnect_in_the_same_loop_turn(raw, clean):
    """A device that sends DISCONNECT and reconnects at once on a new socket:
    both usually reach the broker in one loop turn, so the old connection is
    still waiting to be freed when the new CONNECT takes its session. It
    must let go of the session then: with a clean start the session was
    destroyed under it (a use after free when it was freed, ASan abort)."""
    cid = uid("tsame")
    for _ in range(30):
        a = raw()
        a.connect(cid, clean=clean)
        b = raw()
        pkt = connect_pkt(cid, clean=clean)
        b.send(pkt[:2])         # b taken in (a's ping below goes through the loop after it)
        a.ping()
        a.send(DISCONNECT)      # a's close and b's CONNECT: one loop turn, mostly
        b.send(pkt[2:])
        assert b.expect("CONNACK").body[1] == 0
        b.ping()
        a.close()
        b.close()
