"""55 cluster bus frames: the batched data frame on the wire (cluster.c,
"bus"), from both ends.

- A burst of publishes on broker 1, many topics under nested subscriber
  prefixes on broker 2 with retained messages in the middle, crosses in
  batches: every subscriber gets exactly what its filter matches, once, in
  publish order per topic and QoS.
- A fake peer (a ZeroMQ XPUB registered in Redis like a broker) sends
  frames to broker 1 directly: well-formed batches are delivered entry by
  entry; each malformed one (truncated entry, bad flags, a topic name with a
  wildcard, a retain flag outside an 'r' frame, no label end, a payload
  length past the end) is logged and counted on /metrics, what came before
  the bad entry is kept, and the broker goes on.
Issue 5; DESIGN.md "Clustering"."""

import re
import struct
import time
import urllib.request

import pytest
import zmq

from cluster_stack import Cluster, paho_clients, running, warm_up
from conftest import RawClient, barrier, free_port, publish_pkt, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0


def entry(rest, payload, qos=0, retain=False, eid=b""):
    """One batch entry: flags, eid, topic after the label, payload."""
    return (bytes([qos | (4 if retain else 0), len(eid)]) + eid +
            struct.pack(">H", len(rest)) + rest + struct.pack(">I", len(payload)) + payload)


def frame(kind, label, *entries):
    return kind + label + b"\0" + b"".join(entries)


def metric(http_port, name):
    """One counter from b1's /metrics (name may carry labels)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, "metric %s missing" % name
    return int(m.group(1))


@pytest.fixture(scope="module")
def cl():
    http_port = free_port()
    c = Cluster(broker_args=("--http-port", str(http_port)))
    c.http_port = http_port

    def setup(c):
        c.start_redis()
        c.start_broker("b1")
        c.broker_args = []  # b2 without the HTTP port
        c.start_broker("b2")
        c.wait_mesh()
    with running(c, setup):
        yield c


@pytest.fixture
def clients(cl):
    with paho_clients(T) as make:
        yield make


def test_burst_across_nested_labels_keeps_per_topic_order(cl, clients):
    b1 = cl.by_id("b1")
    b2 = cl.by_id("b2")
    root = uid("burst")
    # Peer prefixes root/, root/a/, root/a/b (exact), and one nobody else
    # shares: the labels differ per topic, some topics under two of them.
    filters = {"all": "%s/#" % root, "a": "%s/a/#" % root, "ab": "%s/a/b" % root,
               "plus": "%s/+/x" % root}
    subs = {}
    for k, f in filters.items():
        subs[k] = clients(b2)
        assert subs[k].subscribe(f, 1, timeout=T) == [1]
    probe = clients(b1)
    warm_up(probe, [subs["all"], subs["a"], subs["ab"]], "%s/a/b" % root, 0)
    warm_up(probe, [subs["plus"], subs["all"]], "%s/q/x" % root, 0)
    for s in subs.values():
        s.drain()

    topics = ["%s/a/b" % root, "%s/a/c" % root, "%s/q/x" % root, "%s/z" % root, "%s/a/x" % root]
    sent = []
    burst = b""
    pid = 1
    for i in range(400):
        t = topics[i % len(topics)] if i % 7 else topics[(i // 7) % len(topics)]
        retain = i % 50 == 25
        qos = 1 if i % 3 == 0 else 0
        payload = b"b-%d" % i
        burst += publish_pkt(t, payload, qos=qos, retain=retain, pid=pid if qos else None)
        if qos:
            pid += 1
        sent.append((t, payload, qos))
    frames = 'roost_broker_bus_frames_total{direction="out"}'
    msgs = 'roost_broker_bus_messages_total{direction="out"}'
    f0, m0 = metric(cl.http_port, frames), metric(cl.http_port, msgs)
    with RawClient(b1.port) as raw:
        raw.connect(client_id=uid("burst-pub"))
        raw.send(burst)  # one write: the broker reads it in one or a few turns
        for _ in range(pid - 1):
            raw.expect("PUBACK")
    # every message crossed once (root/# on b2 wants them all), in batches:
    # a frame per label per turn, plus the retained ones each on its own
    assert wait_until(lambda: metric(cl.http_port, msgs) - m0 == len(sent), timeout=T), \
        "b1 sent %d bus messages for %d publishes" % (metric(cl.http_port, msgs) - m0, len(sent))
    df = metric(cl.http_port, frames) - f0
    assert 0 < df <= len(sent) // 4, "%d frames for %d messages: not batched" % (df, len(sent))

    def matches(f, t):
        fp, tp = f.split("/"), t.split("/")
        for k, part in enumerate(fp):
            if part == "#":
                return True
            if k >= len(tp) or (part != "+" and part != tp[k]):
                return False
        return len(fp) == len(tp)

    for k, f in filters.items():
        got = [m for m in barrier(subs[k], probe, "%s/a/b" % root if k != "plus" else "%s/q/x" % root,
                                  timeout=T, qos=1)
               if m.payload.startswith(b"b-")]
        want = [(t, p) for (t, p, q) in sent if matches(f, t)]
        have = [(m.topic, m.payload) for m in got]
        assert sorted(have) == sorted(want), "%s: missing %r, extra %r" % (
            f, [w for w in want if w not in have][:5], [h for h in have if h not in want][:5])
        # [MQTT-4.6.0-5]: per topic and QoS (QoS 0 may overtake QoS 1
        # messages waiting for an in-flight slot, on one broker as on two)
        qos_of = {p: q for (t, p, q) in sent}
        for t in topics:
            for q in (0, 1):
                order = [p for (tt, p) in have if tt == t and qos_of[p] == q]
                assert order == [p for (tt, p) in want if tt == t and qos_of[p] == q], \
                    "%s: %s QoS %d out of order: %r" % (f, t, q, order)
        assert not [m for m in got if m.retain], "%s: live delivery with retain set" % f


@pytest.fixture
def fake_peer(cl):
    """An XPUB registered as broker 'fake' in Redis; b1's SUB connects to it."""
    ctx = zmq.Context.instance()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub.bind("tcp://127.0.0.1:*")
    endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
    fid = "fake-" + uid("p")
    cl.redis.cmd("HSET", cl.prefix + "{g}:brokers", fid, "%s\t%d" % (endpoint, int(time.time() * 1000)))
    cl.redis.cmd("SET", cl.prefix + "{g}:broker:%s:alive" % fid, "1", "PX", "600000")
    b1 = cl.by_id("b1")
    assert wait_until(lambda: fid in b1.peers_seen(), timeout=T), "b1 never connected to the fake peer"
    try:
        yield xpub
    finally:
        cl.redis.cmd("DEL", cl.prefix + "{g}:broker:%s:alive" % fid)
        xpub.close()


def wait_notice(xpub, prefix, timeout=T):
    """Until b1's SUB subscription to prefix has reached the fake XPUB."""
    deadline = time.monotonic() + timeout
    seen = set()
    while prefix not in seen:
        left = deadline - time.monotonic()
        assert left > 0, "no subscription %r from b1 (got %r)" % (prefix, sorted(seen))
        if xpub.poll(int(left * 1000) + 1):
            n = xpub.recv()
            if n[:1] == b"\x01":
                seen.add(n[1:])


def test_fake_peer_frames_delivered_and_malformed_ones_counted(cl, clients, fake_peer):
    b1 = cl.by_id("b1")
    root = uid("fx")
    sub = clients(b1)
    assert sub.subscribe("%s/#" % root, 1, timeout=T) == [1]
    wait_notice(fake_peer, b"m" + root.encode())  # the literal prefix of root/#
    R = root.encode()

    def send_until_delivered(f, n):
        """XPUB drops frames until the subscription is in effect on its side
        too: resend a harmless frame until one arrives, then send f."""
        deadline = time.monotonic() + T
        while True:
            fake_peer.send(frame(b"m", R + b"/", entry(b"warm", b"w")))
            try:
                sub.get(timeout=0.2)
                break
            except Exception:
                assert time.monotonic() < deadline, "fake peer's frames never reached b1"
        sub.drain()
        fake_peer.send(f)
        return collect(n)

    def collect(n, timeout=T):
        """n messages, leaving out late copies of the warm-up frame."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            m = sub.get(max(0.01, deadline - time.monotonic()))
            if m.payload != b"w":
                out.append(m)
        return out

    # A well-formed batch: three entries, one label, QoS capped at the grant.
    got = send_until_delivered(frame(b"m", R + b"/",
                                     entry(b"a/b", b"one", qos=1),
                                     entry(b"c", b"two", qos=0),
                                     entry(b"d/e", b"three", qos=2, eid=b"fake:1:9")), 3)
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        (root + "/a/b", b"one", 1), (root + "/c", b"two", 0), (root + "/d/e", b"three", 1)]

    # A retained frame: delivered live (retain 0) and kept for new subscribers.
    fake_peer.send(frame(b"r", R + b"/ret", entry(b"", b"kept", qos=1, retain=True)))
    m = sub.get(timeout=T)
    assert (m.topic, m.payload, m.retain) == (root + "/ret", b"kept", False)
    late = clients(b1)
    assert late.subscribe(root + "/ret", 1, timeout=T) == [1]
    m = late.get(timeout=T)
    assert (m.topic, m.payload, m.retain) == (root + "/ret", b"kept", True)

    before = metric(cl.http_port, "roost_broker_bus_malformed_total")
    bad = [
        # what precedes the bad entry is kept
        ("short entry", frame(b"m", R + b"/", entry(b"ok", b"kept-1"), entry(b"cut", b"x")[:5]),
         [(root + "/ok", b"kept-1")]),
        ("bad entry header", frame(b"m", R + b"/", entry(b"q3", b"x", qos=3)), []),
        ("bad entry header", frame(b"m", R + b"/", b"\x08\x00" + entry(b"f", b"x")[2:]), []),
        ("invalid topic name", frame(b"m", R + b"/", entry(b"+/x", b"wild"),
                                     entry(b"after", b"kept-2")), [(root + "/after", b"kept-2")]),
        ("retain flag outside an 'r' frame", frame(b"m", R + b"/", entry(b"r", b"x", retain=True)), []),
        ("no label end", b"m" + R + b"/no-nul", []),
        ("bad payload length", frame(b"m", R + b"/", entry(b"p", b"x")[:-1] + b""), []),
        ("bad topic length", frame(b"m", R + b"/", b"\x00\x00" + struct.pack(">H", 500) + b"abcdefgh"), []),
    ]
    for reason, f, want in bad:
        got = send_until_delivered(f, len(want))
        assert [(m.topic, m.payload) for m in got] == want, reason
        assert wait_until(lambda: ('event=bus_frame_malformed reason="%s"' % reason) in b1.log(),
                          timeout=T), "no log line for %s" % reason
    time.sleep(0.2)
    assert [m for m in sub.drain() if m.payload != b"w"] == [], "a malformed entry was delivered"
    assert metric(cl.http_port, "roost_broker_bus_malformed_total") - before == len(bad)

    assert metric(cl.http_port, 'roost_broker_bus_frames_total{direction="in"}') >= len(bad) + 2
    # The broker goes on: the next good frame arrives, and it still serves MQTT.
    got = send_until_delivered(frame(b"m", R + b"/", entry(b"end", b"fine")), 1)
    assert (got[0].topic, got[0].payload) == (root + "/end", b"fine")
    assert b1.alive()
