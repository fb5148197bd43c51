"""Per-group rate limits (issue 13, abuse controls): a group may carry
max_msg_rate (PUBLISHes/s) and max_byte_rate (their bytes/s); authd sends a
client's limits with its CONNECT decision (the most generous one any of its
groups sets), and the broker holds that connection to them by backpressure,
in place of its own --max-msg-rate / --max-byte-rate. Real admin, authd,
broker, Redis; raw MQTT clients; the rate is measured at a subscriber."""

import threading
import time

from conftest import RawClient, publish_pkt, uid
from stack import stack  # noqa: F401  (stack: fixture)

PW = "password-123"


def client(port, user):
    c = RawClient(port, 5)
    c.connect(uid(user), username=user, password=PW.encode())
    return c


def held_rate(port, user, topic, want):
    """Publishes 4 s worth of QoS 0 messages at `want`/s as fast as the socket
    takes them; returns the rate a subscriber saw after the 1 s burst."""
    sub = client(port, "reader")
    sub.subscribe([(topic, 0)])
    arrivals = []

    def read():
        while True:
            try:
                p = sub.recv_packet(timeout=30)
            except Exception:
                return
            if p is None:
                return
            arrivals.append(time.monotonic())
    threading.Thread(target=read, daemon=True).start()
    pub = client(port, user)
    count = int(want * 4)
    pub.sock.settimeout(None)
    sender = threading.Thread(target=lambda: pub.sock.sendall(publish_pkt(topic, b"x" * 50) * count),
                              daemon=True)
    sender.start()
    deadline = time.monotonic() + 30
    while len(arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    sender.join(10)
    assert len(arrivals) == count, (len(arrivals), count)   # held, never dropped
    first = int(want * 1.25)
    rate = (count - 1 - first) / (arrivals[-1] - arrivals[first])
    pub.close()
    sub.close()
    return rate


def test_group_limits_hold_their_members_and_the_most_generous_wins(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd()
    # the broker's own limit is far above: the groups' limits replace it
    b = stack.start_broker(extra=("--max-msg-rate", "100000"))
    pub = [("allow", "publish", "rl/#")]
    slow = stack.add_group("slow", pub)
    st, doc = stack.api("PATCH", "/api/v1/groups/%s" % slow["id"], {"max_msg_rate": 100})
    assert st == 200 and doc["max_msg_rate"] == 100 and doc["max_byte_rate"] == 0, doc
    st, medium = stack.api("POST", "/api/v1/groups", {"name": "medium", "acl": [], "max_msg_rate": 200,
                                                      "max_byte_rate": 1000000})
    assert st == 201 and medium["max_msg_rate"] == 200, medium
    reader = stack.add_group("reader", [("allow", "subscribe", "rl/#")])
    for user, groups in (("s1", [slow]), ("m1", [slow, medium]), ("reader", [reader])):
        cl = stack.add_client(user, PW)
        stack.add_rule("client", cl["id"], [g["id"] for g in groups])
    got = held_rate(b.port, "s1", "rl/s1", 100)
    print("slow group: %.1f msg/s (want 100)" % got)
    assert abs(got - 100) <= 5, got
    got = held_rate(b.port, "m1", "rl/m1", 200)
    print("slow + medium groups: %.1f msg/s (want 200)" % got)
    assert abs(got - 200) <= 10, got
    # a PATCH of one limit keeps the other
    st, doc = stack.api("PATCH", "/api/v1/groups/%s" % medium["id"], {"max_msg_rate": 300})
    assert st == 200 and doc["max_msg_rate"] == 300 and doc["max_byte_rate"] == 1000000, doc
    assert stack.api("GET", "/api/v1/groups/%s" % medium["id"])[1]["max_byte_rate"] == 1000000
    st, page = stack.api("GET", "/api/v1/groups?search=medium")
    assert st == 200 and [(g["max_msg_rate"], g["max_byte_rate"]) for g in page["items"]] == [(300, 1000000)], page


def test_bad_group_limits_are_refused(stack):
    stack.start_redis()
    stack.start_admin()
    for field, bad in (("max_msg_rate", -1), ("max_msg_rate", 100000001), ("max_msg_rate", "10"),
                       ("max_byte_rate", -5), ("max_byte_rate", 1 << 32), ("max_byte_rate", 1.5)):
        st, doc = stack.api("POST", "/api/v1/groups", {"name": "g-" + uid("x"), "acl": [], field: bad})
        assert st == 400 and doc["details"]["field"] == field, (field, bad, doc)
    g = stack.add_group("ok", [])
    assert g["max_msg_rate"] == 0 and g["max_byte_rate"] == 0
    st, doc = stack.api("PATCH", "/api/v1/groups/%s" % g["id"], {"max_byte_rate": -1})
    assert st == 400 and doc["details"]["field"] == "max_byte_rate", doc
