"""07 keepalive: silent clients are dropped at ~1.5x keep-alive; any packet
(PINGREQ or other) keeps a connection alive; keep-alive 0 disables it."""

import socket
import time

import pytest

from conftest import ConnectionClosed, RawClient, assert_closed_by_broker, publish_pkt, uid

KA = 2


@pytest.mark.mosquitto_deviates("2.0.11 checks keep-alives every ~5 s, closing a keep-alive-2 client after ~6 s")
def test_silent_client_closed_at_1_5x_keepalive(raw):
    """[MQTT-3.1.2-24] no packet within 1.5 x keep-alive: the server closes.
    Keep-alive 3 s: the close comes at 4.5 s, plus at most one 250 ms sweep
    and a margin for a loaded machine, and well before 2 x keep-alive (6 s).
    The clock starts before CONNECT is sent, so it never reads short."""
    ka = 3
    c = raw()
    start = time.monotonic()
    c.connect(keepalive=ka)
    assert_closed_by_broker(c, timeout=10)
    elapsed = time.monotonic() - start
    assert 1.5 * ka <= elapsed <= 1.5 * ka + 1.0, "closed after %.2fs" % elapsed


def test_activity_keeps_connections_alive(raw):
    """While a silent client is dropped for keep-alive, clients that send
    PINGREQ, or other packets, within the keep-alive stay connected, and a
    client with keep-alive 0 is never timed out [MQTT-3.1.2-23]."""
    silent, pinger, talker, zero = raw(), raw(), raw(), raw()
    start = time.monotonic()
    silent.connect(keepalive=KA)
    pinger.connect(keepalive=KA)
    talker.connect(keepalive=KA)
    zero.connect(keepalive=0)
    topic = uid("ka")
    silent_closed_at = None
    last_activity = 0.0
    for _ in range(60):  # bounded: 60 x 0.25 s = 15 s at most
        now = time.monotonic() - start
        if silent_closed_at is not None and now > silent_closed_at + 1.5:
            break
        if now - last_activity >= 0.8:  # well within the 2 s keep-alive
            last_activity = now
            pinger.ping()
            talker.send(publish_pkt(topic, b"x", qos=0))
        if silent_closed_at is None:
            try:
                silent.recv_packet(0.25)
                raise AssertionError("silent client got a packet")
            except ConnectionClosed:
                silent_closed_at = time.monotonic() - start
            except OSError as e:
                if not isinstance(e, socket.timeout):
                    silent_closed_at = time.monotonic() - start
        else:
            time.sleep(0.25)
    assert silent_closed_at is not None, "silent keep-alive %d client was never closed" % KA
    assert silent_closed_at >= 1.5 * KA - 1.0, "closed too early: %.2fs" % silent_closed_at
    for c in (pinger, talker, zero):
        c.ping()
