"""02 subpub: SUBSCRIBE / UNSUBSCRIBE, wildcards, SUBACK codes, fan-out."""

import pytest

from conftest import RawClient, barrier, uid


def test_suback_grants_requested_qos_per_filter_in_order(raw):
    """[MQTT-3.8.4-1] SUBACK with the same packet id; [MQTT-3.8.4-5] one return
    code per filter, in order; [MQTT-3.9.3-1] granted QoS <= requested."""
    c = raw()
    c.connect()
    base = uid("sa")
    granted = c.subscribe([(base + "/q0", 0), (base + "/q1", 1), (base + "/q2", 2),
                           (base + "/+/x", 2), (base + "/#", 1)], pid=4242)
    assert granted == [0, 1, 2, 2, 1]


@pytest.mark.parametrize("filt,matching,not_matching", [
    ("{b}/x/y", ["{b}/x/y"], ["{b}/x", "{b}/x/y/z", "{b}/X/y", "{b}/x/y/"]),
    ("{b}/+/c", ["{b}/a/c", "{b}//c"], ["{b}/a/c/d", "{b}/c", "{b}/a/b"]),
    ("{b}/+", ["{b}/a", "{b}/"], ["{b}", "{b}/a/b"]),
    ("{b}/#", ["{b}", "{b}/a", "{b}/a/b/c", "{b}/"], ["{b}x", "{b}x/a"]),
    ("{b}/+/#", ["{b}/a", "{b}/a/b/c"], ["{b}"]),
    ("+/{b}/+", ["x/{b}/y", "/{b}/"], ["x/{b}", "x/{b}/y/z"]),
], ids=["exact", "plus-middle", "plus-last", "hash-parent", "plus-hash", "plus-first"])
def test_wildcard_matching(paho, filt, matching, not_matching):
    """[MQTT-4.7.1-2] '#' also matches the parent level; [MQTT-4.7.1-3] '+'
    matches exactly one level (which may be empty); [MQTT-4.7.3-4] topic
    matching is case sensitive and exact, no normalisation."""
    b = uid("wc")
    filt = filt.format(b=b)
    sub = paho()
    pub = paho()
    marker = uid("marker")
    assert sub.subscribe([(filt, 1), (marker, 1)]) == [1, 1]
    for t in not_matching:
        pub.publish(t.format(b=b), b"no:" + t.format(b=b).encode(), qos=1)
    for t in matching:
        pub.publish(t.format(b=b), b"yes:" + t.format(b=b).encode(), qos=1)
    got = barrier(sub, pub, marker)
    got_topics = sorted(m.topic for m in got)
    assert got_topics == sorted(t.format(b=b) for t in matching), got_topics
    assert all(m.payload.startswith(b"yes:") for m in got)


def test_dollar_topics_not_matched_by_leading_wildcards(paho):
    """[MQTT-4.7.2-1] filters starting with '#' or '+' do not match topic names
    starting with '$'; a filter starting with '$' does."""
    b = uid("dl")
    wild = paho()
    dollar = paho()
    pub = paho()
    marker = uid("marker")
    assert wild.subscribe([("#", 0), ("+/" + b, 0), ("+/+", 0)]) == [0, 0, 0]
    assert dollar.subscribe([("$roosttest/#", 0)]) == [0]
    pub.publish("$roosttest/" + b, b"dollar", qos=1)
    m = dollar.get()
    assert (m.topic, m.payload) == ("$roosttest/" + b, b"dollar")
    # "#" matches the marker as well, so the barrier flows through it.
    got = barrier(wild, pub, marker)
    assert [m.topic for m in got if m.topic.startswith("$")] == []


def test_resubscribe_replaces_qos(raw, paho):
    """[MQTT-3.8.4-3] a SUBSCRIBE for an existing filter replaces it: the new
    QoS applies and the message arrives once."""
    t = uid("rs")
    c = raw()
    c.connect()
    assert c.subscribe([(t, 0)], pid=1) == [0]
    assert c.subscribe([(t, 2)], pid=2) == [2]
    pub = paho()
    pub.publish(t, b"after-upgrade", qos=2)
    p = c.expect("PUBLISH")
    assert (p.payload, p.qos) == (b"after-upgrade", 2)
    c.ack(p)
    assert c.subscribe([(t, 0)], pid=3) == [0]
    pub.publish(t, b"after-downgrade", qos=2)
    p = c.expect("PUBLISH")
    assert (p.payload, p.qos) == (b"after-downgrade", 0)
    c.no_packet(0.3)


@pytest.mark.mosquitto_deviates("2.0.11 sends one copy at the QoS of the first matching subscription")
def test_overlapping_subscriptions_deliver_at_max_qos(raw, paho):
    """[MQTT-3.3.5-1] overlapping filters of one client: delivered respecting
    the maximum QoS of the matching subscriptions. The spec would allow one
    copy per matching subscription; the README promises exactly one, at the
    highest granted QoS. A marker on a topic of its own (QoS 1, same
    publisher) arrives after every copy the broker sent."""
    b = uid("ov")
    marker = uid("ov-marker")
    c = raw()
    c.connect()
    assert c.subscribe([(b + "/#", 0), (b + "/+", 1), (b + "/x", 0), (marker, 1)]) == [0, 1, 0, 1]
    pub = paho()
    pub.publish(b + "/x", b"m", qos=2)
    pub.publish(marker, b"end", qos=1)
    got = []
    while True:
        p = c.expect("PUBLISH")
        c.ack(p)
        if p.topic == marker:
            break
        got.append((p.topic, p.payload, p.qos))
    assert got == [(b + "/x", b"m", 1)]


def test_publish_into_sys_is_dropped(raw, paho):
    """A client may not publish into the broker's $SYS tree: the publish is
    acknowledged (3.1.1 has no refusal) and nobody receives it, at any QoS,
    retained or not; a $SYS subscriber sees only the marker. The filter is
    this test's own $SYS/<id>/# (a broker may publish its own $SYS topics)."""
    b = uid("sys")
    sub = paho()
    marker = uid("sys-marker")
    assert sub.subscribe([("$SYS/%s/#" % b, 2), (marker, 2)]) == [2, 2]
    c = raw()
    c.connect()
    for q in (0, 1, 2):
        c.publish("$SYS/%s/q%d" % (b, q), b"forged", qos=q, pid=10 + q)
    c.publish("$SYS/%s/retained" % b, b"forged", qos=1, retain=True, pid=20)
    got = barrier(sub, paho(), marker, qos=2)
    assert [(m.topic, m.payload) for m in got] == []
    # nothing retained either: a new subscriber gets only its marker
    late = paho()
    assert late.subscribe([("$SYS/%s/#" % b, 1), (marker, 1)]) == [1, 1]
    assert barrier(late, paho(), marker) == []


def test_unsuback_for_unknown_filter(raw):
    """[MQTT-3.10.4-4] UNSUBACK with the same packet id, [MQTT-3.10.4-5] even
    if no filter matched."""
    c = raw()
    c.connect()
    from conftest import unsubscribe_pkt
    c.send(unsubscribe_pkt(777, [uid("never-subscribed"), "a/+/#"]))
    p = c.expect("UNSUBACK")
    assert p.raw == bytes.fromhex("b0 02 03 09".replace(" ", ""))


def test_no_delivery_after_unsubscribe(paho):
    """[MQTT-3.10.4-1]/[MQTT-3.10.4-2] after UNSUBACK no new messages for the
    filter; other subscriptions are untouched."""
    b = uid("us")
    sub, pub = paho(), paho()
    assert sub.subscribe([(b + "/gone", 1), (b + "/kept", 1)]) == [1, 1]
    pub.publish(b + "/gone", b"before", qos=1)
    assert sub.get().payload == b"before"
    sub.unsubscribe(b + "/gone")
    pub.publish(b + "/gone", b"after", qos=1)
    got = barrier(sub, pub, b + "/kept")
    assert got == []


def test_fan_out_and_own_messages(paho):
    """Every subscriber gets a copy, including the publisher itself (3.1.1 has
    no no-local)."""
    t = uid("fan")
    subs = [paho() for _ in range(4)]
    for s in subs:
        assert s.subscribe(t, 1) == [1]
    subs[0].publish(t, b"to-all", qos=1)
    for s in subs:
        m = s.get()
        assert (m.topic, m.payload, m.qos, m.retain) == (t, b"to-all", 1, 0)


def test_payload_binary_and_large_is_preserved(paho):
    """Payload bytes are opaque: binary, NUL, 100 KiB round-trip unchanged."""
    t = uid("bin")
    sub, pub = paho(), paho()
    sub.subscribe(t, 1)
    blobs = [b"", bytes(range(256)), b"\x00" * 10, bytes(range(256)) * 400]
    for i, blob in enumerate(blobs):
        pub.publish(t, blob, qos=1)
    for blob in blobs:
        assert sub.get().payload == blob
