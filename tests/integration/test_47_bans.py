"""Bans (issue 13 abuse controls): by MQTT client id, username or address
range, with a reason and an optional expiry. authd refuses a banned CONNECT
(CONNACK 5) and a new ban disconnects the matching live connections on
every broker at once. Real admin, authd, two clustered brokers, Redis."""

import os
import subprocess
import time
import urllib.parse

from conftest import RawClient, T, connect_pkt, wait_until
from stack import ROOSTCTL_BIN, TOKEN, stack, wait_for  # noqa: F401  (stack: fixture)

PW = "password-123"


def connect(port, cid, user, password=PW):
    c = RawClient(port, T)
    c.send(connect_pkt(cid, username=user, password=password.encode()))
    return c, c.expect("CONNACK", T).body[1]


def closed_after(c, t0, limit):
    """Seconds from t0 until the broker closed c (None if not within limit)."""
    c.sock.settimeout(max(0.01, t0 + limit - time.monotonic()))
    try:
        data = c.sock.recv(1)
    except OSError:
        data = b""
    return time.monotonic() - t0 if data == b"" else None


def ban(stack, **body):
    return stack.api("POST", "/api/v1/bans", body)


def test_bans_refuse_and_kick_on_every_broker(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd(changes=True)
    b1 = stack.start_broker(cluster=True, admin_events=True)
    b2 = stack.start_broker(cluster=True, admin_events=True)
    g = stack.add_group("all", [("allow", "publish", "#"), ("allow", "subscribe", "#")])
    for user in ("dev", "other"):
        c = stack.add_client(user, PW)
        stack.add_rule("client", c["id"], [g["id"]])
    a, rc = connect(b1.port, "a-1", "dev")
    assert rc == 0
    bb, rc = connect(b2.port, "b-1", "other")
    assert rc == 0
    # by client id: the live one is kicked (broker 1), nobody else
    t0 = time.monotonic()
    st, doc = ban(stack, kind="client_id", value="a-1", reason="stolen credential")
    assert st == 201 and doc["id"] == "client_id:a-1" and doc["kicked"] == 1, doc
    took = closed_after(a, t0, 1.0)
    assert took is not None, "not kicked within 1 s"
    print("client_id ban: kicked on broker-1 after %.0f ms" % (took * 1000))
    bb.send(bytes([0xC0, 0]))
    assert bb.expect("PINGRESP") is not None
    assert wait_for(lambda: connect(b1.port, "a-1", "dev")[1] == 5, 3.0)
    assert connect(b2.port, "a-2", "dev")[1] == 0        # the same user, another id
    # by username: kicked on broker 2
    t0 = time.monotonic()
    st, doc = ban(stack, kind="username", value="other")
    assert st == 201 and doc["kicked"] == 1 and doc["expires_at"] == 0
    took = closed_after(bb, t0, 1.0)
    assert took is not None
    print("username ban: kicked on broker-2 after %.0f ms" % (took * 1000))
    assert wait_for(lambda: connect(b1.port, "b-9", "other")[1] == 5, 3.0)
    # 5.0 says why: 0x8A Banned (not 0x87 Not authorized)
    from mqtt5 import Raw5, connect5_pkt
    c5 = Raw5(b2.port)
    c5.send(connect5_pkt("b-5", username="other", password=PW.encode()))
    assert c5.expect("CONNACK", T).body[1] == 0x8A
    c5.close()
    # lifting a ban
    assert stack.api("DELETE", "/api/v1/bans/client_id:a-1")[0] == 204
    assert wait_for(lambda: connect(b1.port, "a-1", "dev")[1] == 0, 3.0)
    assert wait_until(lambda: "reason=banned" in stack.authds[0].log() and "auth_banned" in stack.authds[0].log(), 5)  # authd logs after answering
    # by address range, expiring: refused, then in again
    st, doc = ban(stack, kind="cidr", value="127.0.0.0/8", expires_in_s=2, reason="flood")
    assert st == 201 and doc["expires_at"] > 0
    assert wait_for(lambda: connect(b2.port, "z-1", "dev")[1] == 5, 3.0)
    assert wait_for(lambda: connect(b2.port, "z-2", "dev")[1] == 0, 6.0)
    listed = stack.api("GET", "/api/v1/bans")[1]
    assert [x["id"] for x in listed["items"]] == ["username:other"], listed
    # roostctl
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_ADMIN")}
    p = subprocess.run([ROOSTCTL_BIN, "--admin", stack.admin.rpc, "--token-file", "-", "bans", "list"],
                       input=TOKEN + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0 and "username:other" in p.stdout, p.stdout + p.stderr
    p = subprocess.run([ROOSTCTL_BIN, "--admin", stack.admin.rpc, "--token-file", "-", "bans", "delete",
                        "username:other"], input=TOKEN + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    assert stack.api("GET", "/api/v1/bans")[1]["items"] == []


def test_bad_bans_are_refused(stack):
    stack.start_redis()
    stack.start_admin()
    for body, field in (({"kind": "ip", "value": "x"}, "kind"), ({"kind": "cidr", "value": "10.0.0.0/33"}, "value"),
                        ({"kind": "username", "value": ""}, "value"),
                        ({"kind": "username", "value": "u", "expires_in_s": 0}, "expires_in_s"),
                        ({"kind": "username", "value": "u", "reason": "r" * 300}, "reason"),
                        ({"value": "u"}, "kind")):
        st, doc = ban(stack, **body)
        assert st == 400 and doc["details"].get("field") == field, (body, doc)
    assert stack.api("DELETE", "/api/v1/bans/" + urllib.parse.quote("username:nobody"))[0] == 404


def test_flapping_client_id_is_banned_for_a_while(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd(changes=True, extra=["--flapping-max", "3", "--flapping-window", "60",
                                           "--flapping-ban", "2"])
    b = stack.start_broker(cluster=True, admin_events=True)
    stack.add_client("flappy", PW)
    # Someone who knows the id but not the password cannot get it banned:
    # only CONNECTs with the right credentials count.
    for i in range(6):
        c, rc = connect(b.port, "flap-1", "mallory", password="wrong-password-%d" % i)
        assert rc in (4, 5), (i, rc)
        c.close()
    assert stack.api("GET", "/api/v1/bans")[1]["items"] == []
    # The first CONNECT is verified by argon2 (a cache miss, on a hash worker)
    # and is not counted; the next ones are cache hits and are.
    for i in range(4):
        c, rc = connect(b.port, "flap-1", "flappy")
        assert rc == 0, i
        c.close()
    c, rc = connect(b.port, "flap-1", "flappy")
    assert rc == 5                                     # the 4th counted within the window
    bans = stack.api("GET", "/api/v1/bans")[1]["items"]
    assert [x["id"] for x in bans] == ["client_id:flap-1"] and bans[0]["reason"].startswith("flapping: 4"), bans
    assert connect(b.port, "flap-2", "flappy")[1] == 0  # another id of the same client is fine
    assert wait_until(lambda: "auth_flapping" in stack.authds[0].log(), 5)  # authd logs after answering
    # the ban expires (2 s) and the count started again
    assert wait_for(lambda: connect(b.port, "flap-1", "flappy")[1] == 0, 6.0)
