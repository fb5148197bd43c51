"""91: a connection's messages while their durable writes are pending
(cluster mode, Redis stopped with SIGSTOP: the link stays up, nothing
answers), from raw sockets.

- A QoS 2 PUBLISH resent (DUP) while the first copy's writes are pending
  gets its PUBREC only after them, like the first: it was answered at once
  (review bug), before the message was durable. Nothing is delivered twice.
- A QoS 2 PUBLISH whose durable writes failed (too few replicas for
  --redis-min-replicas) is delivered when the client sends it again on the
  broker that resumes its session: its packet id stayed recorded and the
  resend was taken for a copy already delivered (review bug).
- A QoS 0 flood into a retained topic: at 1024 writes in flight the broker
  stops reading that connection (roost_broker_write_backpressure_total)
  instead of holding an op and a message per PUBLISH without bound; once
  Redis answers, every message is taken, in order, nothing dropped."""

import signal
import socket
import struct
import time

from ports import free_port
from stack import http_get, parse_metrics, stack, wait_for  # noqa: F401  (stack: fixture)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def remaining(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def connect(port, client_id, clean=True, present=0):
    body = utf8("MQTT") + bytes([4, 0x02 if clean else 0x00]) + struct.pack("!H", 60) + utf8(client_id)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(bytes([0x10]) + remaining(len(body)) + body)
    assert recv_exact(s, 4) == bytes([0x20, 0x02, present, 0x00])
    return s


def publish(topic, payload, qos=0, pid=0, dup=False, retain=False):
    body = utf8(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return bytes([first]) + remaining(len(body)) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_packet(s):
    """(first byte, body) of the next packet."""
    first = recv_exact(s, 1)[0]
    n, mult = 0, 1
    while True:
        d = recv_exact(s, 1)[0]
        n += (d & 0x7F) * mult
        mult *= 128
        if not d & 0x80:
            break
    return first, recv_exact(s, n)


def subscribe(s, topic, qos=0):
    body = struct.pack("!H", 1) + utf8(topic) + bytes([qos])
    s.sendall(bytes([0x82]) + remaining(len(body)) + body)
    first, _ = read_packet(s)
    assert first == 0x90


def metrics(port):
    status, text = http_get(port, "/metrics")
    assert status == 200, text
    return parse_metrics(text)


def test_qos2_resend_waits_for_the_first_copys_writes(stack):
    stack.start_redis()
    b = stack.start_broker(cluster=True, insecure=True)
    sub = connect(b.port, "q2-sub")
    subscribe(sub, "q/t", 2)
    dev = connect(b.port, "q2-dev", clean=False)  # persistent: its QoS 2 ids are written to Redis
    redis = stack.redis.proc
    redis.send_signal(signal.SIGSTOP)
    try:
        dev.sendall(publish("q/t", b"once", qos=2, pid=7))
        dev.sendall(publish("q/t", b"once", qos=2, pid=7, dup=True))
        dev.settimeout(1.0)
        try:
            early = read_packet(dev)
        except socket.timeout:
            early = None
        assert early is None, "PUBREC before Redis has the message: %r" % (early,)
    finally:
        redis.send_signal(signal.SIGCONT)
    dev.settimeout(10)
    assert read_packet(dev) == (0x50, b"\x00\x07")  # the first copy's PUBREC
    assert read_packet(dev) == (0x50, b"\x00\x07")  # the resend's, after it
    dev.sendall(b"\x62\x02\x00\x07")  # PUBREL
    assert read_packet(dev) == (0x70, b"\x00\x07")  # PUBCOMP
    sub.settimeout(5)
    first, body = read_packet(sub)
    assert first & 0xF0 == 0x30 and body.endswith(b"once")
    if first & 0x06:  # QoS 1/2 to the subscriber: finish its flow
        pid = body[2 + 3:2 + 3 + 2]
        sub.sendall((b"\x40\x02" if first & 0x06 == 0x02 else b"\x50\x02") + pid)
        if first & 0x06 == 0x04:
            assert read_packet(sub)[0] == 0x62
            sub.sendall(b"\x70\x02" + pid)
    sub.settimeout(1.0)
    try:
        again = read_packet(sub)
    except socket.timeout:
        again = None
    assert again is None or again[0] & 0xF0 != 0x30, "delivered twice: %r" % (again,)


def test_flood_into_a_retained_topic_pauses_at_the_high_water_mark(stack):
    stack.start_redis()
    http = free_port()
    b = stack.start_broker(cluster=True, insecure=True, extra=("--http-port", str(http)))
    assert metrics(http)["roost_broker_write_backpressure_total"] == 0
    dev = connect(b.port, "flooder")
    n = 3000
    redis = stack.redis.proc
    redis.send_signal(signal.SIGSTOP)
    try:
        dev.sendall(b"".join(publish("r/flood", b"%d" % i, retain=True) for i in range(n)))
        # it reads up to the mark, then stops reading: the rest stays in the socket
        assert wait_for(lambda: metrics(http)["roost_broker_write_backpressure_total"] == 1, timeout=10)
        time.sleep(0.5)
        m = metrics(http)
        assert m["roost_broker_messages_received_total"] == 1024, m
    finally:
        redis.send_signal(signal.SIGCONT)
    assert wait_for(lambda: metrics(http)["roost_broker_messages_received_total"] == n, timeout=20), metrics(http)
    assert metrics(http)["roost_broker_store_failures_total"] == 0
    # the last one is the retained message: every write went through, in order
    late = connect(b.port, "late")
    subscribe(late, "r/flood")
    late.settimeout(5)
    first, body = read_packet(late)
    assert first == 0x31 and body == utf8("r/flood") + b"%d" % (n - 1), (first, body)
    assert "AddressSanitizer" not in b.log() and "runtime error" not in b.log()


def test_qos2_whose_writes_failed_is_delivered_when_resent_elsewhere(stack):
    """A QoS 2 PUBLISH whose durable writes fail (here WAIT finds fewer
    replicas than --redis-min-replicas asks) gets no PUBREC and the
    connection is closed; its packet id must not stay recorded, or the
    client's resend, on the broker that resumes its session, is taken for a
    copy already delivered: PUBREC, and the message is lost (review bug)."""
    stack.start_redis()
    strict = stack.start_broker(cluster=True, insecure=True,
                                extra=("--redis-min-replicas", "1", "--redis-wait-timeout-ms", "200"))
    other = stack.start_broker(cluster=True, insecure=True)
    sub = connect(other.port, "q2f-sub")
    subscribe(sub, "q2f/t", 2)
    dev = connect(strict.port, "q2f-dev", clean=False)
    dev.sendall(publish("q2f/t", b"exactly-once", qos=2, pid=9))
    dev.settimeout(5)
    try:
        answer = read_packet(dev)
    except ConnectionError:
        answer = None
    assert answer is None, "acknowledged without the replica: %r" % (answer,)
    dev.close()
    dev = connect(other.port, "q2f-dev", clean=False, present=1)  # the session resumes on the other broker
    dev.sendall(publish("q2f/t", b"exactly-once", qos=2, pid=9, dup=True))
    dev.settimeout(10)
    assert read_packet(dev) == (0x50, b"\x00\x09")
    dev.sendall(b"\x62\x02\x00\x09")  # PUBREL
    assert read_packet(dev) == (0x70, b"\x00\x09")
    sub.settimeout(5)
    first, body = read_packet(sub)
    assert first & 0xF0 == 0x30 and body.endswith(b"exactly-once"), (first, body)


def test_store_failure_is_said_to_a_5_0_client(stack):
    """A PUBLISH whose durable writes fail is not acknowledged and the
    connection ends; a 5.0 client is told why first: DISCONNECT 0x89 Server
    busy (0x88 is for CONNACK only), so it tries again."""
    from mqtt5 import SESSION_EXPIRY, Raw5, props, publish5_pkt
    stack.start_redis()
    b = stack.start_broker(cluster=True, insecure=True,
                           extra=("--redis-min-replicas", "1", "--redis-wait-timeout-ms", "200"))
    c = Raw5(b.port)
    c.connect5("busy-dev", clean=False, properties=props((SESSION_EXPIRY, 60)))
    c.send(publish5_pkt("busy/t", b"x", qos=2, pid=3))  # its packet id is written to Redis
    c.expect_disconnect(0x89)
