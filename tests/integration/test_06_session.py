"""06 session: clean session discards state; persistent sessions keep
subscriptions and queue QoS 1/2 while offline."""

from conftest import DISCONNECT, ack_pkt, assert_closed_by_broker, uid


def _leave(c):
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c.close()


def test_persistent_session_keeps_subscriptions_and_queues_qos12(raw, paho):
    """[MQTT-3.1.2-4] session resumed; [MQTT-3.1.2-5] QoS 1/2 messages that
    arrived while offline are stored and delivered on resume, in order.
    QoS 0 while offline may be dropped (if delivered, only once)."""
    cid, t = uid("ps"), uid("ps-t")
    c = raw()
    assert c.connect(cid, clean=False) == 0
    assert c.subscribe([(t, 2)]) == [2]
    _leave(c)
    pub = paho()
    pub.publish(t, b"a-q1", qos=1)
    pub.publish(t, b"b-q0", qos=0)
    pub.publish(t, b"c-q2", qos=2)
    pub.publish(t, b"d-q1", qos=1)
    c = raw()
    assert c.connect(cid, clean=False) == 1
    got = []
    for _ in range(4):
        try:
            p = c.recv_packet(2 if len(got) >= 3 else 5)
        except OSError:
            break
        assert p.name == "PUBLISH", p
        got.append((p.payload, p.qos))
        c.ack(p)
    durable = [g for g in got if g[0] != b"b-q0"]
    assert durable == [(b"a-q1", 1), (b"c-q2", 2), (b"d-q1", 1)], got
    assert [g for g in got if g[0] == b"b-q0"] in ([], [(b"b-q0", 0)])
    # the subscription itself survived: a live message arrives too
    pub.publish(t, b"live", qos=1)
    p = c.expect("PUBLISH")
    assert (p.payload, p.qos) == (b"live", 1)
    c.ack(p)


def test_abnormal_loss_keeps_persistent_session(raw, paho):
    """A persistent session survives a dropped socket, not only DISCONNECT."""
    cid, t = uid("psd"), uid("psd-t")
    c = raw()
    c.connect(cid, clean=False)
    c.subscribe([(t, 1)])
    c.close()
    paho().publish(t, b"while-away", qos=1)
    c = raw()
    assert c.connect(cid, clean=False) == 1
    p = c.expect("PUBLISH")
    assert (p.payload, p.qos) == (b"while-away", 1)
    c.send(ack_pkt("PUBACK", p.pid))


def test_clean_session_discards_subscriptions(raw, paho):
    """[MQTT-3.1.2-6] a clean session's state ends with the connection: a later
    persistent connect finds no session and no subscription."""
    cid, t = uid("cs"), uid("cs-t")
    c = raw()
    c.connect(cid, clean=True)
    c.subscribe([(t, 1)])
    _leave(c)
    paho().publish(t, b"lost", qos=1)
    c = raw()
    assert c.connect(cid, clean=False) == 0
    marker = uid("marker")
    c.subscribe([(marker, 1)])
    paho().publish(t, b"not-subscribed", qos=1)
    paho().publish(marker, b"m", qos=1)
    p = c.expect("PUBLISH")
    assert p.payload == b"m", "expected only the marker, got %r" % p


def test_clean_connect_discards_persistent_session(raw, paho):
    """[MQTT-3.1.2-6] connecting with clean session 1 discards the previous
    persistent session (subscriptions and queued messages); session present
    is 0 then, and again 0 on the next persistent connect."""
    cid, t = uid("cd"), uid("cd-t")
    c = raw()
    c.connect(cid, clean=False)
    c.subscribe([(t, 1)])
    _leave(c)
    paho().publish(t, b"queued", qos=1)
    c = raw()
    assert c.connect(cid, clean=True) == 0
    c.no_packet(0.5)  # the queued message went with the old session
    _leave(c)
    c = raw()
    assert c.connect(cid, clean=False) == 0
    marker = uid("marker")
    c.subscribe([(marker, 1)])
    paho().publish(t, b"after", qos=1)
    paho().publish(marker, b"m", qos=1)
    p = c.expect("PUBLISH")
    assert p.payload == b"m", "old subscription survived: %r" % p


def test_unsubscribe_in_persistent_session_persists(raw, paho):
    cid, t = uid("pu"), uid("pu-t")
    c = raw()
    c.connect(cid, clean=False)
    c.subscribe([(t, 1), (t + "/keep", 1)])
    from conftest import unsubscribe_pkt
    c.send(unsubscribe_pkt(5, [t]))
    assert c.expect("UNSUBACK").pid == 5
    _leave(c)
    pub = paho()
    pub.publish(t, b"dropped", qos=1)
    pub.publish(t + "/keep", b"kept", qos=1)
    c = raw()
    assert c.connect(cid, clean=False) == 1
    p = c.expect("PUBLISH")
    assert (p.topic, p.payload) == (t + "/keep", b"kept")
    c.ack(p)
    c.no_packet(0.3)
