"""04 retain: set, replace, clear, retain flag on delivery, wildcards."""

from conftest import barrier, uid


def test_retained_delivered_on_subscribe_with_retain_1(raw, paho):
    """[MQTT-3.3.1-5] stored; [MQTT-3.3.1-8] sent to a new subscriber with
    RETAIN=1, at min(stored QoS, granted QoS)."""
    t = uid("rt")
    paho().publish(t, b"kept", qos=1, retain=True)
    c = raw()
    c.connect()
    assert c.subscribe([(t, 2)]) == [2]
    p = c.expect("PUBLISH")
    assert (p.topic, p.payload, p.retain, p.qos) == (t, b"kept", True, 1)
    c.ack(p)
    c2 = raw()
    c2.connect()
    c2.subscribe([(t, 0)])
    p = c2.expect("PUBLISH")
    assert (p.payload, p.retain, p.qos) == (b"kept", True, 0)


def test_live_delivery_has_retain_0(paho):
    """[MQTT-3.3.1-9] a retained PUBLISH forwarded to an existing subscriber
    has RETAIN=0."""
    t = uid("live")
    sub = paho()
    sub.subscribe(t, 1)
    paho().publish(t, b"now", qos=1, retain=True)
    m = sub.get()
    assert (m.payload, m.retain) == (b"now", 0)


def test_retained_replaced(paho):
    """[MQTT-3.3.1-5] a new retained message replaces the old one; QoS 0
    retained is stored too [MQTT-3.3.1-7]."""
    t = uid("rep")
    pub = paho()
    pub.publish(t, b"v1", qos=1, retain=True)
    pub.publish(t, b"v2", qos=0, retain=True)
    pub.publish(t, b"v3", qos=1)  # RETAIN 0 does not replace [MQTT-3.3.1-12]
    sub = paho()
    sub.subscribe(t, 1)
    m = sub.get()
    assert (m.payload, m.retain, m.qos) == (b"v2", 1, 0)
    assert barrier(sub, pub, t) == []


def test_empty_retained_clears_and_is_not_stored(paho):
    """[MQTT-3.3.1-10] a zero-byte retained PUBLISH is delivered as normal and
    removes the retained message; [MQTT-3.3.1-11] it is not stored itself."""
    t = uid("clr")
    pub = paho()
    pub.publish(t, b"old", qos=1, retain=True)
    live = paho()
    live.subscribe(t, 1)
    assert live.get().payload == b"old"  # retained on subscribe
    pub.publish(t, b"", qos=1, retain=True)
    m = live.get()
    assert (m.payload, m.retain) == (b"", 0)
    marker = uid("marker")
    late = paho()
    late.subscribe([(t, 1), (marker, 1)])
    assert barrier(late, pub, marker) == []


def test_wildcard_subscribe_gets_all_matching_retained(raw, paho):
    b = uid("wr")
    pub = paho()
    topics = {b + "/1": b"one", b + "/2": b"two", b + "/x/3": b"three", b: b"root"}
    for t, v in topics.items():
        pub.publish(t, v, qos=1, retain=True)
    pub.publish(b + "-other/1", b"no", qos=1, retain=True)
    c = raw()
    c.connect()
    assert c.subscribe([(b + "/+", 1)]) == [1]
    got = {}
    for _ in range(2):
        p = c.expect("PUBLISH")
        assert p.retain
        got[p.topic] = p.payload
        c.ack(p)
    assert got == {b + "/1": b"one", b + "/2": b"two"}
    c.no_packet(0.3)
    assert c.subscribe([(b + "/#", 0)], pid=2) == [0]
    got = {}
    for _ in range(4):
        p = c.expect("PUBLISH")
        assert p.retain and p.qos == 0
        got[p.topic] = p.payload
    assert got == topics
    c.no_packet(0.3)


def test_resubscribe_resends_retained(raw, paho):
    """[MQTT-3.8.4-3] replacing a subscription re-sends matching retained
    messages."""
    t = uid("rrs")
    paho().publish(t, b"r", qos=0, retain=True)
    c = raw()
    c.connect()
    c.subscribe([(t, 0)])
    assert c.expect("PUBLISH").retain
    c.subscribe([(t, 0)], pid=2)
    p = c.expect("PUBLISH")
    assert (p.payload, p.retain) == (b"r", True)
