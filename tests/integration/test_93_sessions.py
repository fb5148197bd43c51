"""Persistent sessions across brokers.

DUP on restore (issue 12): a message the last holder of a session sent and
got no PUBACK for goes out again with DUP=1 on the next broker; the ones
queued while the device was away, never sent, go out with DUP=0.

--session-owner-only (issue 13, abuse controls): a CONNECT whose client id
names a session another credential created (live on any broker, or a stored
persistent one) gets CONNACK 5 and the session stays where it is; the same
credential still takes its own session over. Off by default: MQTT's plain
takeover. Real admin, authd, brokers (single node and a cluster), Redis;
raw MQTT clients."""

from conftest import RawClient, T, assert_closed_by_broker, connect_pkt, publish_pkt
from stack import stack, wait_for  # noqa: F401  (stack: fixture)

PW = "password-123"
OWNER_ONLY = ("--session-owner-only",)


def connect(port, cid, user, clean=True):
    c = RawClient(port, T)
    c.send(connect_pkt(cid, clean=clean, username=user, password=PW.encode()))
    p = c.expect("CONNACK", T)
    return c, p.body[1], p.body[0] & 1


def still_open(c):
    c.send(bytes([0xC0, 0]))          # PINGREQ
    return c.expect("PINGRESP", T) is not None


def refused(port, cid, user, clean=True):
    c, rc, _ = connect(port, cid, user, clean)
    assert rc == 5, (cid, user, rc)
    assert_closed_by_broker(c)
    c.close()


def start(stack, n_brokers, cluster, extra=OWNER_ONLY):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd()
    stack.add_client("alice", PW)
    stack.add_client("bob", PW)
    bs = [stack.start_broker(cluster=cluster, extra=extra) for _ in range(n_brokers)]
    for b in bs:   # every broker sees the others on the bus (a takeover kicks through it)
        others = [o.name for o in bs if o is not b]
        assert wait_for(lambda: all("event=peer_joined peer=%s " % o in b.log() for o in others)), b.name
    return bs


def test_single_node_refuses_another_credentials_takeover(stack):
    (b,) = start(stack, 1, cluster=False)
    alice, rc, _ = connect(b.port, "dev-1", "alice", clean=False)
    assert rc == 0
    refused(b.port, "dev-1", "bob")                    # live session
    refused(b.port, "dev-1", "bob", clean=False)
    assert still_open(alice)
    assert 'client_id=dev-1 reason="session held by another credential"' in b.log()
    # the owner takes its own session over, as MQTT says
    again, rc, _ = connect(b.port, "dev-1", "alice", clean=False)
    assert rc == 0
    assert_closed_by_broker(alice)
    again.send(bytes([0xE0, 0]))                       # DISCONNECT: offline persistent session
    again.close()
    refused(b.port, "dev-1", "bob")                    # stored session, owner offline
    back, rc, present = connect(b.port, "dev-1", "alice", clean=False)
    assert rc == 0 and present == 1
    back.close()
    # a clean session ends with its connection: the id is free again
    c, rc, _ = connect(b.port, "tmp-1", "alice")
    assert rc == 0
    c.send(bytes([0xE0, 0]))
    c.close()
    wait_for(lambda: connect(b.port, "tmp-1", "bob")[1] == 0)


def test_cluster_refuses_across_brokers_and_for_stored_sessions(stack):
    b1, b2 = start(stack, 2, cluster=True)
    alice, rc, _ = connect(b1.port, "dev-2", "alice")
    assert rc == 0
    refused(b2.port, "dev-2", "bob")                   # live on another broker
    refused(b1.port, "dev-2", "bob")                   # live on the same broker
    assert still_open(alice)
    alice.close()
    wait_for(lambda: stack.redis_cli("EXISTS", stack.prefix + "lease:{c:dev-2}").strip() == "0")
    # the clean session ended: another credential may use the id now
    c, rc, _ = connect(b2.port, "dev-2", "bob")
    assert rc == 0
    c.close()
    # a persistent session is claimed for its life, not only while connected
    p, rc, _ = connect(b1.port, "dev-3", "alice", clean=False)
    assert rc == 0
    p.send(bytes([0xE0, 0]))
    p.close()
    wait_for(lambda: stack.redis_cli("EXISTS", stack.prefix + "lease:{c:dev-3}").strip() == "0")
    refused(b2.port, "dev-3", "bob")
    refused(b2.port, "dev-3", "bob", clean=False)
    back, rc, present = connect(b2.port, "dev-3", "alice", clean=False)
    assert rc == 0 and present == 1
    # the owner's takeover across brokers still works
    other, rc, _ = connect(b1.port, "dev-3", "alice", clean=False)
    assert rc == 0
    assert_closed_by_broker(back)
    other.close()


def test_off_by_default_plain_takeover(stack):
    b1, b2 = start(stack, 2, cluster=True, extra=())
    alice, rc, _ = connect(b1.port, "dev-4", "alice", clean=False)
    assert rc == 0
    bob, rc, _ = connect(b2.port, "dev-4", "bob", clean=False)
    assert rc == 0
    assert_closed_by_broker(alice)
    bob.close()


def test_restored_messages_carry_dup_only_when_they_were_sent(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd(allow_anonymous=True)
    g = stack.add_group("dup", [("allow", "publish", "dup/#"), ("allow", "subscribe", "dup/#")])
    stack.add_rule("mqtt_client_id", "dup-*", [g["id"]])
    b1, b2 = [stack.start_broker(cluster=True) for _ in range(2)]
    for b, o in ((b1, b2), (b2, b1)):
        assert wait_for(lambda: "event=peer_joined peer=%s " % o.name in b.log()), b.name
    sub = RawClient(b1.port, T)
    sub.connect("dup-sub", clean=False)
    sub.subscribe([("dup/#", 1)])
    pub = RawClient(b2.port, T)
    pub.connect("dup-pub")
    pub.send(publish_pkt("dup/a", b"one", qos=1, pid=1))
    pub.expect("PUBACK")
    first = sub.expect("PUBLISH")
    assert first.payload == b"one" and not first.dup
    sub.send(bytes([0xE0, 0]))        # away without acknowledging it
    sub.close()
    assert wait_for(lambda: stack.redis_cli("EXISTS", stack.prefix + "lease:{c:dup-sub}").strip() == "0")
    for i, text in enumerate((b"two", b"three")):
        pub.send(publish_pkt("dup/a", text, qos=1, pid=2 + i))
        pub.expect("PUBACK")
    back = RawClient(b2.port, T)
    assert back.connect("dup-sub", clean=False) == 1
    got = {}
    for _ in range(3):
        p = back.expect("PUBLISH")
        got[p.payload] = p.dup
        back.send(bytes([0x40, 2]) + p.raw[-len(p.payload) - 2:-len(p.payload)])   # PUBACK its id
    assert got == {b"one": True, b"two": False, b"three": False}, got
    back.close()
    pub.close()
