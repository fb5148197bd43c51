"""29 A retained QoS 1 message is served to new subscribers by the broker
that took the PUBLISH and by the other one.

Reported: under script/server one broker served a retained message and the
other never did. The cause: a broker's copy of a peer's retained messages
follows the bus (ZeroMQ PUB/SUB), which drops what a peer sends before our
subscription reaches it, and the retained set was read from Redis only when
the Redis link came up. A broker just started (or restarted by
script/server's supervisor) is found by the others at their next registry
heartbeat (up to 1 s): a retained message published on it meanwhile reached
only its own store, for good. Now a broker re-reads the retained set from
Redis two heartbeats after a peer joins or its bus link comes back.

test_retained_published_before_the_peer_joined: b2 runs, b1 starts and a
retained message is published on it at once (b2 has not joined b1 yet);
b2 must serve it (it never did before). The re-read asks Redis only for
what was put after the broker's last read (retained:log, sstore.h): b2
reads b1's 11 messages, then, when b3 joins and publishes one at once,
that one, not the 12 of the set; and when the log no longer reaches back
to b2's last read (trimmed), the whole set.

test_retained_under_script_server: the reported setup (two clustered
brokers behind haproxy with --proxy-protocol, TLS and WebSocket listeners,
--admin-events, the CurveZMQ bus): the publishing broker serves a retained
message right after the PUBACK, the other once a live subscriber there saw
it; each broker reached on its own port with a PROXY header, and through
haproxy."""

import re

import pytest

from cluster_stack import Cluster, running
from conftest import PahoClient, RawClient, uid, wait_until
from test_58_server_supervise import T, server  # noqa: F401 (fixture)

pytestmark = pytest.mark.roost_only


def direct(port):
    """A client on one broker's own port, PROXY header first (the brokers
    run with --proxy-protocol: a connection without one is closed)."""
    c = RawClient(port)
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 %d\r\n" % port)
    c.connect(uid("ret-"))
    return c


def new_subscriber_gets(port, topic, payload):
    c = direct(port)
    try:
        assert c.subscribe([(topic, 1)]) == [1]
        p = c.expect("PUBLISH")
        assert (p.topic, p.payload, p.retain) == (topic, payload, True), p
        c.ack(p)
    finally:
        c.close()


def live_on(port, topic):
    c = direct(port)
    assert c.subscribe([(topic, 1)]) == [1]
    return c


def live_got(c, topic, payload):
    try:
        p = c.expect("PUBLISH")
        assert (p.topic, p.payload, p.retain) == (topic, payload, False), p
        c.ack(p)
    finally:
        c.close()


def retain(port, topic, payload):
    """A new client on port publishes payload to topic, QoS 1 retained,
    and leaves once it is acknowledged."""
    pub = RawClient(port)
    pub.connect(uid("ret-"))
    pub.publish(topic, payload, qos=1, retain=True)
    pub.close()


def serves(port, topic, payload, proxy=False):
    """A new subscriber on port gets topic's retained message (True), or
    nothing within a second (False)."""
    c = RawClient(port)
    try:
        if proxy:
            c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 %d\r\n" % port)
        c.connect(uid("ret-"))
        assert c.subscribe([(topic, 1)]) == [1]
        try:
            p = c.expect("PUBLISH", timeout=1.0)
        except Exception:
            return False
        assert (p.topic, p.payload, p.retain) == (topic, payload, True), p
        c.ack(p)
        return True
    finally:
        c.close()


def test_retained_published_before_the_peer_joined():
    with running(Cluster(), None) as cl:
        cl.start_redis()
        b2 = cl.start_broker("b2")
        b1 = cl.start_broker("b1")
        topic = "ret/%s" % uid("early")
        pub = RawClient(b1.port)
        pub.connect(uid("ret-"))
        pub.publish(topic, b"early", qos=1, retain=True)
        for k in range(10):  # more of the set, also put before b2's re-read
            pub.publish("%s/%d" % (topic, k), b"more", qos=1, retain=True, pid=k + 2)
        pub.close()
        # (when b2 had already joined b1, the bus carried it: still checked)
        early = "b1" not in b2.peers_seen()
        assert serves(b1.port, topic, b"early")
        cl.wait_mesh()
        # b2 re-reads the retained set two heartbeats after b1 joined
        assert wait_until(lambda: serves(b2.port, topic, b"early"), timeout=10), \
            "b2 never served b1's retained message (published before b2 joined: %s)" % early
        # its first read at connect had the whole (empty) set; the re-read
        # asks what was put since: the 11
        # (waited for: when b2 had joined b1 first, the bus served "early"
        # before the re-read ran)
        assert wait_until(lambda: re.search(r"event=retained_loaded messages=11 since=0-0 ", b2.log()),
                          timeout=10), b2.log()[-3000:]

        # a third broker joins and publishes at once: b2's re-read asks only
        # for what was put after its last read (1 message of the 12)
        b3 = cl.start_broker("b3")
        late = "ret/%s" % uid("late")
        retain(b3.port, late, b"late")
        cl.wait_mesh()
        assert wait_until(lambda: serves(b2.port, late, b"late"), timeout=10), b2.log()[-3000:]
        assert wait_until(lambda: re.search(r"event=retained_loaded messages=1 since=[1-9]\d*-\d+ ",
                                            b2.log()), timeout=10), b2.log()[-3000:]
        assert not re.search(r"event=retained_loaded messages=1[2-9]\b", b2.log()), b2.log()[-3000:]

        # the log no longer reaches back to b2's mark (trimmed): the next
        # re-read is of the whole set (13 with b4's)
        assert cl.redis.cmd("XTRIM", cl.prefix + "{g}:retained:log", "MAXLEN", "0") != ""
        b4 = cl.start_broker("b4")
        last = "ret/%s" % uid("last")
        retain(b4.port, last, b"last")
        assert wait_until(lambda: "event=retained_log_short" in b2.log(), timeout=10), b2.log()[-3000:]
        assert wait_until(lambda: re.search(r"event=retained_loaded messages=13 mark=", b2.log()),
                          timeout=10), b2.log()[-3000:]
        assert serves(b2.port, last, b"last")


def test_failed_read_of_the_retained_set_is_read_again():
    """A broker whose read of the retained set fails (here Redis refuses
    HGETALL to its user for a moment: NOPERM) reads it again two heartbeats
    later, and serves what was stored. Before, a failed read was only
    logged: a broker alone kept no retained message until a peer joined."""
    with running(Cluster(), None) as cl:
        r = cl.start_redis()
        b0 = cl.start_broker("b0")
        topic = "ret/%s" % uid("again")
        retain(b0.port, topic, b"kept")
        b0.term()
        assert r.cmd("ACL", "SETUSER", "default", "-hgetall") == "OK"
        b1 = cl.start_broker("b1")
        assert wait_until(lambda: "event=retained_load_failed" in b1.log(), timeout=10), b1.log()[-3000:]
        assert r.cmd("ACL", "SETUSER", "default", "+hgetall") == "OK"
        assert wait_until(lambda: serves(b1.port, topic, b"kept"), timeout=10), \
            "b1 never read the retained set again after its read failed"


def test_retained_under_script_server(server):
    s = server
    assert wait_until(lambda: "Roost is running" in s.out() or s.proc.poll() is not None, timeout=90), s.out()
    assert s.proc.poll() is None, s.out()
    g = s.api("POST", "/api/v1/groups", {"name": "ret", "description": "",
                                         "acl": [{"permission": "allow", "action": "publish", "topic": "ret/#"},
                                                 {"permission": "allow", "action": "subscribe", "topic": "ret/#"}]})
    s.api("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "ret-*", "groups": [g["id"]]})
    b1, b2 = s.ports["BROKER1"], s.ports["BROKER2"]
    # (authd learns the rule from admin's change event: the first SUBACK
    # granted is the sign it has)
    topic0 = "ret/%s" % uid("ready")

    def granted():
        c = direct(b1)
        try:
            return c.subscribe([(topic0, 1)]) == [1]
        finally:
            c.close()
    assert wait_until(granted, timeout=T)
    # the bus meshed: each broker's log shows the other joined
    assert wait_until(lambda: all("event=peer_joined peer=broker-%d" % (3 - i) in
                                  open("%s/log/broker%d.log" % (s.var, i)).read() for i in (1, 2)),
                      timeout=T), s.logs()

    # Published on each broker's own port: that broker serves it right
    # after the PUBACK, the other once its live subscriber has seen it.
    for here, there in ((b1, b2), (b2, b1)):
        topic = "ret/%s" % uid("direct")
        live = live_on(there, topic)
        pub = direct(here)
        pub.publish(topic, b"kept", qos=1, retain=True)
        new_subscriber_gets(here, topic, b"kept")
        pub.close()
        live_got(live, topic, b"kept")
        new_subscriber_gets(there, topic, b"kept")

    # Through haproxy (whichever broker takes it), four times: a live
    # subscriber on each broker is the barrier, then both serve it.
    for i in range(4):
        topic = "ret/%s" % uid("lb")
        lives = [live_on(b1, topic), live_on(b2, topic)]
        pub = PahoClient(s.ports["MQTT"], client_id=uid("ret-"))
        try:
            pub.connect(timeout=T)
            pub.publish(topic, b"v%d" % i, qos=1, retain=True, timeout=T)
        finally:
            pub.disconnect()
        for c in lives:
            live_got(c, topic, b"v%d" % i)
        new_subscriber_gets(b1, topic, b"v%d" % i)
        new_subscriber_gets(b2, topic, b"v%d" % i)
