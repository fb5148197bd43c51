"""MQTT 5.0 refusals for the broker's limits and a 5.0-only CONNECT form
(issue 15): --max-connect-rate answers 0x9F Connection rate exceeded,
--max-connections 0x97 Quota exceeded (3.1.1 gets CONNACK 3 for both); a
Password without a User Name is legal in 5.0 (3.1.2.9) and malformed in
3.1.1; with authd allowing anonymous devices it is an anonymous CONNECT.
Normative statements of MQTT 5.0 are cited as [MQTT-x.x.x-y]."""

import pytest

from conftest import RawClient, assert_closed_by_broker, connect_pkt, uid, wait_until
from mqtt5 import Raw5, connack5, connect5_pkt, disconnect5_pkt
from stack import stack  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.roost_only


def refused5(port, **kw):
    with Raw5(port) as c:
        c.send(connect5_pkt(uid("l5"), **kw))
        sp, rc, _ = connack5(c.expect("CONNACK"))
        assert sp == 0
        assert_closed_by_broker(c)
        return rc


def test_connect_rate_0x9f(broker_factory):
    """Over --max-connect-rate: CONNACK 0x9F for 5.0, 3 for 3.1.1; each is
    closed [MQTT-3.2.2-7]."""
    b = broker_factory(max_connect_rate=2)
    codes = []
    for _ in range(6):
        with Raw5(b.port) as c:
            c.send(connect5_pkt(uid("r")))
            codes.append(connack5(c.expect("CONNACK"))[1])
    assert 0x9F in codes and codes[0] == 0
    assert set(codes) <= {0, 0x9F}
    with RawClient(b.port) as c:
        for _ in range(4):
            c2 = RawClient(b.port)
            c2.send(connect_pkt(uid("r4")))
            p = c2.expect("CONNACK")
            c2.close()
            if p.body[1]:
                assert p.body == b"\x00\x03"
                break
        else:
            pytest.fail("3.1.1 CONNECTs were never held to the rate")


def test_max_connections_0x97(broker_factory):
    """Over --max-connections: 0x97 Quota exceeded."""
    b = broker_factory(max_connections=1)
    # the start-up probe's socket counts until the broker has closed it
    assert wait_until(lambda: "event=conn_closed" in b.log())
    with Raw5(b.port) as first:
        first.connect5(uid("one"))
        assert refused5(b.port) == 0x97
        first.send(disconnect5_pkt())


def test_password_without_username(broker):
    """5.0 allows a Password with no User Name (3.1.2.9); 3.1.1 does not
    [MQTT-3.1.2-22] of 3.1.1: the connection is closed without CONNACK."""
    with Raw5(broker.port) as c:
        c.send(connect5_pkt(uid("pw"), password=b"secret"))
        assert connack5(c.expect("CONNACK"))[1] == 0
    with RawClient(broker.port) as c:
        c.send(connect_pkt(uid("pw4"), flags=0x42) + b"\x00\x06secret")
        assert_closed_by_broker(c)


def test_password_without_username_with_authd(stack):
    """With authd allowing anonymous devices, a 5.0 CONNECT with a password
    and no user name is anonymous (accepted); refused as not authorized
    (0x87) when anonymous devices are not allowed."""
    stack.start_redis()
    stack.start_admin()
    anon = stack.start_authd(allow_anonymous=True)
    closed = stack.start_authd()
    b1 = stack.start_broker("b1", authd=anon)
    b2 = stack.start_broker("b2", authd=closed)
    with Raw5(b1.port) as c:
        c.send(connect5_pkt(uid("pa"), password=b"secret"))
        assert connack5(c.expect("CONNACK"))[1] == 0
    assert refused5(b2.port, password=b"secret") == 0x87


def test_cluster_too_large_queued_message_is_acknowledged(stack):
    """Cluster: a message queued in Redis for an offline 5.0 session that is
    larger than the Maximum Packet Size the client sets when it comes back
    is not sent [MQTT-3.1.2-24] and counts as delivered [MQTT-3.1.2-25]:
    its queue entry is acknowledged in Redis like a PUBACK'd one, so it is
    not kept (and not resent) forever."""
    from mqtt5 import MAXIMUM_PACKET_SIZE, SESSION_EXPIRY, props, publish5, publish5_pkt, \
        subscribe5_pkt, ack5_pkt
    from stack import wait_for
    stack.start_redis()
    b = stack.start_broker("b1", insecure=True, cluster=True)
    assert wait_for(lambda: "event=psubs_loaded" in b.log(), 10)
    cid, t = uid("big"), uid("big/t")
    with Raw5(b.port) as c:
        c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 60)))
        c.send(subscribe5_pkt(1, [(t, 1)]))
        c.expect("SUBACK")
        c.send(disconnect5_pkt())
    with Raw5(b.port) as p:
        p.connect5(uid("bigp"))
        for i, n in enumerate((300, 10)):
            p.send(publish5_pkt(t, b"%d" % i + b"x" * n, qos=1, pid=i + 1))
            p.expect("PUBACK")
    qkey = "roost:q:{c:%s}" % cid
    assert stack.redis_cli("LLEN", qkey) == "2"
    with Raw5(b.port) as c:
        sp, _ = c.connect5(cid, clean=False,
                           properties=props((SESSION_EXPIRY, 60), (MAXIMUM_PACKET_SIZE, 100)))
        assert sp == 1
        m = c.expect("PUBLISH")
        assert publish5(m)[2][:1] == b"1"
        c.send(ack5_pkt("PUBACK", m.pid))
        c.no_packet(0.3)
        assert wait_for(lambda: stack.redis_cli("LLEN", qkey) == "0", 5), stack.redis_cli("LLEN", qkey)
        c.send(disconnect5_pkt())
