"""51 cluster takeover: client ids are unique across the cluster. A CONNECT on
broker 2 for a client id connected on broker 1 makes broker 1 close the old
connection (publishing its will) and broker 2's session goes on; a
persistent session's subscriptions, queued and unacknowledged messages
follow it. DESIGN.md "Clustering", issue 5."""

import re
import socket
import time

import pytest

from cluster_stack import Cluster, running, warm_up
from conftest import (DISCONNECT, ConnectionClosed, PahoClient, RawClient, ack_pkt,
                      assert_closed_by_broker, barrier, connect_pkt, uid, wait_until)
from mqtt5 import SESSION_EXPIRY, Raw5, disconnect5_pkt, props, subscribe5_pkt

pytestmark = pytest.mark.roost_only

T = 10.0


@pytest.fixture(scope="module")
def cl():
    with running(Cluster()) as c:
        yield c


@pytest.fixture
def mk(request, cl):
    made = []

    def raw(broker):
        r = RawClient(broker.port, timeout=T)
        made.append(r)
        return r

    def paho(broker, **kw):
        pc = PahoClient(broker.port, **kw)
        made.append(pc)
        pc.connect(timeout=T)
        return pc

    yield raw, paho
    for x in made:
        try:
            x.disconnect() if isinstance(x, PahoClient) else x.close()
        except Exception:
            pass
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(cl.logs())


def recv_publishes(c, n, timeout=T, ack=True):
    out = []
    for _ in range(n):
        p = c.expect("PUBLISH", timeout)
        out.append(p)
        if ack and p.qos:
            c.ack(p)
    return out


def test_takeover_closes_first_connection(cl, mk):
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, wt = uid("tk"), uid("tk-will")
    watch1 = paho(b1)
    watch1.subscribe(wt, 1, timeout=T)

    a = raw(b1)
    a.connect(cid, clean=True, will=(wt, b"gone", 1, False))
    assert wait_until(lambda: cl.lease(cid) == "b1", timeout=T), cl.lease(cid)
    b = raw(b2)
    assert b.connect(cid, clean=True) == 0
    assert_closed_by_broker(a, timeout=T)
    assert wait_until(lambda: cl.lease(cid) == "b2", timeout=T), cl.lease(cid)
    # The old connection ended without DISCONNECT: its will is published
    # (here seen by a subscriber on the broker that held it).
    m = watch1.get(timeout=T)
    assert (m.topic, m.payload, m.qos) == (wt, b"gone", 1)
    assert "event=takeover_by_peer client_id=%s peer=b2" % cid in b1.log()

    # The new connection works.
    t = uid("tk-t")
    b.subscribe([(t, 1)])
    b.publish(t, b"mine", qos=1, pid=3)
    p = b.expect("PUBLISH", T)
    assert p.payload == b"mine"
    b.send(ack_pkt("PUBACK", p.pid))

    # And back: b1 takes it from b2.
    c = raw(b1)
    assert c.connect(cid, clean=True) == 0
    assert_closed_by_broker(b, timeout=T)
    c.ping()
    assert wait_until(lambda: cl.lease(cid) == "b1", timeout=T), cl.lease(cid)



def test_takeover_lines_quote_the_client_id(cl, mk):
    """A client id holding a space, a forged field and a newline stays one
    quoted value in both brokers' takeover lines (they wrote it bare, so
    its space split it into fields: a forged 'peer=' among them)."""
    raw, _ = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid = uid("tk") + " peer=forged\nlevel=error svc=broker event=forged"
    a = raw(b1)
    a.connect(cid, clean=True)
    assert wait_until(lambda: cl.lease(cid) == "b1", timeout=T), cl.lease(cid)
    b = raw(b2)
    assert b.connect(cid, clean=True) == 0
    assert_closed_by_broker(a, timeout=T)
    q = '"%s"' % cid.replace("\n", "\\x0a")
    assert wait_until(lambda: "event=takeover_by_peer client_id=%s peer=b2" % q in b1.log(), T), \
        b1.log()[-3000:]
    assert "event=takeover_requested client_id=%s holder=b1" % q in b2.log(), b2.log()[-3000:]


@pytest.mark.parametrize("clean", [True, False])
def test_reconnect_in_the_same_loop_turn_keeps_the_lease(cl, mk, clean):
    """A device that sends DISCONNECT and reconnects at once to the same
    broker: the old connection is freed while the new CONNECT is being
    adopted (its lease taken). The old one's lease release and session
    expiry landed behind the new one's lease take and undid it: the live
    connection held no lease (about half of the rounds), so a CONNECT on a
    peer would not have taken it over."""
    raw, _ = mk
    b1 = cl.by_id("b1")
    for i in range(20):
        cid = uid("tksame")
        a = raw(b1)
        a.connect(cid, clean=clean)
        b = raw(b1)
        pkt = connect_pkt(cid, clean=clean)
        b.send(pkt[:2])         # b taken in (a's ping below goes through the loop after it)
        a.ping()
        a.send(DISCONNECT)      # a's close and b's CONNECT: one loop turn, mostly
        b.send(pkt[2:])
        assert b.expect("CONNACK", T).body[1] == 0
        b.ping()                # (a's writes were sent before b's adoption read the session)
        assert cl.lease(cid) == "b1", "round %d: the live connection holds no lease" % i
        b.send(DISCONNECT)
        a.close()
        b.close()

@pytest.mark.parametrize("how", ["takeover-clean", "takeover-persistent", "socket-closed"])
def test_will_reaches_subscribers_on_every_broker(cl, mk, how):
    """The will of a connection closed by a takeover (or dropped by the
    client) is a publish like any other: subscribers on the other broker
    (clean and persistent) get it once."""
    clean = how != "takeover-persistent"
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, wt = uid("tkw"), uid("tkw-will")
    watch1 = paho(b1)
    watch1.subscribe(wt, 1, timeout=T)
    watch2 = paho(b2)
    watch2.subscribe(wt, 1, timeout=T)
    pwatch2 = paho(b2, client_id=uid("tkw-p"), clean=False)
    pwatch2.subscribe(wt, 1, timeout=T)
    warm_up(paho(b1), [watch1, watch2], wt)
    warm_up(paho(b1), [pwatch2], wt, qos=1)

    a = raw(b1)
    a.connect(cid, clean=clean, will=(wt, b"gone", 1, False))
    if how == "socket-closed":
        a.close()
    else:
        b = raw(b2)
        b.connect(cid, clean=clean)
        assert_closed_by_broker(a, timeout=T)
    got = {}
    for name, w in (("b1", watch1), ("b2", watch2), ("b2-persistent", pwatch2)):
        got[name] = None
        try:
            while got[name] is None:
                m = w.get(timeout=5.0)
                if not m.payload.startswith(b"probe-"):
                    got[name] = (m.topic, m.payload)
        except AssertionError:
            pass
    assert got == {k: (wt, b"gone") for k in ("b1", "b2", "b2-persistent")}, \
        "will published by b1 on takeover seen as %r" % got
    for w in (watch1, watch2, pwatch2):
        again = [m.payload for m in barrier(w, paho(b2), wt, timeout=T) if m.payload == b"gone"]
        assert again == [], "will delivered twice"


def test_takeover_moves_persistent_session_with_unacked_and_queued(cl, mk):
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, t, wt = uid("tkp"), uid("tkp-t"), uid("tkp-will")
    watch = paho(b1)
    watch.subscribe(wt, 1, timeout=T)

    a = raw(b1)
    assert a.connect(cid, clean=False, will=(wt, b"a-gone", 1, False)) == 0
    assert a.subscribe([("%s/+" % t, 1), ("%s/two/#" % t, 2)]) == [1, 2]
    pub = paho(b2)   # publishes through the other broker
    # (the subscription's propagation right after SUBACK is test_50's business)
    deadline = time.monotonic() + T
    while True:
        pub.publish("%s/x" % t, b"probe", qos=1, timeout=T)
        try:
            a.ack(a.expect("PUBLISH", 0.5))
            break
        except socket.timeout:
            assert time.monotonic() < deadline, "subscription never reached b2"
    # Delivered to `a` and not acknowledged: in flight when the takeover comes.
    pub.publish("%s/x" % t, b"unacked-1", qos=1, timeout=T)
    p = a.expect("PUBLISH", T)
    assert (p.payload, p.qos, p.dup) == (b"unacked-1", 1, False)
    pub.publish("%s/two/y" % t, b"unacked-2", qos=2, timeout=T)
    p2 = a.expect("PUBLISH", T)
    assert (p2.payload, p2.qos) == (b"unacked-2", 2)

    b = raw(b2)
    assert b.connect(cid, clean=False) == 1, "session present must be 1 on the new broker"
    assert_closed_by_broker(a, timeout=T, allow=lambda pk: pk.name == "PUBLISH")
    m = watch.get(timeout=T)
    assert (m.topic, m.payload) == (wt, b"a-gone")

    # The unacknowledged messages are re-sent, flagged DUP [MQTT-4.4.0-1].
    got = {}
    for _ in range(2):
        q = b.expect("PUBLISH", T)
        assert q.dup, "re-sent message without DUP: %r" % q
        got[q.payload] = q.qos
        b.ack(q)
    assert got == {b"unacked-1": 1, b"unacked-2": 2}

    # The subscriptions followed: a publish on b1 reaches b at b2.
    pub1 = paho(b1)
    for i in range(20):
        pub1.publish("%s/k" % t, b"n-%d" % i, qos=1, timeout=T)
    ps = recv_publishes(b, 20)
    assert [x.payload for x in ps] == [b"n-%d" % i for i in range(20)]
    assert not any(x.dup for x in ps)
    b.no_packet(0.3)


def test_persistent_session_queued_offline_follows_to_other_broker(cl, mk):
    """Offline between two connections on two brokers: what was queued while
    it was away (published on both brokers) comes on reconnect, in order,
    and its subscription stays."""
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, t = uid("tkq"), uid("tkq-t")
    a = raw(b1)
    a.connect(cid, clean=False)
    assert a.subscribe([("%s/#" % t, 1)]) == [1]
    a.send(DISCONNECT)
    a.close()
    assert wait_until(lambda: cl.lease(cid) in ("", None), timeout=T), cl.lease(cid)

    p1, p2 = paho(b1), paho(b2)
    want = []
    for i in range(40):
        (p1 if i % 2 else p2).publish("%s/d/%d" % (t, i % 4), b"q-%d" % i, qos=1, timeout=T)
        want.append(b"q-%d" % i)
    b = raw(b2)
    assert b.connect(cid, clean=False) == 1
    got = recv_publishes(b, 40)
    # Two publishers on two brokers: order holds per publisher.
    for par in (0, 1):
        seq = [int(x.payload[2:]) for x in got if int(x.payload[2:]) % 2 == par]
        assert seq == sorted(seq), seq
    assert sorted(x.payload for x in got) == sorted(want)
    b.no_packet(0.3)
    # Still subscribed after the move.
    p1.publish("%s/later" % t, b"later", qos=1, timeout=T)
    assert recv_publishes(b, 1)[0].payload == b"later"


def test_simultaneous_connects_leave_one_connection(cl, mk):
    """Two CONNECTs for one id on both brokers at nearly the same time: the
    cluster ends up with one live connection, and the lease names its broker."""
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    for round_ in range(12):
        cid = uid("race")
        x, y = raw(b1), raw(b2)
        from conftest import connect_pkt
        x.send(connect_pkt(cid, clean=False))
        y.send(connect_pkt(cid, clean=False))
        alive = []
        for c, br in ((x, b1), (y, b2)):
            try:
                p = c.expect("CONNACK", T)
                if p.body[1] == 0:
                    c.ping()
                    alive.append((c, br))
            except (ConnectionClosed, socket.timeout, OSError, AssertionError):
                pass
        # After both CONNACKs one of them may still be closed by the other's
        # takeover: wait for the cluster to settle on one.
        def survivors():
            out = []
            for c, br in alive:
                try:
                    c.ping()
                    out.append((c, br))
                except (ConnectionClosed, socket.timeout, OSError, AssertionError):
                    pass
            return out
        assert wait_until(lambda: len(survivors()) == 1, timeout=T, interval=0.2), \
            "round %d: %d connections alive for one client id" % (round_, len(survivors()))
        (c, br), = survivors()
        assert wait_until(lambda: cl.lease(cid) == br.id, timeout=T), (cl.lease(cid), br.id)
        c.send(DISCONNECT)


@pytest.mark.parametrize("how", ["drop-same", "drop-other", "takeover-same"])
def test_resume_resends_unacked_with_dup(cl, mk, how):
    """A persistent session has a QoS 1 and a QoS 2 message delivered and
    not acknowledged when the device comes back: after its connection
    dropped (on the same broker, or the other: the session comes from
    Redis), or with a second CONNECT on the same broker while the first is
    still open (the session is still in memory: another code path). Both
    are re-sent first, flagged DUP, with their original packet ids
    [MQTT-4.4.0-1]; then live traffic flows without DUP."""
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, t = uid("rsd"), uid("rsd-t")
    a = raw(b1)
    assert a.connect(cid, clean=False) == 0
    assert a.subscribe([("%s/#" % t, 2)]) == [2]
    pub = paho(b1)
    pub.publish("%s/one" % t, b"unacked-1", qos=1, timeout=T)
    p1 = a.expect("PUBLISH", T)
    pub.publish("%s/two" % t, b"unacked-2", qos=2, timeout=T)
    p2 = a.expect("PUBLISH", T)
    assert [(p.payload, p.qos, p.dup) for p in (p1, p2)] == [(b"unacked-1", 1, False), (b"unacked-2", 2, False)]
    if how.startswith("drop"):
        a.close()  # no DISCONNECT, no acks
        assert wait_until(lambda: cl.lease(cid) in ("", None), timeout=T), cl.lease(cid)

    b = raw(b2 if how == "drop-other" else b1)
    assert b.connect(cid, clean=False) == 1
    if how == "takeover-same":
        assert_closed_by_broker(a, timeout=T)
    got = recv_publishes(b, 2, ack=False)
    assert [(q.payload, q.qos, q.pid, q.dup) for q in got] == [
        (b"unacked-1", 1, p1.pid, True), (b"unacked-2", 2, p2.pid, True)], got
    for q in got:
        b.ack(q)
    pub.publish("%s/three" % t, b"live", qos=1, timeout=T)
    q = b.expect("PUBLISH", T)
    assert (q.payload, q.dup) == (b"live", False)
    b.ack(q)
    b.no_packet(0.3)


def orphan_queues(cl):
    """The q:/qm: keys under the cluster's prefix (SCAN on every primary)
    whose session key is gone."""
    nodes = cl.redis.primaries() if hasattr(cl.redis, "primaries") else [cl.redis]
    out = []
    for n in nodes:
        for name in ("q:", "qm:"):
            for k in n.cmd("--scan", "--pattern", cl.prefix + name + "{c:*").splitlines():
                sess = cl.prefix + "sess:" + k[len(cl.prefix + name):]
                if k and cl.redis.cmd("EXISTS", sess) != "1":
                    out.append((k, cl.redis.cmd("PTTL", k)))
    return out


def psubs_loaded_version(b):
    """The version of the persistent-subscription index b read last."""
    vs = re.findall(r"event=psubs_loaded [^\n]*version=(\d+)", b.log())
    return int(vs[-1]) if vs else -1


@pytest.mark.parametrize("how", ["clean-start", "expired"])
def test_queue_keys_do_not_outlive_their_session(cl, mk, how):
    """A persistent session goes (a clean-start CONNECT clears it, or it
    expires and the reaper deletes it) while b2's index still routes to it
    (b2 forgets it at its next read of the index, within a second or so):
    b2's pushes for it store nothing. They recreated its queue keys with
    no TTL: never reaped, and read by the next session with that client id
    (a catch-up read delivered them once it subscribed). A queue created
    for the offline session, before it went, carries its TTL."""
    raw, paho = mk
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    cid, t = uid("orq"), uid("orq-t")
    qkey = cl.prefix + "q:{c:%s}" % cid
    if how == "expired":
        with Raw5(b1.port, timeout=T) as a:
            a.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 3)))
            a.send(subscribe5_pkt(1, [(t, 1)]))
            a.expect("SUBACK", T)
            a.send(disconnect5_pkt())
            assert_closed_by_broker(a, timeout=T)
    else:
        a = raw(b1)
        a.connect(cid, clean=False)
        assert a.subscribe([(t, 1)]) == [1]
        a.send(DISCONNECT)
        a.close()
    assert wait_until(lambda: cl.lease(cid) in ("", None), timeout=T), cl.lease(cid)
    pub = paho(b2)
    n = [0]

    def publish():
        n[0] += 1
        pub.publish(t, b"m-%d" % n[0], qos=1, timeout=T)
        time.sleep(0.01)
    # b2 routes to the offline session (its index has it): queued
    deadline = time.monotonic() + T
    while cl.redis.cmd("LLEN", qkey) in ("", "0"):
        assert time.monotonic() < deadline, "b2 never queued for the offline session"
        publish()
    skey, psubs = cl.prefix + "sess:{c:%s}" % cid, cl.prefix + "{g}:psubs"
    if how == "expired":
        sttl = int(cl.redis.cmd("PTTL", skey))
        ttl = int(cl.redis.cmd("PTTL", qkey))
        assert 0 < ttl <= sttl, (ttl, sttl)
        # its expiry passes: the reaper (every other heartbeat on each
        # broker) deletes it, then its index entries
        while cl.redis.cmd("EXISTS", skey) == "1" or cid in cl.redis.cmd("HKEYS", psubs):
            assert time.monotonic() < deadline, "the session was never reaped"
            publish()
    else:
        c = raw(b1)
        assert c.connect(cid, clean=True) == 0  # the session is cleared before CONNACK
        assert cid not in cl.redis.cmd("HKEYS", psubs)
    gone_at = int(cl.redis.cmd("GET", cl.prefix + "{g}:psubs:ver"))
    # publishing goes on until b2 has read the index without the session
    deadline = time.monotonic() + T
    while psubs_loaded_version(b2) < gone_at:
        assert time.monotonic() < deadline, "b2 never read the index again"
        publish()
    publish()
    if how == "clean-start":
        c.send(DISCONNECT)
        c.close()
        assert wait_until(lambda: cl.lease(cid) in ("", None), timeout=T), cl.lease(cid)
    assert orphan_queues(cl) == []
    # a new persistent session with that client id gets none of them
    d = raw(b1)
    assert d.connect(cid, clean=False) == 0
    assert d.subscribe([(t, 1)]) == [1]
    d.no_packet(1.8)    # past both catch-up reads (adopt.c)
    d.send(DISCONNECT)
    d.close()
    c2 = raw(b1)        # and it goes (clean start)
    assert c2.connect(cid, clean=True) == 0
    c2.send(DISCONNECT)
