"""A persistent session whose subscription a deny entry overlaps (allow
s/#, deny s/secret: granted, filtered at delivery) does not keep the denied
messages in its Redis queue: they would count toward --max-queued and crowd
out the allowed ones until the next reconnect (issue 11, bug 2).

Real processes: Redis, admin, authd, one broker in cluster mode (so
persistent sessions' queues live in Redis), raw MQTT clients."""
from conftest import T, RawClient, connect_pkt, uid
from stack import stack, wait_for  # noqa: F401  (stack: fixture)
from test_31_auth_e2e import PW, Marker, base_stack, observer

MAX_QUEUED = 4


def test_denied_topics_leave_no_queue_entries(stack):
    _, b = base_stack(stack, broker_kw={"cluster": True, "extra": ("--max-queued", str(MAX_QUEUED))})
    cl = stack.add_client("reader", PW)
    g = stack.add_group("readers", [("allow", "subscribe", "s/#"), ("deny", "subscribe", "s/secret"),
                                    ("allow", "subscribe", "m/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    cid = uid("pers")
    sub = RawClient(b.port, T)
    sub.send(connect_pkt(cid, clean=False, username="reader", password=PW.encode()))
    assert sub.expect("CONNACK").body[1] == 0
    assert sub.subscribe([("s/#", 1), ("m/#", 1)]) == [1, 1]
    pub = observer(stack, b, ["w/#"])
    mk = Marker(sub, pub, "m/mark")
    qkey = "%sq:{c:%s}" % (stack.prefix, cid)

    # more denied messages than the queue may hold, then an allowed one
    for i in range(2 * MAX_QUEUED):
        pub.publish("s/secret", b"classified-%d" % i, qos=1, pid=10 + i)
    pub.publish("s/public", b"hello", qos=1, pid=9)
    got = mk.before()
    assert got == [("s/public", b"hello")], got
    # the marker and s/public were acknowledged: nothing is left for this
    # session, in particular none of the denied ones
    assert wait_for(lambda: stack.redis_cli("LLEN", qkey) == "0", 5.0), \
        stack.redis_cli("LRANGE", qkey, 0, -1)
