"""80 shared subscriptions on one broker (issue 16), from MQTT 3.1.1
clients: "$share/{name}/{filter}" gives each message to exactly one member,
round-robin; a non-shared subscription still gets its copy; the member's
QoS caps the delivery; a slow member (in-flight window full) is skipped; a
member that disconnects without acknowledging gives its messages to
another; malformed "$share" strings get the SUBACK failure code (MQTT 5.0
section 4.8.2). A group is freed once nothing keeps it: no member, and no
unacknowledged message given to a member (/metrics roost_broker_shared_groups).

Also runs against Mosquitto 2.0 (ROOST_TEST_BROKER=mosquitto) where
Mosquitto behaves the same; roost_only marks the rest."""

import collections
import re
import time
import urllib.request

import pytest

from conftest import RawClient, barrier, free_port, uid, unsubscribe_pkt, wait_until


def shared_members(paho, group, flt, n, qos=1, **kw):
    members = [paho(**kw) for _ in range(n)]
    for m in members:
        assert m.subscribe("$share/%s/%s" % (group, flt), qos) == [qos]
    return members


def publishes(raw, quiet=0.5):
    """The PUBLISH packets a RawClient gets until none comes for `quiet` s
    (it acknowledges none of them)."""
    out = []
    while True:
        try:
            out.append(raw.expect("PUBLISH", timeout=quiet))
        except Exception:
            return out


def collect(members, want, timeout=10.0):
    """Reads from every member until `want` messages arrived in all; returns
    {member index: [payload, ...]}."""
    got = collections.defaultdict(list)
    total = 0
    deadline = time.monotonic() + timeout
    while total < want and time.monotonic() < deadline:
        for i, m in enumerate(members):
            for msg in m.drain():
                got[i].append(msg.payload)
                total += 1
        time.sleep(0.01)
    return got


def test_each_message_to_exactly_one_member_round_robin(paho):
    """[MQTT-4.8.2] one member of the group gets each message; Roost's
    default is round-robin, so three members get 1/3 each."""
    root = uid("sh")
    members = shared_members(paho, "g", root + "/+", 3)
    pub = paho()
    n = 300
    for i in range(n):
        pub.publish("%s/%d" % (root, i % 5), b"m%d" % i, qos=1)
    got = collect(members, n)
    allp = [p for v in got.values() for p in v]
    assert sorted(allp) == sorted(b"m%d" % i for i in range(n)), "not exactly once"
    shares = [len(got[i]) for i in range(3)]
    assert all(80 <= s <= 120 for s in shares), shares
    time.sleep(0.2)
    assert all(not m.drain() for m in members), "duplicates arrived late"


def test_ordinary_subscription_and_other_group_get_their_own_copy(paho):
    """A non-shared subscription on the same filter gets every message; a
    second group gets every message once too (one member of each group)."""
    root = uid("sh")
    g1 = shared_members(paho, "g1", root + "/#", 2)
    g2 = shared_members(paho, "g2", root + "/#", 2)
    plain = paho()
    assert plain.subscribe(root + "/#", 1) == [1]
    pub = paho()
    n = 40
    for i in range(n):
        pub.publish(root + "/t", b"m%d" % i, qos=1)
    want = sorted(b"m%d" % i for i in range(n))
    for group in (g1, g2):
        got = collect(group, n)
        assert sorted(p for v in got.values() for p in v) == want
    assert sorted(m.payload for m in plain.get_n(n)) == want


def test_member_qos_caps_delivery(paho):
    """[MQTT-3.8.4-6] the member's granted QoS caps what it gets."""
    root = uid("sh")
    m0 = shared_members(paho, "g", root, 1, qos=0)[0]
    pub = paho()
    pub.publish(root, b"x", qos=2)
    msg = m0.get()
    assert (msg.payload, msg.qos) == (b"x", 0)


@pytest.mark.roost_only
def test_malformed_share_strings_get_failure_code(raw):
    """[MQTT-4.8.2-1/-2] a ShareName must be at least one character with no
    '+', '#' or '/', and a filter must follow: each such filter gets 0x80
    (3.1.1's one failure code; 5.0 says 0x8F), the valid ones in the same
    SUBSCRIBE are granted, and the connection stays. (A string that is not
    a topic filter at all, e.g. "$share/#/x", is a malformed SUBSCRIBE and
    closes the connection, as any invalid filter does.)"""
    c = raw()
    c.connect()
    root = uid("sh")
    codes = c.subscribe([("$share//" + root, 1), ("$share/g", 1), ("$share/+/" + root, 1),
                         ("$share/g/", 1), ("$share/ok/" + root, 1), ("$share", 1)])
    assert codes == [0x80, 0x80, 0x80, 0x80, 1, 1]
    c.publish(root, b"hello", qos=1, pid=9)
    p = c.expect("PUBLISH")
    assert (p.topic, p.payload) == (root, b"hello")
    c.ping()



@pytest.mark.roost_only
def test_new_shared_subscription_gets_no_retained_message(raw):
    """[MQTT-3.3.1-6] retained messages go to a new non-shared subscription,
    not to a shared one. The only retained topic a "$share/g/<filter>" string
    matches as text is one named "$share/g/..." itself: such a message was
    sent to the new member (retain flag set) before; the same filter without
    the share prefix still gets its retained message."""
    root = uid("sh")
    c = raw()
    c.connect()
    c.publish("$share/g/" + root + "/x", b"kept", qos=1, retain=True)
    c.publish(root + "/x", b"plain", qos=1, retain=True)
    assert c.subscribe([("$share/g/" + root + "/#", 1)]) == [1]
    c.no_packet()
    assert c.subscribe([(root + "/#", 1)], pid=2) == [1]
    p = c.expect("PUBLISH")
    assert (p.topic, p.payload, p.retain) == (root + "/x", b"plain", True)

def test_unsubscribed_member_gets_nothing_more(paho):
    root = uid("sh")
    a, b = shared_members(paho, "g", root, 2)
    a.unsubscribe("$share/g/" + root)
    pub = paho()
    for i in range(10):
        pub.publish(root, b"m%d" % i, qos=1)
    assert sorted(m.payload for m in b.get_n(10)) == sorted(b"m%d" % i for i in range(10))
    time.sleep(0.2)
    assert not a.drain()


@pytest.mark.roost_only
def test_slow_member_is_skipped(broker_factory, paho):
    """A member whose in-flight window is full (it does not acknowledge) is
    skipped: it holds its window of max_inflight messages and the fast
    member gets the rest at once instead of them waiting behind it (when
    every member is slow for a moment, the least loaded one queues the
    message). When the slow one goes away, what it held goes to the fast
    one: every message arrives."""
    br = broker_factory(max_inflight=4)
    root = uid("sh")
    slow = RawClient(br.port)
    try:
        slow.connect(client_id=uid("slow"))
        assert slow.subscribe([("$share/g/" + root, 1)]) == [1]
        fast = paho(br.port)
        assert fast.subscribe("$share/g/" + root, 1) == [1]
        pub = paho(br.port)
        n = 40
        for i in range(n):
            pub.publish(root, b"m%d" % i, qos=1)
        got_slow = publishes(slow)
        assert len(got_slow) == 4, [p.payload for p in got_slow]
        got_fast = [m.payload for m in fast.get_n(n - 8, timeout=10)]
        slow.close()  # no PUBACK: its window and anything queued behind it go to fast
        got_fast += [m.payload for m in fast.get_n(n - len(got_fast), timeout=10)]
        assert sorted(got_fast) == sorted(b"m%d" % i for i in range(n))
    finally:
        slow.close()


@pytest.mark.roost_only
def test_unacknowledged_messages_go_to_another_member_on_disconnect(broker_factory, paho):
    """[MQTT-4.8.2] a QoS 1 message sent to a member whose connection breaks
    before its PUBACK goes to another member (Roost does it at once, for
    clean and persistent members alike)."""
    br = broker_factory(max_inflight=5)
    root = uid("sh")
    quitter = RawClient(br.port)
    quitter.connect(client_id=uid("quit"), clean=False)
    assert quitter.subscribe([("$share/g/" + root, 1)]) == [1]
    stayer = paho(br.port)
    assert stayer.subscribe("$share/g/" + root, 1) == [1]
    pub = paho(br.port)
    n = 30
    for i in range(n):
        pub.publish(root, b"m%d" % i, qos=1)
    held = [p.payload for p in publishes(quitter)]
    assert held, "the quitter got nothing to hold"
    quitter.close()  # no PUBACK, no DISCONNECT
    got = [m.payload for m in stayer.get_n(n, timeout=10)]
    assert sorted(got) == sorted(b"m%d" % i for i in range(n))
    assert set(held) <= set(got)


@pytest.fixture
def http_broker(broker_factory):
    """A roost-broker of its own with /metrics: (mqtt port, http port)."""
    br = broker_factory(http_port=free_port())
    http_port = br.limits["http_port"]
    assert wait_until(lambda: shared_figure(http_port, "groups") is not None, timeout=10)
    return br.port, http_port


def shared_figure(http_port, name):
    """roost_broker_shared_<name> on /metrics, or None when it does not answer."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r"^roost_broker_shared_%s (\d+)$" % name, text, re.M)
    return int(m.group(1)) if m else None


def unsubscribe(raw, filters, pid):
    raw.send(unsubscribe_pkt(pid, filters))
    assert raw.expect("UNSUBACK").pid == pid


@pytest.mark.roost_only
def test_groups_are_freed_when_their_members_leave(http_broker):
    """Every distinct $share/{name}/{filter} made a group that stayed for the
    broker's life (one client could grow its memory without limit). Now a
    group goes when its last member leaves: by UNSUBSCRIBE, or when its
    session ends at disconnect; a new member makes it again and gets
    messages."""
    port, http_port = http_broker
    root = uid("shgc")
    n = 2000
    filters = ["$share/g%d/%s/t" % (i, root) for i in range(n)]
    c = RawClient(port)
    c.connect(client_id=uid("many"))
    for pid, k in enumerate(range(0, n, 200), 1):
        assert c.subscribe([(f, 1) for f in filters[k:k + 200]], pid=pid) == [1] * 200
    assert shared_figure(http_port, "groups") == n
    for pid, k in enumerate(range(0, n // 2, 200), 100):
        unsubscribe(c, filters[k:k + 200], pid)
    assert shared_figure(http_port, "groups") == n - n // 2
    c.close()  # no DISCONNECT: the clean session ends all the same
    assert wait_until(lambda: shared_figure(http_port, "groups") == 0, timeout=10), \
        shared_figure(http_port, "groups")
    # made again by the next member, which gets what is published
    m = RawClient(port)
    p = RawClient(port)
    try:
        m.connect(client_id=uid("again"))
        assert m.subscribe([(filters[7], 1)]) == [1]
        assert shared_figure(http_port, "groups") == 1
        p.connect(client_id=uid("pub"))
        p.publish(root + "/t", b"hello", qos=1)
        got = m.expect("PUBLISH")
        assert got.payload == b"hello"
        m.ack(got)
    finally:
        m.close()
        p.close()
    assert wait_until(lambda: shared_figure(http_port, "groups") == 0, timeout=10)


@pytest.mark.roost_only
def test_group_stays_while_a_message_given_to_a_member_is_unacknowledged(http_broker):
    """A member that unsubscribes still holds the QoS 1 message it was given:
    its group stays (the message would go to another member if it went
    away) until the PUBACK, or until its connection breaks (the message then
    finds no member: dropped and counted, and that count stays on /metrics
    after the group is freed)."""
    port, http_port = http_broker
    root = uid("shgc")
    pub = RawClient(port)
    acker, quitter = RawClient(port), RawClient(port)
    try:
        pub.connect(client_id=uid("pub"))
        for i, mb in enumerate((acker, quitter)):
            mb.connect(client_id=uid("mb"))
            assert mb.subscribe([("$share/g%d/%s/%d" % (i, root, i), 1)]) == [1]
            pub.publish("%s/%d" % (root, i), b"m%d" % i, qos=1)
        held = [mb.expect("PUBLISH") for mb in (acker, quitter)]
        for i, mb in enumerate((acker, quitter)):
            unsubscribe(mb, ["$share/g%d/%s/%d" % (i, root, i)], 50)
        assert shared_figure(http_port, "groups") == 2
        assert shared_figure(http_port, "unacked") == 2
        dropped = shared_figure(http_port, "dropped_total")
        acker.ack(held[0])
        assert wait_until(lambda: shared_figure(http_port, "groups") == 1, timeout=10)
        quitter.close()
        assert wait_until(lambda: shared_figure(http_port, "groups") == 0, timeout=10)
        assert shared_figure(http_port, "unacked") == 0
        assert shared_figure(http_port, "dropped_total") == dropped + 1
    finally:
        for c in (pub, acker, quitter):
            c.close()
