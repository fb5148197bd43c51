"""MQTT 5.0, connection side (issue 15), one node: a level-5 CONNECT is
accepted and answered with the broker's CONNACK properties; every packet the
broker sends is encoded for the client's level; CONNECTs it refuses get a
5.0 reason code; after CONNACK, protocol errors get DISCONNECT with a reason
code. Raw sockets (exact bytes), paho-mqtt with protocol=MQTTv5 and
mosquitto_sub/pub -V 5. Normative statements are cited as [MQTT-x.x.x-y]
(MQTT 5.0 unless said otherwise)."""

import subprocess
import time

import pytest

from conftest import (RawClient, assert_closed_by_broker, connect_pkt, enc_str, uid,
                      wait_until)
from mqtt5 import (ASSIGNED_CLIENT_ID, AUTH_METHOD, MAXIMUM_PACKET_SIZE, REASON_STRING,
                   RECEIVE_MAXIMUM, REQUEST_PROBLEM_INFO, SERVER_KEEP_ALIVE, SESSION_EXPIRY,
                   SHARED_SUB_AVAILABLE, SUB_ID_AVAILABLE, TOPIC_ALIAS, TOPIC_ALIAS_MAXIMUM,
                   Raw5, ack5, ack5_pkt, connack5, connect5_pkt, disconnect5_pkt,
                   props, publish5, publish5_pkt, subscribe5_pkt, suback5, unsubscribe5_pkt)

import paho.mqtt.client as mqtt

pytestmark = pytest.mark.roost_only  # 5.0 specifics of this broker (Mosquitto differs in properties)


def raw5(port):
    return Raw5(port)


# ---------------------------------------------------------------- CONNECT / CONNACK

def test_connack_v5_properties(broker):
    """A level-5 CONNECT gets a 5.0 CONNACK (flags, reason code 0x00, property
    list) [MQTT-3.1.4-5], [MQTT-3.2.2-8], with what this broker supports:
    Receive Maximum, Maximum Packet Size, Topic Alias Maximum; Subscription
    Identifiers available (they are returned on delivery: test_75) and
    Shared Subscriptions announced as not available (absent means
    available, 3.2.2.3.11/12); Maximum QoS and Retain Available absent
    (both supported) [MQTT-3.2.2-9]."""
    with raw5(broker.port) as c:
        sp, pr = c.connect5(uid("p5"))
        assert sp == 0
        assert pr[RECEIVE_MAXIMUM] == 1024
        assert pr[MAXIMUM_PACKET_SIZE] == 1048576
        assert pr[TOPIC_ALIAS_MAXIMUM] == 32
        assert pr[SUB_ID_AVAILABLE] == 1  # issue 15 message side: returned on delivery
        assert pr[SHARED_SUB_AVAILABLE] == 1  # issue 16: shared subscriptions (test_84)
        assert 0x24 not in pr and 0x25 not in pr
        assert ASSIGNED_CLIENT_ID not in pr and SERVER_KEEP_ALIVE not in pr
        c.ping()  # PINGRESP is the same in 5.0
        c.send(disconnect5_pkt())
        assert_closed_by_broker(c)


def test_paho_v5_connects(broker):
    """A stock 5.0 client (paho-mqtt, protocol=MQTTv5) connects, subscribes,
    publishes at QoS 0/1/2 and unsubscribes: every ack it gets is a 5.0 packet
    (paho would drop the connection on a 3.1.1-shaped one)."""
    got = {}
    msgs = []
    c = mqtt.Client(client_id=uid("paho5"), protocol=mqtt.MQTTv5)
    c.on_connect = lambda cl, ud, fl, rc, pr=None: got.update(rc=rc, props=pr)
    c.on_subscribe = lambda cl, ud, mid, rcs, pr=None: got.setdefault("suback", []).append(
        [r.value for r in rcs])
    c.on_unsubscribe = lambda cl, ud, mid, pr=None, rcs=None: got.setdefault("unsuback", []).append(
        [r.value for r in rcs] if isinstance(rcs, list) else rcs)
    c.on_message = lambda cl, ud, m: msgs.append((m.topic, m.payload, m.qos))
    c.connect("127.0.0.1", broker.port, keepalive=30)
    c.loop_start()
    try:
        assert wait_until(lambda: "rc" in got)
        assert got["rc"] == 0
        assert got["props"].ReceiveMaximum == 1024
        t = uid("p5/t")
        c.subscribe(t, qos=2)
        assert wait_until(lambda: got.get("suback"))
        assert got["suback"] == [[2]]
        for q in (0, 1, 2):
            c.publish(t, b"q%d" % q, qos=q)
        assert wait_until(lambda: len(msgs) == 3)
        assert sorted(msgs) == [(t, b"q0", 0), (t, b"q1", 1), (t, b"q2", 2)]
        c.unsubscribe(t)
        assert wait_until(lambda: got.get("unsuback"))
    finally:
        c.disconnect()
        c.loop_stop()


def test_assigned_client_identifier(broker):
    """An empty client id gets an Assigned Client Identifier, new and unique
    [MQTT-3.2.2-16], [MQTT-3.1.3-7]; 5.0 allows it with Clean Start 0 too
    (only 3.1.1 required a clean session [MQTT-3.1.3-8] of 3.1.1)."""
    ids = set()
    for clean in (True, False):
        with raw5(broker.port) as c:
            _, pr = c.connect5("", clean=clean)
            aid = pr[ASSIGNED_CLIENT_ID]
            assert aid and aid not in ids
            ids.add(aid)
            c.send(disconnect5_pkt())
    # 3.1.1 with an empty id and clean session 0 is still refused (CONNACK 2)
    with RawClient(broker.port) as c:
        c.send(connect_pkt("", clean=False))
        p = c.expect("CONNACK")
        assert p.body == b"\x00\x02"


def test_server_keep_alive(broker_factory):
    """--max-keepalive: a level-5 client asking for more, or for none, gets
    Server Keep Alive in CONNACK and MUST use it [MQTT-3.2.2-21]; one asking
    for less gets no property."""
    b = broker_factory(max_keepalive=30)
    for asked, want in ((0, 30), (100, 30), (10, None)):
        with raw5(b.port) as c:
            _, pr = c.connect5(uid("ka"), keepalive=asked)
            assert pr.get(SERVER_KEEP_ALIVE) == want, (asked, pr)


def test_authentication_method_refused(broker):
    """Enhanced authentication is not offered: a CONNECT with an
    Authentication Method gets CONNACK 0x8C and is closed [MQTT-4.12.0-1],
    [MQTT-3.2.2-7]."""
    with raw5(broker.port) as c:
        c.send(connect5_pkt(uid("am"), properties=props((AUTH_METHOD, "SCRAM-SHA-1"))))
        sp, rc, pr = connack5(c.expect("CONNACK"))
        assert (sp, rc) == (0, 0x8C)
        assert pr.get(REASON_STRING)
        assert_closed_by_broker(c)


@pytest.mark.parametrize("name,properties,rc", [
    # a property twice is a Protocol Error (3.1.2.11.2): CONNACK 0x82
    ("duplicate", props((SESSION_EXPIRY, 1), (SESSION_EXPIRY, 2)), 0x82),
    # Receive Maximum 0 is a Protocol Error (3.1.2.11.3)
    ("receive_max_0", props((RECEIVE_MAXIMUM, 0)), 0x82),
    # an identifier not valid in CONNECT is a Malformed Packet (2.2.2.2): 0x81
    ("topic_alias_in_connect", props((TOPIC_ALIAS, 1)), 0x81),
    # a property list running past the packet
    ("overrun", b"\x05\x11\x00", 0x81),
])
def test_bad_connect_properties(broker, name, properties, rc):
    """A malformed or protocol-violating level-5 CONNECT is answered with
    CONNACK 0x81 / 0x82 and closed [MQTT-3.1.4-1], [MQTT-3.2.2-7]."""
    with raw5(broker.port) as c:
        c.send(connect5_pkt(uid("bad"), properties=properties))
        sp, got, _ = connack5(c.expect("CONNACK"))
        assert (sp, got) == (0, rc), name
        assert_closed_by_broker(c)


def test_unsupported_level_gets_connack_0x84_or_1(broker):
    """Level 6 in a CONNECT: CONNACK with 3.1.1's code 1 (the client's level
    is unknown, so the 3.1.1 form is used, as the 3.1.1 spec requires of
    unsupported levels [MQTT-3.1.2-2] of 3.1.1) and the connection closes."""
    with RawClient(broker.port) as c:
        c.send(connect_pkt(uid("l6"), proto_level=6))
        p = c.expect("CONNACK")
        assert p.body == b"\x00\x01"
        assert_closed_by_broker(c)


# ---------------------------------------------------------------- server DISCONNECT

def test_second_connect_is_protocol_error(broker):
    """A second CONNECT is a Protocol Error [MQTT-3.1.0-2]: DISCONNECT 0x82,
    then the close; the reason string says why."""
    with raw5(broker.port) as c:
        c.connect5(uid("twice"))
        c.send(connect5_pkt(uid("twice")))
        pr = c.expect_disconnect(0x82)
        assert pr.get(REASON_STRING) == "unexpected packet"


def test_reason_string_only_when_allowed(broker):
    """Request Problem Information 0: no Reason String on the DISCONNECT
    (3.1.2.11.7)."""
    with raw5(broker.port) as c:
        c.connect5(uid("rpi"), properties=props((REQUEST_PROBLEM_INFO, 0)))
        c.send(connect5_pkt(uid("x")))
        pr = c.expect_disconnect(0x82)
        assert REASON_STRING not in pr


def test_packet_too_large(broker_factory):
    """A packet over the Maximum Packet Size the broker sent: DISCONNECT 0x95
    (3.2.2.3.6, 4.13)."""
    b = broker_factory(max_packet_size=1024)
    with raw5(b.port) as c:
        _, pr = c.connect5(uid("big"))
        assert pr[MAXIMUM_PACKET_SIZE] == 1024
        c.send(publish5_pkt("big/t", b"x" * 2000))
        c.expect_disconnect(0x95)


def test_keepalive_timeout(broker):
    """Silence past 1.5 times the keep-alive [MQTT-3.1.2-22]: DISCONNECT 0x8D."""
    with raw5(broker.port) as c:
        c.connect5(uid("ka"), keepalive=1)
        t0 = time.monotonic()
        c.expect_disconnect(0x8D, timeout=5)
        assert time.monotonic() - t0 >= 1.4


def test_takeover_disconnects_old_with_0x8e(broker):
    """A second connection with the same client id takes the session over;
    the old one gets DISCONNECT 0x8E (Session taken over) [MQTT-3.1.4-3]."""
    cid = uid("to")
    with raw5(broker.port) as old, raw5(broker.port) as new:
        old.connect5(cid)
        new.connect5(cid)
        old.expect_disconnect(0x8E)
        new.ping()


def test_takeover_of_311_client_by_v5(broker):
    """A 3.1.1 connection taken over by a 5.0 one is just closed (3.1.1 has
    no server DISCONNECT)."""
    cid = uid("to311")
    with RawClient(broker.port) as old, raw5(broker.port) as new:
        old.connect(cid)
        new.connect5(cid)
        assert_closed_by_broker(old)


# ---------------------------------------------------------------- acks for the level

def test_acks_are_v5(broker):
    """PUBACK, PUBREC/PUBCOMP, SUBACK, UNSUBACK in the 5.0 layout: SUBACK
    and UNSUBACK carry a property length and a reason code per filter
    [MQTT-3.9.3-1], [MQTT-3.11.3-1] (0x11 No subscription existed)."""
    t = uid("acks")
    with raw5(broker.port) as c:
        c.connect5(uid("a5"))
        c.send(subscribe5_pkt(7, [(t, 1), (t + "/+", 2)]))
        pid, pr, codes = suback5(c.expect("SUBACK"))
        assert (pid, pr, codes) == (7, {}, [1, 2])
        c.send(publish5_pkt(t, b"one", qos=1, pid=9))
        ack, deliveries = _ack_and_deliveries(c, "PUBACK")
        assert ack5(ack)[:2] == (9, 0)
        c.send(publish5_pkt(t + "/x", b"two", qos=2, pid=10))
        ack, more = _ack_and_deliveries(c, "PUBREC")
        assert ack5(ack)[:2] == (10, 0)
        c.send(ack5_pkt("PUBREL", 10))
        ack, more2 = _ack_and_deliveries(c, "PUBCOMP")
        assert ack5(ack)[:2] == (10, 0)
        deliveries += more + more2
        while len(deliveries) < 2:
            deliveries.append(c.expect("PUBLISH"))
        assert sorted(_pub_topic_payload(p)[1] for p in deliveries) == [b"one", b"two"]
        for p in deliveries:  # granted QoS 1 for t, 2 for t/+
            if p.qos == 1:
                c.send(ack5_pkt("PUBACK", p.pid))
            else:
                c.send(ack5_pkt("PUBREC", p.pid))
                assert ack5(c.expect("PUBREL"))[:2] == (p.pid, 0)
                c.send(ack5_pkt("PUBCOMP", p.pid))
        c.send(unsubscribe5_pkt(11, [t, uid("never")]))
        pid, pr, codes = suback5(c.expect("UNSUBACK"))
        assert (pid, codes) == (11, [0x00, 0x11])


def _ack_and_deliveries(c, name):
    """Reads until the ack `name` arrives; returns it and the PUBLISHes before it."""
    seen = []
    while True:
        p = c.recv_packet()
        if p.name == name:
            return p, seen
        assert p.name == "PUBLISH", p
        seen.append(p)


def test_mixed_levels_share_topics(broker):
    """3.1.1 and 5.0 clients on one topic, both directions: each receives in
    its own level's layout."""
    t = uid("mix")
    with raw5(broker.port) as v5, RawClient(broker.port) as v4:
        v5.connect5(uid("m5"))
        v4.connect(uid("m4"))
        v5.send(subscribe5_pkt(1, [(t, 0)]))
        v5.expect("SUBACK")
        v4.subscribe([(t, 0)])
        v4.send(b"\x30" + bytes([2 + len(t) + 3]) + enc_str(t) + b"old")
        v5.send(publish5_pkt(t, b"new"))
        got5 = sorted(_body5(v5.expect("PUBLISH"), t) for _ in range(1)) + \
            [_body5(v5.expect("PUBLISH"), t)]
        got4 = sorted(v4.expect("PUBLISH").payload for _ in range(2))
        assert sorted(got5) == [b"new", b"old"]
        assert got4 == [b"new", b"old"]


def _body5(p, topic):
    """Payload of a 5.0 QoS 0 PUBLISH on topic (empty property list)."""
    n = 2 + len(topic)
    assert p.body[2:n] == topic.encode()
    assert p.body[n] == 0, "property length %d" % p.body[n]
    return p.body[n + 1:]


def test_mosquitto_clients_v5(broker):
    """mosquitto_sub / mosquitto_pub -V 5 (libmosquitto's 5.0) round trip."""
    t = uid("mos5")
    sub = subprocess.Popen(["mosquitto_sub", "-V", "5", "-p", str(broker.port), "-h", "127.0.0.1",
                            "-t", t, "-C", "1", "-q", "1", "-W", "10"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        subprocess.run(["mosquitto_pub", "-V", "5", "-p", str(broker.port), "-h", "127.0.0.1",
                        "-t", t, "-m", "hello5", "-q", "1"], check=True, timeout=10)
        out, err = sub.communicate(timeout=10)
        assert out.decode().strip() == "hello5", err
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()


# ---------------------------------------------------------------- topic aliases, receive maximum

def test_inbound_topic_alias(broker):
    """A client sets alias 3 with a topic, then publishes with an empty topic
    and alias 3: delivered on the full topic (3.3.2.3.4). Aliases do not
    outlive the connection [MQTT-3.3.2-7]."""
    t = uid("alias")
    with raw5(broker.port) as sub, raw5(broker.port) as pub:
        sub.connect5(uid("as"))
        sub.send(subscribe5_pkt(1, [(t, 0)]))
        sub.expect("SUBACK")
        pub.connect5(uid("ap"))
        pub.send(publish5_pkt(t, b"first", properties=props((TOPIC_ALIAS, 3))))
        pub.send(publish5_pkt("", b"second", properties=props((TOPIC_ALIAS, 3))))
        assert _pub_topic_payload(sub.expect("PUBLISH")) == (t, b"first")
        assert _pub_topic_payload(sub.expect("PUBLISH")) == (t, b"second")
    with raw5(broker.port) as pub:
        pub.connect5(uid("ap2"))
        pub.send(publish5_pkt("", b"x", properties=props((TOPIC_ALIAS, 3))))
        pub.expect_disconnect(0x82)  # never set on this connection


def _pub_topic_payload(p):
    topic, _, payload = publish5(p)
    return topic, payload


@pytest.mark.parametrize("alias", [33, 0])
def test_topic_alias_invalid(broker, alias):
    """Alias above the Topic Alias Maximum we sent [MQTT-3.3.2-9]: DISCONNECT
    0x94 (Topic Alias invalid); alias 0 [MQTT-3.3.2-8] is refused by the
    property decoder as a Protocol Error (0x82)."""
    with raw5(broker.port) as c:
        c.connect5(uid("ai"))
        c.send(publish5_pkt("a/b", b"x", properties=props((TOPIC_ALIAS, alias))))
        c.expect_disconnect(0x94 if alias else 0x82)


def test_receive_maximum_exceeded(broker_factory):
    """--receive-maximum 2: the broker advertises Receive Maximum 2
    (3.2.2.3.3); a third QoS 2 PUBLISH while two await PUBREL is over it
    [MQTT-3.3.4-7]: DISCONNECT 0x93. A QoS 2 resend of an unreleased id
    holds no new slot, and PUBCOMP frees one."""
    b = broker_factory(receive_maximum=2)
    with raw5(b.port) as c:
        _, pr = c.connect5(uid("rm"))
        assert pr[RECEIVE_MAXIMUM] == 2
        for pid in (1, 2):
            c.send(publish5_pkt("rm/t", b"x", qos=2, pid=pid))
            c.expect("PUBREC")
        c.send(publish5_pkt("rm/t", b"x", qos=2, pid=2))  # resend: same slot
        c.expect("PUBREC")
        c.send(ack5_pkt("PUBREL", 1))
        c.expect("PUBCOMP")
        c.send(publish5_pkt("rm/t", b"x", qos=1, pid=3))  # the freed slot
        c.expect("PUBACK")
        c.send(publish5_pkt("rm/t", b"x", qos=2, pid=4))
        c.expect("PUBREC")
        c.send(publish5_pkt("rm/t", b"x", qos=2, pid=5))
        c.expect_disconnect(0x93)


def test_stray_pubrel_frees_no_receive_maximum_slot(broker_factory):
    """A PUBREL for an id the client never used gets PUBCOMP 0x92 (3.7.2.1)
    and frees no slot: a client cannot widen its own Receive Maximum with
    stray PUBRELs (found in review)."""
    b = broker_factory(receive_maximum=2)
    with raw5(b.port) as c:
        c.connect5(uid("rs"))
        c.send(publish5_pkt("rs/t", b"x", qos=2, pid=1))
        c.expect("PUBREC")
        c.send(ack5_pkt("PUBREL", 99))
        p = c.expect("PUBCOMP")
        assert p.body[2:3] == b"\x92", p.raw
        c.send(publish5_pkt("rs/t", b"x", qos=2, pid=2))
        c.expect("PUBREC")
        c.send(publish5_pkt("rs/t", b"x", qos=2, pid=3))  # a third, with two unreleased
        c.expect_disconnect(0x93)


# ---------------------------------------------------------------- client DISCONNECT

@pytest.mark.parametrize("rc,published", [(0x00, False), (0x04, True)])
def test_disconnect_reason_and_will(broker, rc, published):
    """DISCONNECT 0x00 discards the will [MQTT-3.14.4-3]; 0x04 (Disconnect
    with Will Message) has it published (3.14.2.1)."""
    wt = uid("will")
    with raw5(broker.port) as watcher, raw5(broker.port) as c:
        watcher.connect5(uid("w"))
        watcher.send(subscribe5_pkt(1, [(wt, 0)]))
        watcher.expect("SUBACK")
        c.connect5(uid("d"), will=(wt, b"gone", 0, False, b"\x00"))
        c.send(disconnect5_pkt(rc))
        assert_closed_by_broker(c)
        if published:
            assert _pub_topic_payload(watcher.expect("PUBLISH")) == (wt, b"gone")
        else:
            watcher.no_packet(0.5)


def test_disconnect_session_expiry_from_zero_is_protocol_error(broker):
    """CONNECT with Session Expiry 0 and DISCONNECT setting it nonzero is a
    Protocol Error (3.14.2.2.2): the broker answers DISCONNECT 0x82."""
    with raw5(broker.port) as c:
        c.connect5(uid("se0"))
        c.send(disconnect5_pkt(0, props((SESSION_EXPIRY, 60))))
        c.expect_disconnect(0x82)


def test_session_expiry_decides_persistence(broker):
    """5.0: the session outlives the connection only with a Session Expiry
    Interval above 0 (3.1.2.11.2); Clean Start 0 alone keeps nothing."""
    t = uid("sx")
    for expiry, present in ((0, 0), (300, 1)):
        cid = uid("sx")
        with raw5(broker.port) as c:
            c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, expiry)))
            c.send(subscribe5_pkt(1, [(t, 1)]))
            c.expect("SUBACK")
            c.send(disconnect5_pkt())
            assert_closed_by_broker(c)
        with raw5(broker.port) as c:
            sp, _ = c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, expiry)))
            assert sp == present, expiry
            c.send(disconnect5_pkt(0, props((SESSION_EXPIRY, 0))) if expiry else disconnect5_pkt())


def test_disconnect_can_end_session(broker):
    """DISCONNECT with Session Expiry 0 ends a session that CONNECT asked to
    keep (3.14.2.2.2): the next CONNECT finds none [MQTT-3.2.2-3]."""
    cid = uid("end")
    with raw5(broker.port) as c:
        c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 300)))
        c.send(disconnect5_pkt(0, props((SESSION_EXPIRY, 0))))
        assert_closed_by_broker(c)
    with raw5(broker.port) as c:
        sp, _ = c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 300)))
        assert sp == 0


# ---------------------------------------------------------------- the client's limits

def test_client_maximum_packet_size(broker):
    """The broker never sends a client a packet over the Maximum Packet Size
    it set [MQTT-3.1.2-24]: such a message is dropped for that client as if
    it had been sent [MQTT-3.1.2-25], so at QoS 1 the window does not wait
    for it and the next ones arrive."""
    t = uid("mps")
    with raw5(broker.port) as sub, raw5(broker.port) as pub:
        sub.connect5(uid("mps"), properties=props((MAXIMUM_PACKET_SIZE, 80)))
        sub.send(subscribe5_pkt(1, [(t, 1)]))
        sub.expect("SUBACK")
        pub.connect5(uid("mpp"))
        for i, size in enumerate((10, 200, 10, 200, 10)):
            pub.send(publish5_pkt(t, b"%d" % i + b"x" * size, qos=1, pid=i + 1))
        got = []
        for _ in range(3):
            p = sub.expect("PUBLISH")
            assert len(p.body) + 2 <= 80
            got.append(_pub_topic_payload(p)[1][:1])
            sub.send(ack5_pkt("PUBACK", p.pid))
        assert got == [b"0", b"2", b"4"]
        sub.no_packet(0.3)


def test_client_receive_maximum(broker):
    """A client's Receive Maximum 1: the broker has at most one QoS 1
    PUBLISH unacknowledged to it [MQTT-3.3.4-9]; the next follows the PUBACK."""
    t = uid("crm")
    with raw5(broker.port) as sub, raw5(broker.port) as pub:
        sub.connect5(uid("crm"), properties=props((RECEIVE_MAXIMUM, 1)))
        sub.send(subscribe5_pkt(1, [(t, 1)]))
        sub.expect("SUBACK")
        pub.connect5(uid("crp"))
        for i in range(3):
            pub.send(publish5_pkt(t, b"m%d" % i, qos=1, pid=i + 1))
            pub.expect("PUBACK")
        for i in range(3):
            p = sub.expect("PUBLISH")
            assert _pub_topic_payload(p)[1] == b"m%d" % i
            sub.no_packet(0.3)  # nothing more until this one is acknowledged
            sub.send(ack5_pkt("PUBACK", p.pid))


def test_outbound_topic_aliases(broker):
    """A client with Topic Alias Maximum 1 gets aliases from the broker: the
    first PUBLISH on a topic sets alias 1 with the topic, the next ones send
    an empty topic and the alias; another topic takes the alias over
    (3.3.2.3.4), never above the client's maximum [MQTT-3.3.2-11]. Without
    a Topic Alias Maximum the broker sends none."""
    ta, tb = uid("oa/a"), uid("oa/b")
    with raw5(broker.port) as sub, raw5(broker.port) as plain, raw5(broker.port) as pub:
        sub.connect5(uid("oas"), properties=props((TOPIC_ALIAS_MAXIMUM, 1)))
        plain.connect5(uid("oan"))
        for c in (sub, plain):
            c.send(subscribe5_pkt(1, [(ta, 1), (tb, 1)]))
            c.expect("SUBACK")
        pub.connect5(uid("oap"))
        for i, t in enumerate((ta, ta, ta, tb, ta)):
            pub.send(publish5_pkt(t, b"m%d" % i, qos=1, pid=i + 1))
            pub.expect("PUBACK")
        want = [(ta, 1), ("", 1), ("", 1), (tb, 1), (ta, 1)]
        for i, (topic, alias) in enumerate(want):
            p = sub.expect("PUBLISH")
            got_topic, pr, payload = publish5(p)
            assert (got_topic, pr.get(TOPIC_ALIAS), payload) == (topic, alias, b"m%d" % i)
            sub.send(ack5_pkt("PUBACK", p.pid))
        for i in range(5):
            p = plain.expect("PUBLISH")
            got_topic, pr, _ = publish5(p)
            assert got_topic in (ta, tb) and TOPIC_ALIAS not in pr
            plain.send(ack5_pkt("PUBACK", p.pid))


def test_resume_respects_receive_maximum(broker):
    """Three QoS 1 messages unacknowledged when the client goes; it comes
    back with Receive Maximum 1: they are resent one at a time [MQTT-3.3.4-9],
    with DUP and their packet ids [MQTT-4.4.0-1]."""
    t, cid = uid("rr"), uid("rr")
    with raw5(broker.port) as sub, raw5(broker.port) as pub:
        sub.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 60)))
        sub.send(subscribe5_pkt(1, [(t, 1)]))
        sub.expect("SUBACK")
        pub.connect5(uid("rrp"))
        for i in range(3):
            pub.send(publish5_pkt(t, b"r%d" % i, qos=1, pid=i + 1))
            pub.expect("PUBACK")
        first = [sub.expect("PUBLISH") for _ in range(3)]
    with raw5(broker.port) as sub:
        sp, _ = sub.connect5(cid, clean=False,
                             properties=props((SESSION_EXPIRY, 60), (RECEIVE_MAXIMUM, 1)))
        assert sp == 1
        for i in range(3):
            p = sub.expect("PUBLISH")
            assert p.dup and p.pid == first[i].pid
            assert _pub_topic_payload(p)[1] == b"r%d" % i
            sub.no_packet(0.3)
            sub.send(ack5_pkt("PUBACK", p.pid))
        sub.send(disconnect5_pkt(0, props((SESSION_EXPIRY, 0))))
