"""83 shared subscriptions and access control (issue 16): the SUBSCRIBE
check applies to the filter after "$share/{name}/", never to the prefix (an
allow entry on "$share/#" grants nothing, a deny on the filter wins), a
deny entry that only overlaps a shared filter keeps its topics from that
member (and the message goes to a member allowed it), and admin's
`explain` answers for a shared filter. Real redis, admin, authd and broker
(stack.py), on a single node and in cluster mode."""

import os
import time

import pytest

from conftest import PahoClient, uid
from stack import AUTHD_BIN, BROKER_BIN, stack  # noqa: F401  (stack: fixture)
from test_31_auth_e2e import PW, Marker, base_stack, connected, observer

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")


@pytest.mark.parametrize("cluster", [False, True], ids=["single", "cluster"])
def test_shared_subscribe_is_decided_on_the_filter(stack, cluster):
    _, b = base_stack(stack, broker_kw={"cluster": cluster})
    cl = stack.add_client("worker", PW)
    g = stack.add_group("workers", [("allow", "subscribe", "jobs/#"), ("deny", "subscribe", "jobs/secret"),
                                    ("allow", "subscribe", "$share/#"), ("allow", "publish", "jobs/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    w = connected(b.port, uid("w"), "worker")
    codes = w.subscribe([("$share/g/jobs/+", 1),        # covered by jobs/#, overlaps the deny: granted
                         ("$share/g/other/#", 1),       # "$share/#" allows nothing: the filter decides
                         ("$share/g/jobs/secret", 1),   # the deny covers the filter
                         ("$share/g/#", 1),             # no allow covers '#'
                         ("$share/+/jobs/a", 1)])       # not a shared filter: failure
    assert codes == [1, 0x80, 0x80, 0x80, 0x80]
    pub = observer(stack, b, ["jobs/mark"])
    mk = Marker(w, pub, "jobs/mark")
    # the marker itself is on jobs/+ : the shared member gets it too (one member)
    pub.publish("jobs/a", b"1", qos=1, pid=3)
    pub.publish("jobs/secret", b"classified", qos=1, pid=4)   # overlapping deny: not to this member
    pub.publish("jobs/b", b"2", qos=1, pid=5)
    seen = mk.before()
    assert seen == [("jobs/a", b"1"), ("jobs/b", b"2")], seen
    assert "subscribe_denied" in b.log() and "subscribe_invalid_share" in b.log()


def test_denied_topic_goes_to_a_member_allowed_it(stack):
    """Two members: one whose ACL keeps jobs/secret from it, one allowed
    everything; every jobs/secret message goes to the second, the rest are
    shared between both."""
    _, b = base_stack(stack)
    lim = stack.add_client("limited", PW)
    g = stack.add_group("lim", [("allow", "subscribe", "jobs/#"), ("deny", "subscribe", "jobs/secret")])
    stack.add_rule("client", lim["id"], [g["id"]])
    a = connected(b.port, uid("lim"), "limited")
    assert a.subscribe([("$share/g/jobs/#", 1)]) == [1]
    full = PahoClient(b.port, client_id=uid("full"))
    pub = observer(stack, b, [uid("nothing")])
    c = stack.add_client("fullmember", PW)
    g2 = stack.add_group("full", [("allow", "subscribe", "#")])
    stack.add_rule("client", c["id"], [g2["id"]])
    full.c.username_pw_set("fullmember", PW)
    full.connect()
    try:
        assert full.subscribe("$share/g/jobs/#", 1) == [1]
        for i in range(10):
            pub.publish("jobs/secret", b"s%d" % i, qos=1, pid=10 + i)
            pub.publish("jobs/open", b"o%d" % i, qos=1, pid=30 + i)
        got_full, got_a = [], []
        deadline = time.monotonic() + 5
        while len(got_full) + len(got_a) < 20 and time.monotonic() < deadline:
            got_full += [(m.topic, m.payload) for m in full.drain()]
            try:
                p = a.expect("PUBLISH", timeout=0.05)
                a.ack(p)
                got_a.append((p.topic, p.payload))
            except Exception:
                pass
        assert all(t == "jobs/open" for t, _ in got_a), got_a
        assert sorted(p for _, p in got_a + got_full) == sorted([b"s%d" % i for i in range(10)] +
                                                                [b"o%d" % i for i in range(10)])
        assert got_a, "the limited member got no share at all"
    finally:
        full.disconnect()


def test_explain_shared_filter(stack):
    stack.start_redis()
    stack.start_admin()
    cl = stack.add_client("explained", PW)
    g = stack.add_group("ex", [("allow", "subscribe", "jobs/#"), ("deny", "subscribe", "jobs/secret")])
    stack.add_rule("client", cl["id"], [g["id"]])

    def explain(topic):
        return stack.api("POST", "/api/v1/explain", {"username": "explained", "mqtt_client_id": "x",
                                                      "action": "subscribe", "topic": topic})

    status, d = explain("$share/g/jobs/+")[:2]
    assert status == 200 and d["decision"] == "allow", d
    assert d["matched"]["entry"]["topic"] == "jobs/#"
    status, d = explain("$share/g/jobs/secret")[:2]
    assert status == 200 and d["decision"] == "deny" and d["matched"]["entry"]["topic"] == "jobs/secret", d
    status, d = explain("$share/g/other")[:2]
    assert status == 200 and d["decision"] == "deny" and d["matched"] is None, d
    status, d = explain("$share/+/jobs/a")[:2]
    assert status == 400 and d["details"]["field"] == "topic", d


def test_connections_page_data_shows_groups_members_deliveries(stack):
    """The Connections page's shared-subscription table reads admin's
    /api/v1/instances: each broker's record lists its groups, their members
    and the deliveries each got."""
    stack.start_redis()
    stack.start_admin()
    b = stack.start_broker(cluster=True, insecure=True)
    root = uid("sh")
    members = [PahoClient(b.port, client_id=uid("m")) for _ in range(2)]
    pub = PahoClient(b.port)
    try:
        for m in members:
            m.connect()
            assert m.subscribe("$share/pool/%s/+" % root, 1) == [1]
        pub.connect()
        for i in range(10):
            pub.publish("%s/t" % root, b"m%d" % i, qos=1)
        got = {m.client_id: len(m.get_n(5)) for m in members}

        def rows():
            status, doc = stack.api("GET", "/api/v1/instances")
            assert status == 200, doc
            out = {}
            for i in doc["instances"]:
                for g in i.get("shared", []):
                    if g["group"] == "pool" and g["filter"] == root + "/+":
                        for m in g["members"]:
                            out[m["client_id"]] = (i["id"], m["connected"], m["deliveries"])
            return out
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and {k: v[2] for k, v in rows().items()} != got:
            time.sleep(0.2)
        assert rows() == {cid: (b.name, True, n) for cid, n in got.items()}
    finally:
        for c in members + [pub]:
            c.disconnect()
