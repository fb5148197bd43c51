"""03 qos: QoS 0/1/2 flows in both directions, downgrade, in-flight window,
resend with DUP, exactly-once, ordering."""

import pytest

from conftest import (DISCONNECT, RawClient, ack_pkt, assert_closed_by_broker, publish_pkt,
                      uid)


def test_inbound_qos0_no_ack(raw):
    c = raw()
    c.connect()
    c.send(publish_pkt(uid("q0"), b"x", qos=0))
    c.ping()  # the next thing the broker sends is the PINGRESP, no ack


def test_inbound_qos1_puback(raw):
    """[MQTT-4.3.2-2] PUBACK with the packet id of the PUBLISH."""
    c = raw()
    c.connect()
    c.send(publish_pkt(uid("q1"), b"x", qos=1, pid=0x1234))
    c.expect_bytes("40 02 12 34")


def test_inbound_qos2_pubrec_pubrel_pubcomp(raw):
    """[MQTT-4.3.3-2] PUBREC, then PUBCOMP for the PUBREL, same packet id."""
    c = raw()
    c.connect()
    c.send(publish_pkt(uid("q2"), b"x", qos=2, pid=0xBEEF))
    c.expect_bytes("50 02 be ef")
    c.send(ack_pkt("PUBREL", 0xBEEF))
    c.expect_bytes("70 02 be ef")


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_delivered_qos_is_min_and_flow_completes(raw, paho, pub_qos, sub_qos):
    """[MQTT-3.8.4-6] delivered QoS = min(published, granted); the outbound
    flow of that QoS completes ([MQTT-3.6.1-1] PUBREL flags 0010); DUP is 0 on
    a first delivery and always for QoS 0 [MQTT-3.3.1-2]."""
    t = uid("min")
    c = raw()
    c.connect()
    assert c.subscribe([(t, sub_qos)]) == [sub_qos]
    pub = paho()
    pub.publish(t, b"p%d" % pub_qos, qos=pub_qos)
    p = c.expect("PUBLISH")
    want = min(pub_qos, sub_qos)
    assert (p.topic, p.payload, p.qos, p.dup, p.retain) == (t, b"p%d" % pub_qos, want, False, False)
    if want > 0:
        assert p.pid != 0  # [MQTT-2.3.1-1]
    if want == 1:
        c.send(ack_pkt("PUBACK", p.pid))
    elif want == 2:
        c.send(ack_pkt("PUBREC", p.pid))
        rel = c.expect("PUBREL")
        assert rel.raw[:2] == b"\x62\x02" and rel.pid == p.pid
        c.send(ack_pkt("PUBCOMP", p.pid))
    c.ping()  # nothing else (no resend) before the PINGRESP


def test_outbound_packet_ids_unique_while_unacked(raw, paho):
    """[MQTT-2.3.1-2] packet ids of unacknowledged outbound QoS 1/2 PUBLISHes
    are distinct and non-zero."""
    t = uid("ids")
    c = raw()
    c.connect()
    c.subscribe([(t, 2)])
    pub = paho()
    for i in range(5):
        pub.publish(t, b"%d" % i, qos=1)
        pub.publish(t, b"%d" % i, qos=2)
    got = [c.expect("PUBLISH") for _ in range(10)]
    ids = [p.pid for p in got]
    assert 0 not in ids and len(set(ids)) == 10, ids


def test_inflight_window(broker_factory):
    """--max-inflight 2: a subscriber that does not ack holds at most 2
    unacked QoS 1 messages; the rest follow, in order, as it acks."""
    b = broker_factory(max_inflight=2)
    t = uid("win")
    c = RawClient(b.port)
    c.connect()
    c.subscribe([(t, 1)])
    pub = RawClient(b.port)
    pub.connect()
    for i in range(6):
        pub.publish(t, b"m%d" % i, qos=1, pid=i + 1)
    first = [c.expect("PUBLISH"), c.expect("PUBLISH")]
    assert [p.payload for p in first] == [b"m0", b"m1"]
    c.no_packet(0.7)  # the window is full
    got = list(first)
    pending = list(first)
    for _ in range(10):
        if len(got) == 6:
            break
        p0 = pending.pop(0)
        c.send(ack_pkt("PUBACK", p0.pid))
        p = c.expect("PUBLISH")
        got.append(p)
        pending.append(p)
        assert len(pending) <= 2
    assert [p.payload for p in got] == [b"m%d" % i for i in range(6)]
    for p in pending:
        c.send(ack_pkt("PUBACK", p.pid))
    c.no_packet(0.3)
    c.close()
    pub.close()


def test_qos2_inbound_duplicate_before_pubrel_delivered_once(raw, paho):
    """[MQTT-4.3.3-2] a QoS 2 PUBLISH re-sent with DUP and the same packet id
    before PUBREL is acknowledged again but not delivered again; after PUBREL
    the packet id is free and reusing it is a new message."""
    t = uid("eo")
    sub = paho()
    sub.subscribe(t, 2)
    c = raw()
    c.connect()
    c.send(publish_pkt(t, b"once", qos=2, pid=9))
    assert c.expect("PUBREC").pid == 9
    c.send(publish_pkt(t, b"once", qos=2, pid=9, dup=True))
    assert c.expect("PUBREC").pid == 9
    c.send(ack_pkt("PUBREL", 9))
    assert c.expect("PUBCOMP").pid == 9
    # a PUBREL repeated after PUBCOMP is answered, not delivered [MQTT-4.3.3-2]
    c.send(ack_pkt("PUBREL", 9))
    assert c.expect("PUBCOMP").pid == 9
    c.publish(t, b"second", qos=2, pid=9)
    m1 = sub.get()
    m2 = sub.get()
    assert (m1.payload, m2.payload) == (b"once", b"second")
    from conftest import barrier
    assert barrier(sub, paho(), t) == []


def test_qos1_order_preserved_per_topic(raw, paho):
    """[MQTT-4.6.0-5]/[MQTT-4.6.0-6] messages on one topic from one client are
    delivered in order; PUBACKs come in the order of the PUBLISHes
    [MQTT-4.6.0-2]. The publisher pipelines without waiting for acks."""
    t = uid("ord")
    sub = paho()
    sub.subscribe(t, 1)
    c = raw()
    c.connect()
    n = 60
    c.send(b"".join(publish_pkt(t, b"%03d" % i, qos=1, pid=i + 1) for i in range(n)))
    acks = [c.expect("PUBACK").pid for _ in range(n)]
    assert acks == list(range(1, n + 1))
    got = [m.payload for m in sub.get_n(n, timeout=10)]
    assert got == [b"%03d" % i for i in range(n)]


def test_resend_unacked_qos1_with_dup_on_resume(raw, paho):
    """[MQTT-4.4.0-1] on resuming a session the server re-sends unacknowledged
    PUBLISHes with their original packet ids and DUP=1 [MQTT-3.3.1-1]."""
    t = uid("rs1")
    cid = uid("rs1c")
    c = raw()
    c.connect(cid, clean=False)
    c.subscribe([(t, 1)])
    paho().publish(t, b"unacked", qos=1)
    p = c.expect("PUBLISH")
    assert (p.qos, p.dup) == (1, False)
    c.close()  # no PUBACK, no DISCONNECT
    c2 = raw()
    assert c2.connect(cid, clean=False) == 1
    r = c2.expect("PUBLISH")
    assert (r.topic, r.payload, r.qos, r.pid, r.dup) == (t, b"unacked", 1, p.pid, True)
    c2.send(ack_pkt("PUBACK", r.pid))
    c2.send(DISCONNECT)
    assert_closed_by_broker(c2)
    c3 = raw()
    assert c3.connect(cid, clean=False) == 1
    c3.no_packet(0.5)  # acked: not sent again


def test_resend_unacked_qos2_publish_and_pubrel_on_resume(raw, paho):
    """[MQTT-4.4.0-1] QoS 2: an unacknowledged PUBLISH is re-sent with DUP;
    once PUBREC was sent, the PUBREL is re-sent instead."""
    t = uid("rs2")
    cid = uid("rs2c")
    c = raw()
    c.connect(cid, clean=False)
    c.subscribe([(t, 2)])
    paho().publish(t, b"q2", qos=2)
    p = c.expect("PUBLISH")
    c.close()  # nothing acked
    c = raw()
    assert c.connect(cid, clean=False) == 1
    r = c.expect("PUBLISH")
    assert (r.payload, r.qos, r.pid, r.dup) == (b"q2", 2, p.pid, True)
    c.send(ack_pkt("PUBREC", r.pid))
    rel = c.expect("PUBREL")
    assert rel.pid == r.pid
    c.close()  # PUBREL not completed
    c = raw()
    assert c.connect(cid, clean=False) == 1
    rel2 = c.expect("PUBREL")
    assert rel2.raw == rel.raw
    c.send(ack_pkt("PUBCOMP", rel2.pid))
    c.ping()
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c = raw()
    assert c.connect(cid, clean=False) == 1
    c.no_packet(0.5)
