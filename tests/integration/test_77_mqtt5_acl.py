"""MQTT 5.0 access decisions on messages (issue 15) across the whole stack
(redis-server, roost-admin, roost-authd, roost-broker): a denied PUBLISH is
refused with PUBACK / PUBREC 0x87 Not authorized (5.0 can refuse, unlike
3.1.1, whose PUBLISH is acknowledged and dropped); a denied filter gets
SUBACK 0x87 (3.1.1: 0x80) beside the granted ones, the conformance
suite's `test/nosubscribe` deny among them. Normative statements of MQTT
5.0 are cited as [MQTT-x.x.x-y]."""

import os

import pytest

from conftest import RawClient, connect_pkt, publish_pkt, uid
from mqtt5 import C5, ack5, ack5_pkt
from stack import AUTHD_BIN, BROKER_BIN, stack  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

PW = "password-123"
T = 10.0


def acl_stack(stack):
    stack.start_redis()
    stack.start_admin()
    a = stack.start_authd(changes=True)
    b = stack.start_broker("b1", authd=a, cluster=True, admin_events=True)
    cl = stack.add_client("dev5m", PW)
    g = stack.add_group("g5m", [("allow", "subscribe", "#"), ("deny", "subscribe", "test/nosubscribe"),
                                ("allow", "publish", "ok/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    return b


def test_denied_publish_and_subscribe_reason_codes(stack):
    """PUBLISH outside the ACL: PUBACK 0x87 (QoS 1), PUBREC 0x87 (QoS 2, the
    exchange ends: no PUBREL follows a PUBREC of 0x80 or more
    [MQTT-4.3.3-4]); nothing
    reaches a subscriber. SUBSCRIBE with a denied filter: 0x87 for it, the
    granted QoS for the others, in order [MQTT-3.9.3-1]. A 3.1.1 client on
    the same broker still gets 0x80 and a plain PUBACK."""
    b = acl_stack(stack)
    base = uid("acl5")
    with C5(b.port, username="dev5m", password=PW.encode()) as c, \
            C5(b.port, username="dev5m", password=PW.encode()) as s:
        assert s.sub([("ok/" + base, 1), ("no/" + base, 1)]) == [1, 1]
        assert c.sub([("test/nosubscribe", 1), ("ok/" + base + "/x", 2)]) == [0x87, 2]
        assert c.pub("no/" + base, b"denied", qos=1, pid=1) == 0x87
        assert c.pub("no/" + base, b"denied2", qos=2, pid=2) == 0x87
        assert c.pub("ok/" + base, b"allowed", qos=1, pid=3) == 0
        topic, _, payload, _ = s.get(T)
        assert (topic, payload) == ("ok/" + base, b"allowed")
        s.no_packet(0.3)
        # the refused QoS 2 id was never recorded: a PUBREL finds nothing
        c.send(ack5_pkt("PUBREL", 2))
        assert ack5(c._expect_ack("PUBCOMP", 2))[:2] == (2, 0x92)
    with RawClient(b.port) as r:
        r.send(connect_pkt(uid("acl3"), username="dev5m", password=PW))
        assert r.expect("CONNACK").body[1] == 0
        assert r.subscribe([("test/nosubscribe", 1), ("ok/y", 0)]) == [0x80, 0]
        r.send(publish_pkt("no/" + base, b"x", qos=1, pid=9))
        p = r.expect("PUBACK")
        assert p.body == b"\x00\x09"  # 3.1.1: acknowledged and dropped
