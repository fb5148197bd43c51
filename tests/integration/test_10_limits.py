"""10 limits: --max-connections, --max-queued."""

from conftest import (DISCONNECT, IS_MOSQUITTO, RawClient, ack_pkt, assert_closed_by_broker,
                      connect_pkt, uid, wait_until)


def refused(p):
    # a CONNACK "server unavailable" (3) before the close is allowed
    return p.name == "CONNACK" and p.body[1:] == b"\x03"


def test_max_connections(broker_factory):
    b = broker_factory(max_connections=3)
    held = []
    for _ in range(3):
        c = RawClient(b.port)
        c.connect()
        held.append(c)
    extra = RawClient(b.port)
    try:
        extra.send(connect_pkt(uid("extra")))
    except OSError:
        pass  # refused before we could even write
    assert_closed_by_broker(extra, allow=refused)
    extra.close()
    for c in held:
        c.ping()  # the admitted ones are untouched
    held[0].send(DISCONNECT)
    assert_closed_by_broker(held[0])
    held[0].close()

    def can_connect():
        c = RawClient(b.port)
        try:
            c.send(connect_pkt(uid("again")))
            p = c.recv_packet()
            ok = p.name == "CONNACK" and p.body[1] == 0
        except OSError:
            ok = False
        c.close()
        return ok
    assert wait_until(can_connect, 5, 0.1), "a freed slot was not reusable"
    for c in held[1:]:
        c.close()


def test_max_queued_drops_beyond_limit_for_offline_session(broker_factory):
    """--max-queued 5: an offline persistent session keeps the first 5 QoS 1
    messages; the rest are dropped (not delivered on resume)."""
    n = 5
    b = broker_factory(max_queued=n)
    cid, t = uid("mq"), uid("mq-t")
    c = RawClient(b.port)
    c.connect(cid, clean=False)
    c.subscribe([(t, 1)])
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c.close()
    pub = RawClient(b.port)
    pub.connect()
    for i in range(12):
        pub.publish(t, b"m%02d" % i, qos=1, pid=i + 1)
    pub.close()
    c = RawClient(b.port)
    assert c.connect(cid, clean=False) == 1
    got = []
    for _ in range(20):  # bounded
        try:
            p = c.recv_packet(1.0)
        except OSError:
            break
        assert p.name == "PUBLISH"
        got.append(p.payload)
        c.send(ack_pkt("PUBACK", p.pid))
    assert got == [b"m%02d" % i for i in range(n)], got
    c.close()
