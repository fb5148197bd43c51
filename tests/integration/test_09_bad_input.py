"""09 bad input: each case over a raw socket; the broker closes that
connection, and a well-behaved client connected before carries on."""

import re
import time

import pytest

from conftest import (IS_MOSQUITTO, RawClient, assert_closed_by_broker, barrier, connect_pkt, enc_str, h,
                      packet, publish_pkt, subscribe_pkt, uid, unsubscribe_pkt)


def refused_connack(p):
    """A CONNACK that refuses (return code != 0) is allowed before the close."""
    return p.name == "CONNACK" and len(p.body) == 2 and p.body[1] != 0


def _connected(raw):
    c = raw()
    c.connect()
    return c


# (id, bytes, the reason logged with the close)
AFTER_CONNECT = [
    ("malformed remaining length 5 bytes of 0xFF [MQTT-2.2.3]", h("30 ff ff ff ff ff"), "protocol_error"),
    ("second CONNECT [MQTT-3.1.0-2]", connect_pkt("again"), "unexpected_packet"),
    ("PUBLISH topic with + [MQTT-3.3.2-2]", publish_pkt("bad/+/x", b"p"), "bad_topic"),
    ("PUBLISH topic with # [MQTT-3.3.2-2]", publish_pkt("bad/#", b"p", qos=1, pid=3), "bad_topic"),
    ("PUBLISH QoS 3 [MQTT-3.3.1-4]", packet(0x36, enc_str("q3") + h("0001") + b"p"), "protocol_error"),
    ("PUBLISH qos1 packet id 0 [MQTT-2.3.1-1]", publish_pkt(uid("pid0"), b"p", qos=1, pid=0), "bad_packet_id"),
    ("SUBSCRIBE flags 0000 [MQTT-3.8.1-1]", subscribe_pkt(1, [("a", 0)], flags=0), "protocol_error"),
    ("UNSUBSCRIBE flags 0000 [MQTT-3.10.1-1]", unsubscribe_pkt(1, ["a"], flags=0), "protocol_error"),
    ("PUBREL flags 0000 [MQTT-3.6.1-1]", h("60 02 00 01"), "protocol_error"),
    ("SUBSCRIBE QoS 3 [MQTT-3-8.3-4]", subscribe_pkt(1, [("a", 3)]), "protocol_error"),
    ("SUBSCRIBE reserved bits in options [MQTT-3-8.3-4]", subscribe_pkt(1, [("a", 0x04)]), "protocol_error"),
    ("SUBSCRIBE packet id 0 [MQTT-2.3.1-1]", subscribe_pkt(0, [("a", 0)]), "bad_packet_id"),
    ("UNSUBSCRIBE packet id 0 [MQTT-2.3.1-1]", unsubscribe_pkt(0, ["a"]), "bad_packet_id"),
    ("SUBSCRIBE without filters [MQTT-3.8.3-3]", h("82 02 00 01"), "protocol_error"),
    ("UNSUBSCRIBE without filters [MQTT-3.10.3-2]", h("a2 02 00 01"), "protocol_error"),
    ("PUBLISH topic invalid UTF-8 [MQTT-1.5.3-1]", packet(0x30, h("0003 61 ff 62") + b"p"), "bad_utf8"),
    ("PUBLISH topic overlong UTF-8 NUL [MQTT-1.5.3-1]", packet(0x30, h("0003 61 c0 80") + b"p"), "bad_utf8"),
    ("PUBLISH topic UTF-16 surrogate [MQTT-1.5.3-1]", packet(0x30, h("0004 61 ed a0 80") + b"p"), "bad_utf8"),
    ("PUBLISH topic with U+0000 [MQTT-1.5.3-2]", packet(0x30, h("0003 61 00 62") + b"p"), "bad_utf8"),
    ("SUBSCRIBE filter with U+0000 [MQTT-1.5.3-2]", packet(0x82, h("0001 0003 61 00 62 00")), "bad_utf8"),
    ("SUBSCRIBE filter invalid UTF-8 [MQTT-1.5.3-1]", packet(0x82, h("0001 0002 61 fe 00")), "bad_utf8"),
    ("PUBLISH empty topic [MQTT-4.7.3-1]", packet(0x30, h("0000") + b"p"), "bad_topic"),
    ("reserved packet type 0", h("00 00"), "protocol_error"),
    ("reserved packet type 15", h("f0 00"), "protocol_error"),
    ("server-to-client packet CONNACK from client", h("20 02 00 00"), "unexpected_packet"),
    ("string length beyond packet [MQTT-1.5.3]", packet(0x30, h("00 40 61 62")), "protocol_error"),
]


@pytest.mark.parametrize("data,reason", [c[1:] for c in AFTER_CONNECT], ids=[c[0] for c in AFTER_CONNECT])
def test_bad_packet_after_connect_closes_only_that_connection(raw, bystander, broker, data, reason):
    """The broker closes that connection, names why in its conn_closed line,
    and a bystander carries on."""
    by = bystander()
    cid = uid("bad")
    c = raw()
    c.connect(cid)
    c.send(data)
    assert_closed_by_broker(c)
    by.assert_untouched()
    if IS_MOSQUITTO:
        return
    # logged in the loop turn that closed it: the bystander's round trip came after
    mine = [l for l in broker.log().splitlines() if " client_id=%s " % cid in l]
    refused = [l for l in mine if " event=conn_refused " in l]
    assert len(refused) == 1 and " packet=" in refused[0], mine
    assert re.search(r' reason="[^"]+"$', refused[0]), refused[0]  # one field, spaces and all
    closed = [l for l in mine if " event=conn_closed " in l]
    assert len(closed) == 1, mine
    assert closed[0].endswith(" reason=" + reason), closed[0]


BEFORE_CONNECT = [
    ("first packet PINGREQ [MQTT-3.1.0-1]", h("c0 00")),
    ("first packet PUBLISH [MQTT-3.1.0-1]", publish_pkt("x", b"p")),
    ("first packet SUBSCRIBE [MQTT-3.1.0-1]", subscribe_pkt(1, [("x", 0)])),
    ("malformed remaining length before CONNECT", h("10 ff ff ff ff ff")),
    ("wrong protocol name [MQTT-3.1.2-1]", connect_pkt("pn", proto_name="MQTX")),
    ("reserved connect flag [MQTT-3.1.2-3]", connect_pkt("rf", flags=0x03)),
    ("will QoS without will flag [MQTT-3.1.2-13]", connect_pkt("wq", flags=0x02 | 0x08)),
    ("will retain without will flag [MQTT-3.1.2-15]", connect_pkt("wr", flags=0x02 | 0x20)),
    ("will QoS 3 [MQTT-3.1.2-14]", connect_pkt("w3", will=("t", b"x", 3, False))),
    ("password without username [MQTT-3.1.2-22]", connect_pkt("pw", flags=0x02 | 0x40) + b""),
    ("CONNECT fixed-header flags not 0 [MQTT-2.2.2-2]", packet(0x11, connect_pkt("fl")[2:])),
    ("client id invalid UTF-8 [MQTT-1.5.3-1]", packet(0x10, enc_str("MQTT") + h("04 02 003c 0002 c3 28"))),
]


@pytest.mark.parametrize("data", [c[1] for c in BEFORE_CONNECT], ids=[c[0] for c in BEFORE_CONNECT])
def test_bad_first_packet_closes_without_accepting(raw, bystander, data):
    """No CONNACK 0 is ever sent; a refusing CONNACK before the close is
    tolerated (the spec allows one for some of these)."""
    by = bystander()
    c = raw()
    c.send(data)
    assert_closed_by_broker(c, allow=refused_connack)
    by.assert_untouched()


def test_wrong_protocol_level_connack_1_then_close(raw, bystander):
    """[MQTT-3.1.2-2] CONNACK 0x01, then close."""
    by = bystander()
    c = raw()
    c.send(connect_pkt(uid(), proto_level=7))
    c.expect_bytes("20 02 00 01")
    assert_closed_by_broker(c)
    by.assert_untouched()


def test_wildcard_publish_not_delivered(raw, paho):
    """[MQTT-3.3.2-2] the bad PUBLISH is not routed to a '#' subscriber."""
    b = uid("wcp")
    sub = paho()
    sub.subscribe(b + "/#", 0)
    c = _connected(raw)
    c.send(publish_pkt(b + "/+", b"bad"))
    assert_closed_by_broker(c)
    assert [m.payload for m in barrier(sub, paho(), b + "/ok")] == []


def test_packet_over_max_packet_size(broker_factory, bystander):
    """--max-packet-size 1024: a 2000-byte PUBLISH closes the connection; a
    small one on another connection is fine."""
    b = broker_factory(max_packet_size=1024)
    by = bystander(b.port)
    c = RawClient(b.port)
    c.connect()
    c.publish(uid("small"), b"x" * 200, qos=1, pid=1)
    c.send(publish_pkt(uid("big"), b"x" * 2000, qos=1, pid=2))
    assert_closed_by_broker(c)
    c.close()
    by.assert_untouched()
    # the declared size alone is enough: a header announcing 10 MB is refused
    # without the broker waiting for (or buffering) the body
    c = RawClient(b.port)
    c.connect()
    c.send(h("30 80 ad e2 04") + b"\x00\x01a")
    assert_closed_by_broker(c, timeout=3)
    c.close()
    by.assert_untouched()


@pytest.mark.roost_only  # Mosquitto 2.0 has no CONNECT timeout (it waits ~forever)
def test_socket_that_never_sends_connect_closed_after_connect_timeout(broker_factory, bystander):
    b = broker_factory(connect_timeout=2)
    by = bystander(b.port)
    c = RawClient(b.port)
    start = time.monotonic()
    assert_closed_by_broker(c, timeout=6)
    assert time.monotonic() - start >= 1.5
    by.assert_untouched()


@pytest.mark.roost_only  # needs --connect-timeout
def test_half_connect_closed_after_connect_timeout(broker_factory, bystander):
    b = broker_factory(connect_timeout=2)
    by = bystander(b.port)
    c = RawClient(b.port)
    data = connect_pkt(uid("half"))
    c.send(data[:len(data) // 2])
    start = time.monotonic()
    assert_closed_by_broker(c, timeout=6)
    assert time.monotonic() - start >= 1.5
    by.assert_untouched()


def test_half_packet_after_connect_then_silence(raw, bystander):
    """Half a PUBLISH, then nothing: the broker does not block on it (the
    bystander is served meanwhile) and keep-alive still closes the stalled
    connection."""
    by = bystander()
    c = raw()
    c.connect(keepalive=1)
    data = publish_pkt(uid("half"), b"y" * 100, qos=1, pid=1)
    c.send(data[:30])
    by.assert_untouched()
    assert_closed_by_broker(c, timeout=10)  # Mosquitto 2.0 checks keep-alive every ~5 s
    by.assert_untouched()
