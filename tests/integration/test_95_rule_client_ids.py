"""Allowed client ids on group rules (issue 13, client-id binding): a rule
may carry allowed_client_ids (exact, '*', %u); a CONNECT the rule matches
with an MQTT client id outside them gets CONNACK 5, as with the client's own
list. Real admin, authd, broker, Redis; raw MQTT clients; roostctl over RPC."""

import json
import os
import subprocess

from conftest import RawClient, T, assert_closed_by_broker, connect_pkt, wait_until
from stack import ROOSTCTL_BIN, TOKEN, stack  # noqa: F401  (stack: fixture)

PW = "password-123"


def connect(port, cid, user):
    c = RawClient(port, T)
    c.send(connect_pkt(cid, username=user, password=PW.encode()))
    rc = c.expect("CONNACK", T).body[1]
    if rc:
        assert_closed_by_broker(c)
    c.close()
    return rc


def test_a_rules_allowed_client_ids_bind_the_clients_it_matches(stack):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd()
    b = stack.start_broker()
    g = stack.add_group("gateways", [("allow", "publish", "gw/#")])
    gw = stack.add_client("gw", PW)
    other = stack.add_client("plain", PW)
    st, rule = stack.api("POST", "/api/v1/group-rules", {"match_by": "client", "value": gw["id"], "groups": [g["id"]],
                                                         "allowed_client_ids": ["%u-*", "main"]})
    assert st == 201 and rule["allowed_client_ids"] == ["%u-*", "main"], rule
    stack.add_rule("client", other["id"], [g["id"]])       # no list: any id
    assert connect(b.port, "gw-7", "gw") == 0
    assert connect(b.port, "main", "gw") == 0
    assert connect(b.port, "plain-1", "gw") == 5          # the rule matches gw: its list binds
    assert wait_until(lambda: "username=gw client_id=plain-1" in stack.authds[0].log(), 5)  # authd logs after answering
    assert wait_until(lambda: "reason=client_id_not_allowed" in stack.authds[0].log(), 5)  # authd logs after answering
    assert connect(b.port, "anything", "plain") == 0       # a rule without a list binds nothing
    # an edit applies at the next CONNECT; an empty list allows any id again
    st, doc = stack.api("PATCH", "/api/v1/group-rules/%s" % rule["id"], {"allowed_client_ids": ["plain-1"]})
    assert st == 200 and doc["allowed_client_ids"] == ["plain-1"] and doc["groups"] == [g["id"]], doc
    assert connect(b.port, "plain-1", "gw") == 0
    assert connect(b.port, "gw-7", "gw") == 5
    st, doc = stack.api("PATCH", "/api/v1/group-rules/%s" % rule["id"], {"value": gw["id"]})
    assert st == 200 and doc["allowed_client_ids"] == ["plain-1"], doc   # left out: unchanged
    assert stack.api("PATCH", "/api/v1/group-rules/%s" % rule["id"], {"allowed_client_ids": []})[0] == 200
    assert connect(b.port, "gw-7", "gw") == 0
    st, page = stack.api("GET", "/api/v1/group-rules")
    assert st == 200 and all(r["allowed_client_ids"] == [] for r in page["items"]), page


def test_bad_rule_client_ids_are_refused_and_roostctl_sets_them(stack):
    stack.start_redis()
    stack.start_admin()
    g = stack.add_group("g", [])
    for bad in (["ok", 7], ["a\nb"], [""], ["x" * 256], ["id-%d" % i for i in range(33)], "not-a-list"):
        st, doc = stack.api("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "dev-*",
                                                            "groups": [g["id"]], "allowed_client_ids": bad})
        assert st == 400 and doc["details"].get("field") == "allowed_client_ids", (bad, doc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_ADMIN")}
    p = subprocess.run([ROOSTCTL_BIN, "--admin", stack.admin.rpc, "--token-file", "-", "--json", "rules",
                        "create", "--match-by", "mqtt_client_id", "--value", "dev-*", "--group", g["id"],
                        "--allowed-client-id", "dev-1", "--allowed-client-id", "dev-2"],
                       input=TOKEN + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["allowed_client_ids"] == ["dev-1", "dev-2"], p.stdout
