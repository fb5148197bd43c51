"""Client-id binding (issue 13, abuse controls): a client can carry the MQTT
client ids it may connect with (exact, '*', %u). A credential can then no
longer connect as another device's client id, kick it and take over its
session: CONNACK 5, and the device stays connected. Real admin, authd,
broker, Redis; raw MQTT clients."""

import os
import subprocess

from conftest import RawClient, T, assert_closed_by_broker, connect_pkt, wait_until
from stack import ROOSTCTL_BIN, TOKEN, stack  # noqa: F401  (stack: fixture)

PW = "password-123"


def connect(port, cid, user, clean=True):
    c = RawClient(port, T)
    c.send(connect_pkt(cid, clean=clean, username=user, password=PW.encode()))
    p = c.expect("CONNACK", T)
    return c, p.body[1]


def still_open(c):
    c.send(bytes([0xC0, 0]))          # PINGREQ
    return c.expect("PINGRESP", T) is not None


def test_allowed_client_ids_stop_session_takeover(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd(changes=True)
    b = stack.start_broker(cluster=True)
    st, alice = stack.api("POST", "/api/v1/clients", {"name": "alice", "username": "alice", "password": PW,
                                                      "allowed_client_ids": ["%u-*"]})
    assert st == 201 and alice["allowed_client_ids"] == ["%u-*"], alice
    st, mallory = stack.api("POST", "/api/v1/clients", {"name": "mallory", "username": "mallory", "password": PW,
                                                        "allowed_client_ids": ["%u-*", "lab-7"]})
    assert st == 201
    victim, rc = connect(b.port, "alice-1", "alice", clean=False)
    assert rc == 0
    # mallory's valid credential, alice's client id: refused, alice untouched
    thief, rc = connect(b.port, "alice-1", "mallory")
    assert rc == 5
    assert_closed_by_broker(thief)
    assert still_open(victim)
    # mallory's own ids work
    for cid in ("mallory-x", "lab-7"):
        c, rc = connect(b.port, cid, "mallory")
        assert rc == 0, cid
        c.close()
    assert wait_until(lambda: "reason=client_id_not_allowed" in stack.authds[0].log(), 5)  # authd logs after answering
    # edits apply at the next CONNECT; an empty list allows any id again
    st, doc = stack.api("PATCH", "/api/v1/clients/%s" % mallory["id"], {"allowed_client_ids": ["lab-8"]})
    assert st == 200 and doc["allowed_client_ids"] == ["lab-8"]
    assert connect(b.port, "lab-7", "mallory")[1] == 5
    assert stack.api("PATCH", "/api/v1/clients/%s" % mallory["id"], {"allowed_client_ids": []})[0] == 200
    c, rc = connect(b.port, "whatever", "mallory")
    assert rc == 0
    c.close()
    assert stack.api("GET", "/api/v1/clients/%s" % alice["id"])[1]["allowed_client_ids"] == ["%u-*"]
    victim.close()


def test_bad_allowed_client_ids_are_refused_and_roostctl_sets_them(stack):
    stack.start_redis()
    stack.start_admin()
    for bad in (["ok", 7], ["a\nb"], [""], ["x" * 256], ["id-%d" % i for i in range(33)], "not-a-list"):
        st, doc = stack.api("POST", "/api/v1/clients", {"name": "n", "username": "u1", "password": PW,
                                                        "allowed_client_ids": bad})
        assert st == 400 and doc["details"].get("field") == "allowed_client_ids", (bad, doc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_ADMIN")}
    p = subprocess.run([ROOSTCTL_BIN, "--admin", stack.admin.rpc, "--token-file", "-", "--json", "clients",
                        "create", "--name", "ctl", "--username", "ctl", "--password-stdin",
                        "--allowed-client-id", "%u-*", "--allowed-client-id", "spare"],
                       input=TOKEN + "\n" + PW + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    assert '"allowed_client_ids": ["%u-*", "spare"]' in p.stdout or \
        '"allowed_client_ids":["%u-*","spare"]' in p.stdout, p.stdout
