"""What a client sends cannot break or flood the broker's log (issue 11):
a topic with a newline and a forged "event=" stays inside one quoted field
of one line, and a device that keeps publishing where it may not gets the
first few publish_denied lines per window, then one denied_suppressed count
(here at its disconnect). Real processes: Redis, admin, authd, broker."""
import re
import urllib.parse

from conftest import T, RawClient, connect_pkt, uid
from stack import stack, wait_for  # noqa: F401  (stack: fixture)
from test_31_auth_e2e import PW, base_stack, connected

FORGED = "t/a\nlevel=error svc=broker event=forged x=1"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=\w+ svc=\w+ event=\w+( |$)")


def test_denied_topics_are_escaped_and_rate_limited(stack):
    _, b = base_stack(stack)
    cl = stack.add_client("quiet", PW)
    g = stack.add_group("only-sub", [("allow", "subscribe", "s/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    cid = uid("noisy")
    c = RawClient(b.port, T)
    c.send(connect_pkt(cid, username="quiet", password=PW.encode()))
    assert c.expect("CONNACK").body[1] == 0
    for i in range(40):
        c.publish(FORGED, b"x", qos=1, pid=1 + i)     # denied: acknowledged, dropped
    assert c.subscribe([("nope/ x\ny", 0)]) == [0x80]  # denied too, same limit
    c.send(b"\xe0\x00")                               # DISCONNECT
    c.close()
    assert wait_for(lambda: "event=denied_suppressed client_id=%s count=36" % cid in b.log(), T), \
        b.log()[-3000:]
    log = b.log()
    for line in (l for l in log.splitlines() if not l.startswith("### ")):  # the harness header
        assert LINE.match(line), "not a log line of its own: %r" % line
    assert "event=forged" not in log.replace('event=forged x=1"', "")
    denied = [l for l in log.splitlines() if "event=publish_denied client_id=%s " % cid in l]
    assert len(denied) == 5, denied
    assert all(l.endswith(' topic="t/a\\x0alevel=error svc=broker event=forged x=1"') for l in denied), denied
    assert not any("event=subscribe_denied client_id=%s " % cid in l for l in log.splitlines())


def test_kicked_client_id_is_quoted(stack):
    """A client id holding a space and a forged field stays one quoted value
    in the broker's conn_kicked line (it was written bare: 'client_id=kick
    me by=forged by=admin')."""
    stack.start_redis()
    stack.start_admin()
    a = stack.start_authd(changes=True)
    b = stack.start_broker(authd=a, cluster=True, admin_events=True)
    stack.add_client("dev", PW)
    cid = "kick me by=forged"
    victim = connected(b.port, cid, "dev")
    assert wait_for(lambda: cid in stack.connections(), 10.0, 0.1), stack.connections()
    status, doc = stack.api("DELETE", "/api/v1/connections/" + urllib.parse.quote(cid, safe=""))
    assert status == 202, doc
    assert wait_for(lambda: "event=conn_kicked" in b.log(), T), b.log()[-3000:]
    kicked = [l for l in b.log().splitlines() if "event=conn_kicked" in l]
    assert kicked[0].endswith(' client_id="kick me by=forged" by=admin'), kicked
    victim.close()
