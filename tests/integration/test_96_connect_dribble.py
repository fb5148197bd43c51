"""--connect-timeout is counted from accept, not from the last byte
(issue 13, a true CONNECT header timeout): a socket that dribbles its
CONNECT one byte at a time, never finishing it, is closed when the timeout
runs out, the same as one that sends nothing; a bystander is served
meanwhile. Raw sockets against a real broker."""

import time

import pytest

from conftest import IS_MOSQUITTO, RawClient, connect_pkt, uid

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Mosquitto has no CONNECT timeout")


def test_a_dribbled_connect_is_closed_at_the_timeout(broker_factory, bystander):
    b = broker_factory(connect_timeout=2)
    by = bystander(b.port)
    c = RawClient(b.port)
    pkt = connect_pkt(uid("dribbler-") + "x" * 40)
    start = time.monotonic()
    closed_at = None
    for i in range(len(pkt) - 1):          # never the last byte: the CONNECT never completes
        try:
            c.sock.sendall(pkt[i:i + 1])
            c.sock.settimeout(0.25)
            if c.sock.recv(16) == b"":
                closed_at = time.monotonic() - start
                break
        except OSError as e:
            if isinstance(e, (ConnectionResetError, BrokenPipeError)):
                closed_at = time.monotonic() - start
                break
        if time.monotonic() - start > 8:
            break
    assert closed_at is not None, "a dribbling socket stayed open for 8 s with --connect-timeout 2"
    assert 1.5 <= closed_at <= 4.0, closed_at
    by.assert_untouched()
