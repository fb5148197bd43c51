"""15 (Roost-only, issue 13 abuse controls): --max-keepalive holds every
connection to a keep-alive cap (a client asking for none or more is closed
after 1.5 x the cap of silence), and --max-connect-rate answers CONNECTs
over the rate with CONNACK 3 so devices back off, never more than the
bucket allows."""

import time

import pytest

from conftest import IS_MOSQUITTO, RawClient, connect_pkt, uid, wait_until
from test_14_preauth_limits import start  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


def connack(port, keepalive=60, client_id=None):
    c = RawClient(port, 5)
    c.send(connect_pkt(client_id or uid("cc"), keepalive=keepalive))
    return c, c.expect("CONNACK").body[1]


def closed_by(c, since, seconds):
    """Waits until `since + seconds` for the broker to close c; returns
    (closed, seconds from `since` to the close)."""
    c.sock.settimeout(max(0.01, since + seconds - time.monotonic()))
    try:
        data = c.sock.recv(1)
    except OSError:
        data = b""
    return data == b"", time.monotonic() - since


def test_keepalive_is_capped(start):
    b = start("--max-keepalive", "2")
    t0 = time.monotonic()
    forged = uid("cc") + " x\nlevel=error svc=broker event=forged"
    silent_none, rc1 = connack(b.port, keepalive=0, client_id=forged)  # asks for no keep-alive at all
    silent_long, rc2 = connack(b.port, keepalive=600)
    assert rc1 == 0 and rc2 == 0
    for c in (silent_none, silent_long):
        ok, took = closed_by(c, t0, 8.0)
        assert ok and took >= 2.5, took                   # 1.5 x 2 s, not the client's value
    assert "keepalive_timeout" in b.log()
    # the client id in the keepalive_capped line is one quoted value (it was
    # written bare: its space split it into forged fields)
    capped = [l for l in b.log().splitlines() if "event=keepalive_capped " in l]
    assert any(l.endswith(' client_id="%s" asked=0 cap=2' % forged.replace("\n", "\\x0a")) for l in capped), capped
    # under the cap: the client's own value holds, and pings keep it alive
    c, rc = connack(b.port, keepalive=1)
    assert rc == 0
    for _ in range(4):
        c.send(bytes([0xC0, 0]))
        assert c.expect("PINGRESP") is not None
        time.sleep(0.8)
    c.close()


def test_connect_rate_refuses_the_excess_with_connack_3(start):
    rate = 5
    b = start("--max-connect-rate", str(rate))
    t0 = time.monotonic()
    codes, conns = [], []
    for _ in range(30):
        c, rc = connack(b.port)
        codes.append(rc)
        conns.append(c)
    elapsed = time.monotonic() - t0
    accepted = codes.count(0)
    # never more than the burst plus what the bucket refilled meanwhile
    assert accepted <= rate + rate * elapsed + 1, (accepted, elapsed)
    assert accepted >= rate, codes
    assert set(codes) <= {0, 3} and codes.count(3) >= 30 - accepted
    assert "over --max-connect-rate" in b.log()
    for c in conns:
        c.close()
    time.sleep(1.1)                                       # the bucket refills
    c, rc = connack(b.port)
    assert rc == 0
    c.close()
