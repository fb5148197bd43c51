"""A PUBLISH the client's ACL denies never reaches a pipeline (issue 17), with
a real deny: admin makes a client whose group allows publishing dev/ok/# and
denies dev/secret/#, authd decides its CONNECT, and a mapping of dev/# sends
both to one pipeline. QoS 0 and QoS 1 denied messages (3.1.1: acknowledged
and dropped) leave no entry in the pipeline's stream and never reach the
sink; the allowed ones around them arrive, in order.

Real processes: Redis, admin, authd, one broker in cluster mode,
roost-forwarder, an HTTP sink (httpsink.py), raw MQTT clients."""
from conftest import T, RawClient, connect_pkt, uid
from httpsink import Sink
from pipentry import message, xrange
from stack import stack, wait_for  # noqa: F401  (stack: fixture)
from test_31_auth_e2e import PW, base_stack
from test_61_forwarder import Forwarder


def stream(stack, pid):
    """The topics of the entries in the pipeline's stream, in order."""
    key = "%s{g}:pq:%s" % (stack.prefix, pid)
    return [message(f)["topic"].decode() for _, f in xrange(stack.redis.port, key, stack.redis_password)]


def test_denied_publish_on_mapped_topic_is_never_forwarded(stack):
    _, b = base_stack(stack, broker_kw={"cluster": True})
    sink = Sink()
    try:
        cl = stack.add_client("sensor", PW)
        g = stack.add_group("sensors", [("allow", "publish", "dev/ok/#"), ("deny", "publish", "dev/secret/#")])
        stack.add_rule("client", cl["id"], [g["id"]])
        # paused: what the broker appends stays in the stream to be looked at
        p = stack._must("POST", "/api/v1/pipelines", {"name": "acl", "url": sink.url("/acl"), "status": "paused"}, 201)
        stack._must("POST", "/api/v1/topic-mappings", {"topic": "dev/#", "pipeline": p["id"]}, 201)
        key = "%s{g}:pq:%s" % (stack.prefix, p["id"])

        c = RawClient(b.port, T)
        c.send(connect_pkt(uid("sensor"), username="sensor", password=PW.encode()))
        assert c.expect("CONNACK").body[1] == 0
        # the mapping reaches the broker within a second (change event, 500 ms poll)
        assert wait_for(lambda: c.publish("dev/ok/probe", b"probe", qos=1, pid=1) or
                        stack.redis_cli("XLEN", key) != "0", 10.0), "mapping never applied"
        stack.redis_cli("DEL", key)
        # denied at QoS 0 and QoS 1, each between allowed ones on one connection
        # (a connection's PUBLISHes take the pipeline in order: once the last
        # allowed one is acknowledged, every denied one before it was decided)
        c.publish("dev/ok/1", b"ok-1", qos=1, pid=2)
        c.publish("dev/secret/1", b"secret-q0", qos=0)
        c.publish("dev/ok/2", b"ok-2", qos=0)
        c.publish("dev/secret/2", b"secret-q1", qos=1, pid=3)  # 3.1.1: PUBACK, then dropped
        c.publish("dev/ok/3", b"ok-3", qos=1, pid=4)
        assert stream(stack, p["id"]) == ["dev/ok/1", "dev/ok/2", "dev/ok/3"]

        fwd = Forwarder(stack.redis.port, stack.dir, "acl-f1")
        try:
            stack._must("PATCH", "/api/v1/pipelines/%s" % p["id"], {"status": "active"}, 200)
            assert wait_for(lambda: len(sink.accepted("/acl")) >= 3, 15.0), fwd.text()[-2000:]
            c.publish("dev/ok/4", b"ok-4", qos=1, pid=5)  # a barrier behind anything late
            assert wait_for(lambda: len(sink.accepted("/acl")) >= 4, 15.0), fwd.text()[-2000:]
            got = [(m["topic"], m["payload"]) for m in sink.accepted("/acl")]
            assert got == [("dev/ok/1", "ok-1"), ("dev/ok/2", "ok-2"), ("dev/ok/3", "ok-3"), ("dev/ok/4", "ok-4")], got
        finally:
            assert fwd.stop() == 0
        # the broker logged the denials
        assert "publish_denied" in b.log()
        c.close()
    finally:
        sink.close()
