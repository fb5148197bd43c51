"""16 (Roost-only, issue 13 abuse controls): --max-msg-rate and
--max-byte-rate per connection. A client publishing as fast as it can is
held to the limit (measured at a subscriber, after the one-second burst)
by backpressure: every message still arrives, none is dropped, and another
client on the same broker keeps its round trips short."""

import socket
import threading
import time

import pytest

from conftest import IS_MOSQUITTO, RawClient, connect_pkt, publish_pkt, uid
from test_14_preauth_limits import start  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


def subscriber(port, filt):
    c = RawClient(port, 5)
    c.connect(uid("sub"))
    c.subscribe([(filt, 0)])
    arrivals = []

    def read():
        while True:
            try:
                p = c.recv_packet(timeout=30)
            except Exception:
                return
            if p is None:
                return
            arrivals.append(time.monotonic())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return c, arrivals


def blast(port, topic, payload, count):
    """Hands `count` QoS 0 PUBLISHes to the kernel as fast as it takes them
    (the broker's backpressure fills the socket buffers); returns the client."""
    c = RawClient(port, 5)
    c.connect(uid("pub"))
    c.sock.settimeout(None)
    c.sock.sendall(publish_pkt(topic, payload) * count)
    return c


def pings(port, stop):
    c = RawClient(port, 5)
    c.connect(uid("by"))
    rtts = []
    while not stop.is_set():
        t = time.monotonic()
        c.send(bytes([0xC0, 0]))
        c.expect("PINGRESP")
        rtts.append(time.monotonic() - t)
        time.sleep(0.02)
    c.close()
    return rtts


@pytest.mark.parametrize("flag,limit,payload,per_msg", [
    ("--max-msg-rate", 200, b"m" * 100, 1),
    ("--max-byte-rate", 100000, b"b" * 991, 1000),     # 991 + topic + header = 1000 bytes a message
])
def test_publisher_is_held_to_the_limit_without_drops(start, flag, limit, payload, per_msg):
    b = start(flag, str(limit))
    sub, arrivals = subscriber(b.port, "rl/#")
    stop = threading.Event()
    rtts = []
    by = threading.Thread(target=lambda: rtts.extend(pings(b.port, stop)), daemon=True)
    by.start()
    topic = "rl/t"
    assert per_msg == 1 or len(publish_pkt(topic, payload)) == per_msg
    want = limit / per_msg                       # messages per second
    count = int(want * 4)                        # one second of burst, then three held to the rate
    sender = threading.Thread(target=lambda: blast(b.port, topic, payload, count), daemon=True)
    sender.start()
    deadline = time.monotonic() + 30
    while len(arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    by.join(10)
    sender.join(10)
    # every message arrives (nothing dropped), and after the burst at the rate
    assert len(arrivals) == count, (len(arrivals), count)
    first = int(want * 1.25)                     # well past the burst
    got = (count - 1 - first) / (arrivals[-1] - arrivals[first])
    rtts.sort()
    p99 = rtts[max(0, int(len(rtts) * 0.99) - 1)] if rtts else None
    print("%s %d: %.1f msg/s after the burst (want %.1f), %d messages, bystander ping p99 %.1f ms (%d pings)"
          % (flag, limit, got, want, count, p99 * 1000, len(rtts)))
    assert abs(got - want) <= 0.05 * want, (got, want)
    assert p99 is not None and p99 < 0.25, p99
    sub.close()
