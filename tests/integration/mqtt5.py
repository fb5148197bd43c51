"""MQTT 5.0 on raw sockets for the tests: property lists, CONNECT, PUBLISH,
DISCONNECT and the decoding of CONNACK / DISCONNECT / acks, on top of
conftest's RawClient (exact bytes in, exact packets out).

Property values by identifier (5.0 table 2-4); parse_props returns a dict
{id: value}, with User Property (0x26) and Subscription Identifier (0x0B)
as lists."""

import struct

from conftest import RawClient, T, connect_pkt, enc_len, enc_str, packet, uid, wait_until

# property identifiers used by the tests
PAYLOAD_FORMAT = 0x01
MESSAGE_EXPIRY = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_ID = 0x0B
SESSION_EXPIRY = 0x11
ASSIGNED_CLIENT_ID = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTH_METHOD = 0x15
AUTH_DATA = 0x16
REQUEST_PROBLEM_INFO = 0x17
WILL_DELAY = 0x18
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUB_AVAILABLE = 0x28
SUB_ID_AVAILABLE = 0x29
SHARED_SUB_AVAILABLE = 0x2A

_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_U16 = {0x13, 0x21, 0x22, 0x23}
_U32 = {0x02, 0x11, 0x18, 0x27}
_VARINT = {0x0B}
_BIN = {0x09, 0x16}
_PAIR = {0x26}


def prop(pid, value):
    """One property entry."""
    if pid in _BYTE:
        return bytes([pid, value])
    if pid in _U16:
        return bytes([pid]) + struct.pack("!H", value)
    if pid in _U32:
        return bytes([pid]) + struct.pack("!I", value)
    if pid in _VARINT:
        return bytes([pid]) + enc_len(value)
    if pid in _PAIR:
        return bytes([pid]) + enc_str(value[0]) + enc_str(value[1])
    return bytes([pid]) + enc_str(value)  # UTF-8 string or binary data


def props(*entries):
    """A property list with its length: props((id, value), ...) or raw bytes."""
    body = b"".join(e if isinstance(e, bytes) else prop(*e) for e in entries)
    return enc_len(len(body)) + body


def _varint(b, i):
    v, mult = 0, 1
    while True:
        c = b[i]
        i += 1
        v += (c & 0x7F) * mult
        mult *= 128
        if not c & 0x80:
            return v, i


def parse_props(b, i=0):
    """(dict, index after the list) for the property list at b[i:]."""
    n, i = _varint(b, i)
    end, out = i + n, {}
    while i < end:
        pid = b[i]
        i += 1
        if pid in _BYTE:
            v, i = b[i], i + 1
        elif pid in _U16:
            v, i = struct.unpack("!H", b[i:i + 2])[0], i + 2
        elif pid in _U32:
            v, i = struct.unpack("!I", b[i:i + 4])[0], i + 4
        elif pid in _VARINT:
            v, i = _varint(b, i)
        elif pid in _PAIR:
            ln = struct.unpack("!H", b[i:i + 2])[0]
            k = b[i + 2:i + 2 + ln].decode()
            i += 2 + ln
            ln = struct.unpack("!H", b[i:i + 2])[0]
            v = (k, b[i + 2:i + 2 + ln].decode())
            i += 2 + ln
        else:
            ln = struct.unpack("!H", b[i:i + 2])[0]
            v = b[i + 2:i + 2 + ln]
            v = v if pid in _BIN else v.decode()
            i += 2 + ln
        if pid in (USER_PROPERTY, SUBSCRIPTION_ID):
            out.setdefault(pid, []).append(v)
        else:
            assert pid not in out, "property 0x%02x twice" % pid
            out[pid] = v
    assert i == end, "property list overran"
    return out, i


def connect5_pkt(client_id="", clean=True, keepalive=60, properties=b"\x00", will=None,
                 username=None, password=None, level=5):
    """A level-5 CONNECT. properties: a props() list. will = (topic, payload,
    qos, retain, will_props_list) or None."""
    return connect_pkt(client_id, clean, keepalive, will, username, password, proto_level=level,
                       properties=properties)


def publish5_pkt(topic, payload=b"", qos=0, retain=False, pid=1, properties=b"\x00"):
    if isinstance(payload, str):
        payload = payload.encode()
    body = enc_str(topic) + (struct.pack("!H", pid) if qos else b"") + properties
    return packet(0x30 | (qos << 1) | (1 if retain else 0), body + payload)


def subscribe5_pkt(pid, filters, properties=b"\x00"):
    """filters: list of (filter, options byte)."""
    body = struct.pack("!H", pid) + properties
    for f, o in filters:
        body += enc_str(f) + bytes([o])
    return packet(0x82, body)


def unsubscribe5_pkt(pid, filters, properties=b"\x00"):
    body = struct.pack("!H", pid) + properties
    for f in filters:
        body += enc_str(f)
    return packet(0xA2, body)


def disconnect5_pkt(rc=0, properties=None):
    if rc == 0 and properties is None:
        return b"\xe0\x00"
    return packet(0xE0, bytes([rc]) + (properties if properties is not None else b""))


def ack5_pkt(kind, pid, rc=0):
    fb = {"PUBACK": 0x40, "PUBREC": 0x50, "PUBREL": 0x62, "PUBCOMP": 0x70}[kind]
    return packet(fb, struct.pack("!H", pid) + (bytes([rc]) if rc else b""))


def connack5(p):
    """(session present, reason code, props) of a CONNACK packet."""
    assert p.name == "CONNACK", p
    assert p.flags == 0, p
    assert p.body[0] in (0, 1), "reserved CONNACK flags [MQTT-3.2.2-1]: %r" % p
    pr, end = parse_props(p.body, 2)
    assert end == len(p.body), "trailing bytes in CONNACK %r" % p
    return p.body[0] & 1, p.body[1], pr


def publish5(p):
    """(topic, props, payload) of a 5.0 PUBLISH packet."""
    assert p.name == "PUBLISH", p
    n = struct.unpack("!H", p.body[:2])[0]
    topic = p.body[2:2 + n].decode()
    pr, i = parse_props(p.body, 2 + n + (2 if p.qos else 0))
    return topic, pr, p.body[i:]


def disconnect5(p):
    """(reason code, props) of a DISCONNECT packet (short forms included)."""
    assert p.name == "DISCONNECT", p
    if not p.body:
        return 0, {}
    if len(p.body) == 1:
        return p.body[0], {}
    pr, end = parse_props(p.body, 1)
    assert end == len(p.body), p
    return p.body[0], pr


def ack5(p):
    """(packet id, reason code, props) of a PUBACK..PUBCOMP."""
    pid = struct.unpack("!H", p.body[:2])[0]
    if len(p.body) == 2:
        return pid, 0, {}
    if len(p.body) == 3:
        return pid, p.body[2], {}
    pr, _ = parse_props(p.body, 3)
    return pid, p.body[2], pr


def suback5(p):
    """(packet id, props, codes) of a SUBACK or UNSUBACK."""
    pid = struct.unpack("!H", p.body[:2])[0]
    pr, i = parse_props(p.body, 2)
    return pid, pr, list(p.body[i:])


class Raw5(RawClient):
    """RawClient speaking 5.0."""

    def connect5(self, client_id=None, clean=True, keepalive=60, properties=b"\x00", will=None,
                 expect_rc=0, **kw):
        """Sends CONNECT, returns (session present, props) of the CONNACK."""
        if client_id is None:
            client_id = uid("raw5")
        self.send(connect5_pkt(client_id, clean, keepalive, properties, will, **kw))
        sp, rc, pr = connack5(self.expect("CONNACK"))
        assert rc == expect_rc, "CONNACK 0x%02x, expected 0x%02x (%r)" % (rc, expect_rc, pr)
        return sp, pr

    def expect_disconnect(self, rc, timeout=T):
        """The broker sends DISCONNECT rc, then closes; returns its props."""
        from conftest import assert_closed_by_broker
        got, pr = disconnect5(self.expect("DISCONNECT", timeout))
        assert got == rc, "DISCONNECT 0x%02x, expected 0x%02x (%r)" % (got, rc, pr)
        assert_closed_by_broker(self, timeout)
        return pr


def pub5(p):
    """(topic, packet id, props, payload) of a 5.0 PUBLISH."""
    assert p.name == "PUBLISH", p
    tl = struct.unpack("!H", p.body[:2])[0]
    i = 2 + tl
    pid = None
    if p.qos:
        pid = struct.unpack("!H", p.body[i:i + 2])[0]
        i += 2
    pr, i = parse_props(p.body, i)
    return p.body[2:2 + tl].decode(), pid, pr, p.body[i:]


class C5(Raw5):
    """A connected 5.0 raw client with the calls the message tests repeat."""

    def __init__(self, port, client_id=None, **kw):
        super().__init__(port)
        self.session_present, self.connack = self.connect5(client_id, **kw)

    def sub(self, filters, pid=1, properties=b"\x00"):
        """filters: [(filter, options byte)] -> SUBACK codes."""
        self.send(subscribe5_pkt(pid, filters, properties))
        got_pid, _, codes = suback5(self.expect("SUBACK"))
        assert got_pid == pid
        return codes

    def pub(self, topic, payload=b"", qos=0, retain=False, pid=1, properties=b"\x00"):
        """Publishes; returns the PUBACK/PUBREC reason code (None at QoS 0)."""
        self.send(publish5_pkt(topic, payload, qos, retain, pid, properties))
        if qos == 0:
            return None
        # deliveries to this client may come first: stashed for get()
        got_pid, rc, _ = ack5(self._expect_ack("PUBACK" if qos == 1 else "PUBREC", pid))
        if qos == 2 and rc < 0x80:
            self.send(ack5_pkt("PUBREL", pid))
            assert ack5(self._expect_ack("PUBCOMP", pid))[:2] == (pid, 0)
        return rc

    def get(self, timeout=T, ack=True):
        """The next PUBLISH, acknowledged when QoS 1 (and ack) -> (topic,
        props, payload, packet)."""
        p = self.expect("PUBLISH", timeout)
        topic, pid, pr, payload = pub5(p)
        if p.qos == 1 and ack:
            self.send(ack5_pkt("PUBACK", pid))
        return topic, pr, payload, p


def paho5(port, topic, sub_props=None, qos=1):
    """A paho-mqtt MQTTv5 client subscribed to topic: (client, messages
    list). The caller stops it (loop_stop, disconnect)."""
    import paho.mqtt.client as mqtt
    got, done = [], []
    c = mqtt.Client(client_id=uid("paho5"), protocol=mqtt.MQTTv5)
    c.on_message = lambda cl, ud, m: got.append(m)
    c.on_subscribe = lambda *a: done.append(1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(topic, qos=qos, properties=sub_props)
    assert wait_until(lambda: done, T)
    return c, got
