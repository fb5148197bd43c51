"""Raw MQTT for the integration tests: packet builders (3.1.1 bytes, exact),
a socket client that reads whole packets with timeouts (RawClient), the
suite's default timeout T and uid() for client ids and topics. conftest.py
re-exports all of it, so tests import these names from conftest."""

import socket
import struct
import time
import uuid

# Default timeout for any single wait in the suite.
T = 5.0


def uid(prefix="t"):
    """A short unique string for client ids and topics."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def h(s):
    """bytes from a hex string; spaces are ignored."""
    return bytes.fromhex("".join(s.split()))


def enc_len(n):
    """Remaining Length, variable byte integer [MQTT-2.2.3]."""
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def enc_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!H", len(s)) + s


def packet(first_byte, body=b""):
    return bytes([first_byte]) + enc_len(len(body)) + body


def connect_pkt(client_id="", clean=True, keepalive=60, will=None, username=None,
                password=None, proto_name="MQTT", proto_level=4, flags=None, properties=b""):
    """CONNECT. will = (topic, payload, qos, retain) or None; 5.0 (mqtt5.py):
    will may carry its property list fifth, and properties is the CONNECT's
    (both encoded). flags overrides the computed connect-flags byte (for
    malformed cases)."""
    f = 0
    if clean:
        f |= 0x02
    payload = enc_str(client_id)
    if will is not None:
        wt, wp, wq, wr = will[:4]
        f |= 0x04 | (wq << 3) | (0x20 if wr else 0)
        payload += (will[4] if len(will) > 4 else b"") + enc_str(wt) + enc_str(wp)
    if username is not None:
        f |= 0x80
        payload += enc_str(username)
    if password is not None:
        f |= 0x40
        payload += enc_str(password)
    if flags is not None:
        f = flags
    vh = enc_str(proto_name) + bytes([proto_level, f]) + struct.pack("!H", keepalive) + properties
    return packet(0x10, vh + payload)


def publish_pkt(topic, payload=b"", qos=0, retain=False, dup=False, pid=None):
    if isinstance(payload, str):
        payload = payload.encode()
    fb = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = enc_str(topic)
    if qos > 0:
        body += struct.pack("!H", pid if pid is not None else 1)
    return packet(fb, body + payload)


def subscribe_pkt(pid, filters, flags=0x02):
    """filters: list of (filter, qos)."""
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += enc_str(f) + bytes([q])
    return packet(0x80 | flags, body)


def unsubscribe_pkt(pid, filters, flags=0x02):
    body = struct.pack("!H", pid)
    for f in filters:
        body += enc_str(f)
    return packet(0xA0 | flags, body)


def ack_pkt(kind, pid):
    """kind in PUBACK, PUBREC, PUBREL, PUBCOMP."""
    fb = {"PUBACK": 0x40, "PUBREC": 0x50, "PUBREL": 0x62, "PUBCOMP": 0x70}[kind]
    return packet(fb, struct.pack("!H", pid))


PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"
DISCONNECT = b"\xe0\x00"

TYPE_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
              7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
              12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}


class Packet:
    """One decoded packet as received from the broker."""

    def __init__(self, first, body):
        self.first = first
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body
        self.raw = bytes([first]) + enc_len(len(body)) + body

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "type%d" % self.type)

    # PUBLISH fields
    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def dup(self):
        return bool(self.flags & 0x08)

    @property
    def retain(self):
        return bool(self.flags & 0x01)

    def _pub(self):
        assert self.type == 3, "not a PUBLISH: %r" % self
        tl = struct.unpack("!H", self.body[:2])[0]
        topic = self.body[2:2 + tl].decode("utf-8")
        rest = self.body[2 + tl:]
        pid = None
        if self.qos > 0:
            pid = struct.unpack("!H", rest[:2])[0]
            rest = rest[2:]
        return topic, pid, rest

    @property
    def topic(self):
        return self._pub()[0]

    @property
    def payload(self):
        return self._pub()[2]

    @property
    def pid(self):
        """Packet identifier of PUBLISH (qos>0), acks, SUBACK, UNSUBACK."""
        if self.type == 3:
            return self._pub()[1]
        return struct.unpack("!H", self.body[:2])[0]

    def __repr__(self):
        return "<%s flags=%x body=%s>" % (self.name, self.flags, self.body.hex())


class ConnectionClosed(Exception):
    pass


class RawClient:
    """A raw TCP MQTT client: send exact bytes, read exact packets with timeouts."""

    def __init__(self, port, timeout=T):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.port = port
        # PUBLISHes that arrived while publish() waited for its own acks;
        # recv_packet() returns these first, in arrival order.
        self.stash = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = h(data)
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for %d bytes (have %r)" % (n, self.buf))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed("closed by peer with %d bytes buffered (%r)" % (len(self.buf), self.buf))
            self.buf += chunk

    def read_exact(self, n, timeout=T):
        self._fill(n, time.monotonic() + timeout)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_packet(self, timeout=T):
        """Read one whole packet. Raises socket.timeout or ConnectionClosed."""
        if self.stash:
            return self.stash.pop(0)
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        i, mult, length = 1, 1, 0
        while True:
            self._fill(i + 1, deadline)
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            assert i <= 4, "broker sent a remaining length over 4 bytes"
        self._fill(i + length, deadline)
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return Packet(first, body)

    def expect(self, name, timeout=T):
        p = self.recv_packet(timeout)
        assert p.name == name, "expected %s, got %r" % (name, p)
        return p

    def expect_bytes(self, data, timeout=T):
        if isinstance(data, str):
            data = h(data)
        got = self.read_exact(len(data), timeout)
        assert got == data, "expected %s, got %s" % (data.hex(), got.hex())

    def no_packet(self, window=0.5):
        """Assert nothing arrives for `window` seconds (connection stays open)."""
        try:
            p = self.recv_packet(window)
        except socket.timeout:
            return
        raise AssertionError("unexpected packet %r" % p)

    # conveniences ----------------------------------------------------------
    def connect(self, client_id=None, clean=True, keepalive=60, will=None, expect_rc=0, **kw):
        if client_id is None:
            client_id = uid("raw")
        self.send(connect_pkt(client_id, clean, keepalive, will, **kw))
        p = self.expect("CONNACK")
        assert len(p.body) == 2, "CONNACK remaining length must be 2: %r" % p
        assert p.flags == 0, "CONNACK fixed header flags must be 0: %r" % p
        assert p.body[1] == expect_rc, "CONNACK return code %d, expected %d" % (p.body[1], expect_rc)
        return p.body[0] & 1  # session present

    def subscribe(self, filters, pid=1):
        if isinstance(filters, str):
            filters = [(filters, 0)]
        self.send(subscribe_pkt(pid, filters))
        p = self.expect("SUBACK")
        assert p.pid == pid
        return list(p.body[2:])

    def _expect_ack(self, name, pid, timeout=T):
        """Wait for an ack, stashing PUBLISHes (deliveries) that come first."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._recv_wire(max(0.01, deadline - time.monotonic()))
            if p.name == "PUBLISH":
                self.stash.append(p)
                continue
            assert (p.name, p.pid) == (name, pid), "expected %s %d, got %r" % (name, pid, p)
            return p

    def _recv_wire(self, timeout):
        stash, self.stash = self.stash, []
        try:
            return self.recv_packet(timeout)
        finally:
            self.stash = stash + self.stash

    def publish(self, topic, payload=b"", qos=0, retain=False, pid=1):
        """Publish and complete the client->broker QoS flow. Deliveries that
        arrive meanwhile are kept for the next recv_packet()/expect()."""
        self.send(publish_pkt(topic, payload, qos, retain, pid=pid))
        if qos == 1:
            self._expect_ack("PUBACK", pid)
        elif qos == 2:
            self._expect_ack("PUBREC", pid)
            self.send(ack_pkt("PUBREL", pid))
            self._expect_ack("PUBCOMP", pid)

    def ack(self, p):
        """Acknowledge a received PUBLISH fully (QoS 1 or 2)."""
        if p.qos == 1:
            self.send(ack_pkt("PUBACK", p.pid))
        elif p.qos == 2:
            self.send(ack_pkt("PUBREC", p.pid))
            self._expect_ack("PUBREL", p.pid)
            self.send(ack_pkt("PUBCOMP", p.pid))

    def ping(self):
        self.send(PINGREQ)
        self.expect_bytes(PINGRESP)


def assert_closed_by_broker(c, timeout=T, allow=None):
    """Assert the broker closes the connection within `timeout` seconds.

    Packets received before the close are allowed only if `allow(packet)` is
    true (e.g. a CONNACK with a refusal code); by default any packet fails.
    Returns the elapsed time and the packets seen."""
    start = time.monotonic()
    deadline = start + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open after %.1fs (got %r)" % (timeout, seen))
        try:
            p = c.recv_packet(left)
        except ConnectionClosed:
            return time.monotonic() - start, seen
        except socket.timeout:
            continue
        except OSError:  # ECONNRESET etc. also mean the broker closed it
            return time.monotonic() - start, seen
        seen.append(p)
        if allow is None or not allow(p):
            raise AssertionError("unexpected packet before close: %r" % p)


def open_raw(port, **kw):
    return RawClient(port, **kw)
