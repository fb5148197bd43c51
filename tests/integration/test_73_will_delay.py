"""MQTT 5.0 wills (issue 15): Will Delay Interval, will properties, and the
will's Payload Format Indicator. A will is published after the Will Delay
Interval or when the session ends, whichever comes first [MQTT-3.1.2-8],
and not at all when the client connects again within the delay
[MQTT-3.1.3-9], also when that connection lands on another broker of the
cluster. Normative statements of MQTT 5.0 are cited as [MQTT-x.x.x-y]."""

import socket
import time

import pytest

from conftest import assert_closed_by_broker, uid
from mqtt5 import (CONTENT_TYPE, MESSAGE_EXPIRY, PAYLOAD_FORMAT, SESSION_EXPIRY,
                   USER_PROPERTY, WILL_DELAY, Raw5, connack5, connect5_pkt, disconnect5_pkt,
                   props, publish5, subscribe5_pkt)
from stack import stack, wait_for  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.roost_only


def watcher(port, topic):
    w = Raw5(port)
    w.connect5(uid("watch"))
    w.send(subscribe5_pkt(1, [(topic, 0)]))
    w.expect("SUBACK")
    return w


def will_client(port, cid, topic, delay, expiry=60, extra=()):
    """A 5.0 client with a will on topic (Will Delay `delay`) and a session
    of `expiry` seconds; returns it connected."""
    c = Raw5(port)
    c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, expiry)),
               will=(topic, b"offline", 0, False, props((WILL_DELAY, delay), *extra)))
    return c


def drop(c):
    """Ends the connection without DISCONNECT (the will is due)."""
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()



@pytest.mark.parametrize("rc,published", [(0x00, False), (0x04, True), (0x80, True), (0x83, True)])
def test_disconnect_reason_decides_the_will(broker, rc, published):
    """Only DISCONNECT with 0x00 Normal disconnection removes the will
    [MQTT-3.1.2-10]; 0x04 asks for it and an error code (0x80, 0x83) leaves it
    to be published as if the connection had dropped (3.14.2.1)."""
    t = uid("wr")
    w = watcher(broker.port, t)
    c = will_client(broker.port, uid("wr"), t, 0, expiry=0)
    c.send(disconnect5_pkt(rc))
    if published:
        assert publish5(w.expect("PUBLISH", 5))[2] == b"offline"
    else:
        w.no_packet(1.0)
    c.close()
    w.close()


@pytest.mark.parametrize("clean,published", [(False, False), (True, True)])
def test_takeover_with_clean_start_publishes_a_delayed_will(broker, clean, published):
    """Taken over within the Will Delay: a Clean Start 0 CONNECT resumes the
    session and the will is not sent; a Clean Start 1 CONNECT ends the
    session, so the will is sent at once (3.1.2.5)."""
    t, cid = uid("wt"), uid("wt")
    w = watcher(broker.port, t)
    old = will_client(broker.port, cid, t, 30)
    new = Raw5(broker.port)
    new.connect5(cid, clean=clean, properties=props((SESSION_EXPIRY, 60)))
    if published:
        assert publish5(w.expect("PUBLISH", 5))[2] == b"offline"
    else:
        w.no_packet(1.5)
    new.send(disconnect5_pkt())
    new.close()
    old.close()
    w.close()


def test_will_delay_then_published(broker):
    """Will Delay 2: nothing for about two seconds, then the will."""
    t = uid("wd")
    w = watcher(broker.port, t)
    c = will_client(broker.port, uid("wd"), t, 2)
    drop(c)
    t0 = time.monotonic()
    w.no_packet(1.2)
    p = w.expect("PUBLISH", 5)
    assert time.monotonic() - t0 >= 1.5
    assert publish5(p)[2] == b"offline"
    w.close()


def test_reconnect_within_delay_cancels_will(broker):
    """A new connection within the delay: the will is never sent
    [MQTT-3.1.3-9]."""
    t, cid = uid("wc"), uid("wc")
    w = watcher(broker.port, t)
    drop(will_client(broker.port, cid, t, 2))
    time.sleep(0.3)
    c = Raw5(broker.port)
    sp, _ = c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 60)))
    assert sp == 1
    w.no_packet(3.0)
    c.send(disconnect5_pkt())
    c.close()
    w.close()


def test_session_end_before_delay_publishes(broker):
    """The session ends (expiry 1 s) before the delay (30 s): the will goes
    when the session ends [MQTT-3.1.2-8]; with Session Expiry 0, at once."""
    t = uid("we")
    w = watcher(broker.port, t)
    drop(will_client(broker.port, uid("we"), t, 30, expiry=1))
    p = w.expect("PUBLISH", 4)
    assert publish5(p)[2] == b"offline"
    drop(will_client(broker.port, uid("we0"), t, 30, expiry=0))
    w.expect("PUBLISH", 1.0)
    w.close()


def test_will_properties_forwarded(broker):
    """The will's own properties reach a 5.0 subscriber (Content Type, User
    Property, Payload Format Indicator); the Will Delay Interval does not,
    and its Message Expiry Interval is sent as what remains."""
    t = uid("wp")
    w = watcher(broker.port, t)
    c = will_client(broker.port, uid("wp"), t, 0,
                    extra=((CONTENT_TYPE, "text/plain"), (USER_PROPERTY, ("k", "v")), (PAYLOAD_FORMAT, 1),
                           (MESSAGE_EXPIRY, 100)))
    drop(c)
    topic, pr, payload = publish5(w.expect("PUBLISH"))
    assert (topic, payload) == (t, b"offline")
    assert pr[CONTENT_TYPE] == "text/plain" and pr[USER_PROPERTY] == [("k", "v")] and pr[PAYLOAD_FORMAT] == 1
    assert WILL_DELAY not in pr
    assert 98 <= pr[MESSAGE_EXPIRY] <= 100
    w.close()


def test_will_payload_format_invalid(broker):
    """Payload Format Indicator 1 and a will payload that is not UTF-8:
    CONNACK 0x99 (3.1.3.2.3) and the connection closes."""
    with Raw5(broker.port) as c:
        c.send(connect5_pkt(uid("wf"), will=("a/b", b"\xff\xfe", 0, False, props((PAYLOAD_FORMAT, 1)))))
        sp, rc, _ = connack5(c.expect("CONNACK"))
        assert (sp, rc) == (0, 0x99)
        assert_closed_by_broker(c)


def test_cluster_reconnect_elsewhere_cancels_will(stack):
    """Cluster: a device with Will Delay 3 drops from broker 1 and connects
    to broker 2 within the delay: broker 1 never publishes the will
    [MQTT-3.1.3-9] (it kept the client-id lease, so broker 2's takeover
    request reached it). Without the reconnect the will arrives."""
    stack.start_redis()
    b1 = stack.start_broker("b1", insecure=True, cluster=True)
    b2 = stack.start_broker("b2", insecure=True, cluster=True)
    assert wait_for(lambda: "event=peer_joined peer=b2" in b1.log()
                    and "event=peer_joined peer=b1" in b2.log()
                    and "event=psubs_loaded" in b1.log() and "event=psubs_loaded" in b2.log(), 10, 0.05)
    t, cid = uid("cw"), uid("cw")
    w = watcher(b1.port, t)
    drop(will_client(b1.port, cid, t, 3))
    assert wait_for(lambda: "event=will_delayed" in b1.log(), 5)
    c = will_client(b2.port, cid, t, 1)  # back, on broker 2, with a will of its own
    assert wait_for(lambda: "event=will_cancelled" in b1.log(), 5)
    w.no_packet(4.0)
    # control: this connection drops and nobody comes back: its will arrives
    # (published by broker 2, delivered on broker 1 over the bus)
    drop(c)
    p = w.expect("PUBLISH", 8)
    assert publish5(p)[2] == b"offline"
    w.close()
