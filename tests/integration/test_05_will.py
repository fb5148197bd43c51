"""05 will: published on abnormal loss, with QoS and retain; never after
DISCONNECT."""

import time

from conftest import (DISCONNECT, IS_MOSQUITTO, assert_closed_by_broker, barrier, publish_pkt, uid)


def test_will_on_socket_close_without_disconnect(raw, paho):
    """[MQTT-3.1.2-8] the will is published when the connection closes without
    DISCONNECT; topic and payload as given."""
    t = uid("will")
    sub = paho()
    sub.subscribe(t, 1)
    c = raw()
    c.connect(will=(t, b"gone", 1, False))
    c.close()
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (t, b"gone", 1, 0)


def test_no_will_after_disconnect(raw, paho):
    """[MQTT-3.1.2-10] / [MQTT-3.14.4-3] DISCONNECT deletes the will."""
    t = uid("nowill")
    sub = paho()
    sub.subscribe(t, 1)
    c = raw()
    c.connect(will=(t, b"should-not", 1, True))
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c.close()
    assert barrier(sub, paho(), t) == []
    # and nothing was retained either
    late = paho()
    marker = uid("marker")
    late.subscribe([(t, 1), (marker, 1)])
    assert barrier(late, paho(), marker) == []


def test_will_on_keepalive_expiry(raw, paho):
    """[MQTT-3.1.2-24] keep-alive expiry closes the connection, and the will
    is published."""
    t = uid("kawill")
    sub = paho()
    sub.subscribe(t, 1)
    c = raw()
    ka = 3
    start = time.monotonic()
    c.connect(keepalive=ka, will=(t, b"timed-out", 0, False))
    m = sub.get(timeout=15)  # Mosquitto 2.0 checks keep-alives only every few seconds
    elapsed = time.monotonic() - start
    assert (m.topic, m.payload) == (t, b"timed-out")
    # not before 1.5 x keep-alive (the clock started before CONNECT was sent)
    assert elapsed >= 1.5 * ka, "will after %.2fs" % elapsed
    if not IS_MOSQUITTO:
        # Roost sweeps every 250 ms: the will follows the close at once
        assert elapsed <= 1.5 * ka + 1.0, "will after %.2fs" % elapsed


def test_will_on_protocol_error_close(raw, paho):
    """[MQTT-3.1.2-8] a server-side close for a protocol violation also
    publishes the will."""
    t = uid("pewill")
    sub = paho()
    sub.subscribe(t, 1)
    c = raw()
    c.connect(will=(t, b"broken", 1, False))
    c.send(publish_pkt("bad/+/topic", b"x"))
    assert_closed_by_broker(c)
    assert sub.get().payload == b"broken"


def test_will_retain_honoured(raw, paho):
    """[MQTT-3.1.2-17] will retain 1: published as a retained message."""
    t = uid("wret")
    c = raw()
    c.connect(will=(t, b"last-words", 1, True))
    c.close()
    late = paho()
    deadline = time.monotonic() + 5
    # the will is published asynchronously after the close: resubscribe until it is there
    m = None
    for i in range(50):
        late.subscribe(t, 1)
        try:
            m = late.get(timeout=0.1)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                break
    assert m is not None, "retained will not found"
    assert (m.payload, m.retain) == (b"last-words", 1)


def test_will_qos_and_downgrade(raw):
    """Will QoS 2 reaches a QoS 2 subscriber at QoS 2 and a QoS 1 subscriber at
    QoS 1 [MQTT-3.8.4-6]."""
    t = uid("wq")
    s2, s1 = raw(), raw()
    s2.connect()
    s1.connect()
    s2.subscribe([(t, 2)])
    s1.subscribe([(t, 1)])
    c = raw()
    c.connect(will=(t, b"w2", 2, False))
    c.close()
    p2, p1 = s2.expect("PUBLISH"), s1.expect("PUBLISH")
    assert (p2.payload, p2.qos) == (b"w2", 2)
    assert (p1.payload, p1.qos) == (b"w2", 1)
    s2.ack(p2)
    s1.ack(p1)
