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
  Redis answers, every message is taken, in order, nothing dropped.
- A CONNECT refused because Redis cannot take its lease is logged as a
  store failure, one that a newer CONNECT for its client id overtook while
  its lease was pending as superseded (both were "auth_unavailable", with
  no authd at all).
- A PUBREL for a packet id the broker does not hold writes nothing to
  Redis: each one cost an SREM (review bug), so a client could make the
  broker write to Redis at will. A held id is still deleted, also one
  read back from Redis when the session resumes on another broker."""

import select
import signal
import socket
import threading
import time

from conftest import ConnectionClosed, RawClient, connect_pkt, enc_str, publish_pkt, subscribe_pkt
from ports import free_port
from stack import http_get, parse_metrics, stack, wait_for  # noqa: F401  (stack: fixture)


def connect(port, client_id, clean=True, present=0):
    c = RawClient(port)
    c.send(connect_pkt(client_id, clean=clean))
    assert c.expect("CONNACK").body == bytes([present, 0])
    return c


def subscribe(c, topic, qos=0):
    c.send(subscribe_pkt(1, [(topic, qos)]))
    c.expect("SUBACK")


def read_packet(c, timeout):
    """(first byte, body) of the next packet; None when none comes in time
    or the broker closes the connection."""
    try:
        p = c.recv_packet(timeout)
    except (socket.timeout, ConnectionClosed):
        return None
    return p.first, p.body


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
        dev.send(publish_pkt("q/t", b"once", qos=2, pid=7))
        dev.send(publish_pkt("q/t", b"once", qos=2, pid=7, dup=True))
        early = read_packet(dev, 1.0)
        assert early is None, "PUBREC before Redis has the message: %r" % (early,)
    finally:
        redis.send_signal(signal.SIGCONT)
    assert read_packet(dev, 10) == (0x50, b"\x00\x07")  # the first copy's PUBREC
    assert read_packet(dev, 10) == (0x50, b"\x00\x07")  # the resend's, after it
    dev.send(b"\x62\x02\x00\x07")  # PUBREL
    assert read_packet(dev, 10) == (0x70, b"\x00\x07")  # PUBCOMP
    first, body = read_packet(sub, 5)
    assert first & 0xF0 == 0x30 and body.endswith(b"once")
    if first & 0x06:  # QoS 1/2 to the subscriber: finish its flow
        pid = body[2 + 3:2 + 3 + 2]
        sub.send((b"\x40\x02" if first & 0x06 == 0x02 else b"\x50\x02") + pid)
        if first & 0x06 == 0x04:
            assert read_packet(sub, 5)[0] == 0x62
            sub.send(b"\x70\x02" + pid)
    again = read_packet(sub, 1.0)
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
        dev.send(b"".join(publish_pkt("r/flood", b"%d" % i, retain=True) for i in range(n)))
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
    first, body = read_packet(late, 5)
    assert first == 0x31 and body == enc_str("r/flood") + b"%d" % (n - 1), (first, body)
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
    dev.send(publish_pkt("q2f/t", b"exactly-once", qos=2, pid=9))
    answer = read_packet(dev, 5)
    assert answer is None, "acknowledged without the replica: %r" % (answer,)
    dev.close()
    dev = connect(other.port, "q2f-dev", clean=False, present=1)  # the session resumes on the other broker
    dev.send(publish_pkt("q2f/t", b"exactly-once", qos=2, pid=9, dup=True))
    assert read_packet(dev, 10) == (0x50, b"\x00\x09")
    dev.send(b"\x62\x02\x00\x09")  # PUBREL
    assert read_packet(dev, 10) == (0x70, b"\x00\x09")
    first, body = read_packet(sub, 5)
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



class Monitor:
    """The rx2 set commands Redis runs (MONITOR on a socket of our own), as
    (command, packet id)."""

    def __init__(self, stack, key):
        self.key = '"%s"' % key
        self.sock = socket.create_connection(("127.0.0.1", stack.redis.port), timeout=10)
        self.sock.sendall(b"MONITOR\r\n")
        self.f = self.sock.makefile("rb")
        assert self.f.readline() == b"+OK\r\n"
        self.seen = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for line in self.f:  # +<time> [<db> <client>] "CMD" "arg" ...
                w = line.decode("utf-8", "replace").split()
                if len(w) >= 6 and w[-2] == self.key and w[-3] in ('"SADD"', '"SREM"'):
                    self.seen.append((w[-3].strip('"'), int(w[-1].strip('"'))))
        except (OSError, ValueError):
            pass  # closed

    def until(self, cmd, pid):
        """All Redis ran before this command (MONITOR keeps their order)."""
        assert wait_for(lambda: (cmd, pid) in self.seen, timeout=10), self.seen
        return self.seen[:self.seen.index((cmd, pid))]

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def qos2_round(dev, pid):
    """A QoS 2 PUBLISH to its PUBREC (its id written to Redis first)."""
    dev.send(publish_pkt("rel/t", b"x", qos=2, pid=pid))
    assert read_packet(dev, 10) == (0x50, pid.to_bytes(2, "big"))


def pubrel(dev, pid):
    dev.send(b"\x62\x02" + pid.to_bytes(2, "big"))
    assert read_packet(dev, 10) == (0x70, pid.to_bytes(2, "big"))  # PUBCOMP, held or not (3.1.1)


def test_pubrel_for_an_id_not_held_writes_nothing(stack):
    stack.start_redis()
    a = stack.start_broker(cluster=True, insecure=True)
    b = stack.start_broker(cluster=True, insecure=True)
    key = stack.prefix + "rx2:{c:rel-dev}"
    mon = Monitor(stack, key)
    try:
        dev = connect(a.port, "rel-dev", clean=False)  # persistent: its QoS 2 ids are written to Redis
        qos2_round(dev, 1)
        for pid in (2, 3, 4):  # never published: not held
            pubrel(dev, pid)
        qos2_round(dev, 5)
        pubrel(dev, 5)  # held: deleted here and in Redis
        qos2_round(dev, 6)
        # (the SADD of 6 was sent after every PUBREL above was handled)
        assert mon.until("SADD", 6) == [("SADD", 1), ("SADD", 5), ("SREM", 5)]
        dev.close()
        # the session resumes on b: id 1, read back from Redis, is held there
        dev = connect(b.port, "rel-dev", clean=False, present=1)
        pubrel(dev, 1)
        pubrel(dev, 7)  # not held
        qos2_round(dev, 8)
        assert mon.until("SADD", 8)[3:] == [("SADD", 6), ("SREM", 1)]
        assert sorted(stack.redis_cli("SMEMBERS", key).split()) == ["6", "8"]
    finally:
        mon.close()


def test_connect_refused_for_the_store_is_logged_as_such(stack):
    """A CONNECT refused because Redis cannot take its session's lease is
    logged as a store failure, not as "auth_unavailable" (review bug: every
    refusal for a dependency was, authd or not; this broker has none)."""
    stack.start_redis()
    b = stack.start_broker(cluster=True, insecure=True)
    stack.redis.kill()
    c = RawClient(b.port)
    c.send(connect_pkt("st-dev", clean=False))
    assert c.expect("CONNACK").body == b"\x00\x03"
    assert wait_for(lambda: " reason=store_unavailable\n" in b.log(), timeout=10), b.log()[-3000:]
    assert "packet=CONNECT rc=-5050 " in b.log()  # ROOST_ESTORE_UNAVAILABLE
    assert "auth_unavailable" not in b.log()



def test_connect_overtaken_while_its_lease_is_pending_is_logged_as_such(stack):
    stack.start_redis()
    b = stack.start_broker(cluster=True, insecure=True)
    redis = stack.redis.proc
    redis.send_signal(signal.SIGSTOP)
    try:
        # two CONNECTs for one id while Redis holds their lease takes: the
        # one the broker read second wins, the other is refused at once
        a, c = RawClient(b.port), RawClient(b.port)
        a.send(connect_pkt("sup-dev", clean=False))
        c.send(connect_pkt("sup-dev", clean=False))
        ready, _, _ = select.select([a.sock, c.sock], [], [], 10)
        assert len(ready) == 1, ready
        loser, winner = (a, c) if ready[0] is a.sock else (c, a)
        assert loser.expect("CONNACK").body == b"\x00\x03"
    finally:
        redis.send_signal(signal.SIGCONT)
    assert winner.expect("CONNACK").body == b"\x00\x00"
    assert " reason=superseded\n" in b.log()
    assert "auth_unavailable" not in b.log()
