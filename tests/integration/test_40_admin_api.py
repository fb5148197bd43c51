"""roost-admin HTTP API (issue 4): every endpoint, every refusal, tokens,
pagination, audit, change events, explain, connections, health, metrics.
Each module starts its own redis-server and roost-admin (adminstack.py)."""

import os
import stat
import subprocess
import time

import pytest

from adminstack import ROOSTCTL, TOKEN, AdminStack, free_port, stop, wait_until


@pytest.fixture(scope="module")
def st():
    s = AdminStack()
    s.start_redis()
    s.start_admin()
    s.subscribe()
    yield s
    s.close()


def mk_client(st, username, name=None, password="password-123"):
    status, doc, _ = st.request("POST", "/api/v1/clients",
                                {"name": name or username, "username": username, "password": password})
    assert status == 201, doc
    return doc


def mk_group(st, name, acl=(), description=""):
    status, doc, _ = st.request("POST", "/api/v1/groups", {"name": name, "description": description, "acl": list(acl)})
    assert status == 201, doc
    return doc


def assert_err(resp, status, code, field=None):
    got, doc, _ = resp
    assert got == status, doc
    assert doc["code"] == code and isinstance(doc["error"], str) and doc["error"]
    assert isinstance(doc["details"], dict)
    if field:
        assert doc["details"].get("field") == field, doc


# ----------------------------------------------------------------- tokens / 401

ROUTES = [("GET", "/api/v1/clients"), ("POST", "/api/v1/clients"), ("GET", "/api/v1/clients/x"),
          ("PATCH", "/api/v1/clients/x"), ("DELETE", "/api/v1/clients/x"), ("GET", "/api/v1/groups"),
          ("POST", "/api/v1/groups"), ("GET", "/api/v1/groups/x"), ("PATCH", "/api/v1/groups/x"),
          ("DELETE", "/api/v1/groups/x"), ("GET", "/api/v1/group-rules"), ("POST", "/api/v1/group-rules"),
          ("GET", "/api/v1/group-rules/x"), ("PATCH", "/api/v1/group-rules/x"),
          ("DELETE", "/api/v1/group-rules/x"), ("GET", "/api/v1/connections"),
          ("DELETE", "/api/v1/connections/x"), ("POST", "/api/v1/explain"), ("GET", "/api/v1/audit"),
          ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/x")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_token_required_everywhere(st, method, path):
    body = {} if method in ("POST", "PATCH") else None
    assert_err(st.request(method, path, body, token=None), 401, "UNAUTHORIZED")
    assert_err(st.request(method, path, body, token="wrong-token"), 401, "UNAUTHORIZED")
    status, _, hdrs = st.request(method, path, body, token=None)
    assert "Bearer" in hdrs.get("WWW-Authenticate", "")


def test_tokens_create_list_revoke(st):
    status, created, _ = st.request("POST", "/api/v1/tokens", {"name": "ci"})
    assert status == 201 and created["token"].startswith("roost_") and created["name"] == "ci"
    secret = created["token"]
    assert st.request("GET", "/api/v1/clients", token=secret)[0] == 200
    status, lst, _ = st.request("GET", "/api/v1/tokens")
    assert status == 200
    mine = [t for t in lst["items"] if t["id"] == created["id"]]
    assert mine and "token" not in mine[0] and "hash" not in mine[0]
    assert mine[0]["last_used_at"] is not None
    assert all(set(t) == {"id", "name", "created_at", "last_used_at"} for t in lst["items"])
    assert st.request("DELETE", f"/api/v1/tokens/{created['id']}")[0] == 204
    assert_err(st.request("GET", "/api/v1/clients", token=secret), 401, "UNAUTHORIZED")
    assert_err(st.request("DELETE", f"/api/v1/tokens/{created['id']}"), 404, "NOT_FOUND")
    assert_err(st.request("POST", "/api/v1/tokens", {"name": ""}), 400, "BAD_REQUEST", "name")


# ------------------------------------------------------------------------ clients

def test_client_crud_and_events(st):
    st.events(0.2)
    c = mk_client(st, "crud-user", "Sensor A")
    assert set(c) == {"id", "name", "auth_type", "username", "password_set", "created_at", "updated_at",
                      "allowed_client_ids"}
    assert c["auth_type"] == "username_password" and c["password_set"] is True
    assert c["created_at"].endswith("Z") and "." in c["created_at"]
    ev = st.events()
    assert [(e["kind"], e["op"], e["object_id"]) for e in ev] == [("client", "create", c["id"])]
    assert ev[0]["username"] == "crud-user" and ev[0]["version"] > 0

    status, got, _ = st.request("GET", f"/api/v1/clients/{c['id']}")
    assert status == 200 and got == c
    status, upd, _ = st.request("PATCH", f"/api/v1/clients/{c['id']}",
                                {"name": "Sensor B", "username": "crud-user2", "password": "another-pass"})
    assert status == 200 and upd["name"] == "Sensor B" and upd["username"] == "crud-user2"
    ev = st.events()
    assert [(e["kind"], e["op"]) for e in ev] == [("client", "update")]
    assert ev[0]["username"] == "crud-user"  # the old username, for cache invalidation
    assert st.request("DELETE", f"/api/v1/clients/{c['id']}")[0] == 204
    assert [(e["kind"], e["op"]) for e in st.events()] == [("client", "delete")]
    assert_err(st.request("GET", f"/api/v1/clients/{c['id']}"), 404, "NOT_FOUND")
    assert_err(st.request("PATCH", f"/api/v1/clients/{c['id']}", {"name": "x"}), 404, "NOT_FOUND")
    assert_err(st.request("DELETE", f"/api/v1/clients/{c['id']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("body,field", [
    ({"name": "n", "username": "short-pw", "password": "1234567"}, "password"),
    ({"name": "", "username": "empty-name", "password": "password-1"}, "name"),
    ({"name": "x" * 256, "username": "long-name", "password": "password-1"}, "name"),
    ({"name": "n", "username": "a+b", "password": "password-1"}, "username"),
    ({"name": "n", "username": "a#b", "password": "password-1"}, "username"),
    ({"name": "n", "username": "a/b", "password": "password-1"}, "username"),
    ({"name": "n", "username": "a\u0001b", "password": "password-1"}, "username"),
    ({"name": "n", "username": "", "password": "password-1"}, "username"),
    ({"name": 5, "username": "types", "password": "password-1"}, "name"),
    ({"name": "n", "username": "missing-pw"}, "password"),
    ({"name": "n", "username": "unknown", "password": "password-1", "colour": "red"}, "colour"),
    ({"name": "n", "username": "auth", "password": "password-1", "auth_type": "certificate"}, "auth_type"),
])
def test_client_refusals(st, body, field):
    assert_err(st.request("POST", "/api/v1/clients", body), 400, "BAD_REQUEST", field)


def test_patched_password_is_the_one_that_connects(st):
    """A PATCHed password is stored: a device connects with it (through
    authd and a broker on the same Redis) and no longer with the old one; a
    PATCH of another field leaves the password as it was."""
    st.start_mqtt()
    c = mk_client(st, "pw-patch", password="first-password")
    assert st.connack("pw-patch", "first-password") == 0
    status, upd, _ = st.request("PATCH", f"/api/v1/clients/{c['id']}", {"password": "second-password"})
    assert status == 200 and upd["password_set"] is True, upd
    assert st.connack("pw-patch", "second-password") == 0
    assert st.connack("pw-patch", "first-password") == 4
    status, upd, _ = st.request("PATCH", f"/api/v1/clients/{c['id']}", {"name": "renamed"})
    assert status == 200 and upd["name"] == "renamed", upd
    assert st.connack("pw-patch", "second-password") == 0


def test_client_duplicate_username_and_patch_refusals(st):
    a = mk_client(st, "dup-a")
    mk_client(st, "dup-b")
    assert_err(st.request("POST", "/api/v1/clients", {"name": "x", "username": "dup-a", "password": "password-1"}),
               409, "CONFLICT", "username")
    assert_err(st.request("PATCH", f"/api/v1/clients/{a['id']}", {"username": "dup-b"}), 409, "CONFLICT", "username")
    assert_err(st.request("PATCH", f"/api/v1/clients/{a['id']}", {"password": "short"}), 400, "BAD_REQUEST", "password")
    assert_err(st.request("PATCH", f"/api/v1/clients/{a['id']}", {"bogus": 1}), 400, "BAD_REQUEST", "bogus")


def test_malformed_and_oversize_bodies(st):
    assert_err(st.request("POST", "/api/v1/clients", raw=b"{not json"), 400, "BAD_REQUEST")
    assert_err(st.request("POST", "/api/v1/clients", raw=b"[1,2]"), 400, "BAD_REQUEST")
    assert_err(st.request("POST", "/api/v1/clients", raw=b""), 400, "BAD_REQUEST")
    big = b'{"name":"' + b"x" * (70 * 1024) + b'"}'
    assert_err(st.request("POST", "/api/v1/clients", raw=big), 413, "PAYLOAD_TOO_LARGE")
    assert_err(st.request("GET", "/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_pagination_and_search(st):
    ids = {mk_client(st, f"page-{i:02d}", f"Page Device {i}")["id"] for i in range(25)}
    seen, cursor, pages = [], None, 0
    while True:
        q = "/api/v1/clients?limit=10&search=page-" + (f"&cursor={cursor}" if cursor else "")
        status, doc, _ = st.request("GET", q)
        assert status == 200 and len(doc["items"]) <= 10
        seen += [c["id"] for c in doc["items"]]
        pages += 1
        cursor = doc["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 25 and pages >= 3
    status, doc, _ = st.request("GET", "/api/v1/clients?search=DEVICE%2017")
    assert [c["username"] for c in doc["items"]] == ["page-17"]
    assert_err(st.request("GET", "/api/v1/clients?limit=0"), 400, "BAD_REQUEST", "limit")
    assert_err(st.request("GET", "/api/v1/clients?limit=abc"), 400, "BAD_REQUEST", "limit")
    assert_err(st.request("GET", "/api/v1/clients?cursor=garbage!"), 400, "BAD_REQUEST", "cursor")


# ------------------------------------------------------------------- groups, rules

def test_groups_and_rules(st):
    st.events(0.2)
    g = mk_group(st, "sensors", [{"permission": "allow", "action": "publish", "topic": "s/%u/#"}], "all sensors")
    assert g["acl"] == [{"permission": "allow", "action": "publish", "topic": "s/%u/#"}]
    assert g["description"] == "all sensors" and set(g) >= {"id", "name", "created_at", "updated_at"}
    assert [(e["kind"], e["op"]) for e in st.events()] == [("group", "create")]
    status, got, _ = st.request("GET", f"/api/v1/groups/{g['id']}")
    assert status == 200 and got == g
    status, doc, _ = st.request("GET", "/api/v1/groups?search=sens")
    assert [x["id"] for x in doc["items"]] == [g["id"]]
    status, upd, _ = st.request("PATCH", f"/api/v1/groups/{g['id']}", {"acl": g["acl"] + [
        {"permission": "deny", "action": "subscribe", "topic": "s/+/secret"}]})
    assert status == 200 and len(upd["acl"]) == 2
    assert [e["kind"] for e in st.events()] in (["acl"], ["group"])
    assert_err(st.request("POST", "/api/v1/groups", {"name": "sensors"}), 409, "CONFLICT", "name")

    status, rule, _ = st.request("POST", "/api/v1/group-rules",
                                 {"match_by": "mqtt_client_id", "value": "sensor-*", "groups": [g["id"]]})
    assert status == 201 and rule["groups"] == [g["id"]] and rule["match_by"] == "mqtt_client_id"
    assert [(e["kind"], e["op"]) for e in st.events()] == [("rule", "create")]
    status, got, _ = st.request("GET", f"/api/v1/group-rules/{rule['id']}")
    assert status == 200 and got == rule
    status, lst, _ = st.request("GET", "/api/v1/group-rules")
    assert rule["id"] in [r["id"] for r in lst["items"]]
    status, upd, _ = st.request("PATCH", f"/api/v1/group-rules/{rule['id']}", {"value": "sensor-1*"})
    assert status == 200 and upd["value"] == "sensor-1*"
    assert [(e["kind"], e["op"]) for e in st.events()] == [("rule", "update")]

    status, doc, _ = st.request("DELETE", f"/api/v1/groups/{g['id']}")
    assert status == 409 and doc["code"] == "CONFLICT" and doc["details"]["rules"] == [rule["id"]]
    assert rule["id"] in doc["error"] or "rule" in doc["error"]
    assert st.request("DELETE", f"/api/v1/group-rules/{rule['id']}")[0] == 204
    assert st.request("DELETE", f"/api/v1/groups/{g['id']}")[0] == 204
    assert [(e["kind"], e["op"]) for e in st.events()] == [("rule", "delete"), ("group", "delete")]
    assert_err(st.request("GET", f"/api/v1/groups/{g['id']}"), 404, "NOT_FOUND")
    assert_err(st.request("GET", f"/api/v1/group-rules/{rule['id']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("body,field", [
    ({"name": "bad-topic", "acl": [{"permission": "allow", "action": "publish", "topic": "a/#/b"}]}, "acl[0].topic"),
    ({"name": "bad-topic2", "acl": [{"permission": "allow", "action": "publish", "topic": "a/b%u"}]}, "acl[0].topic"),
    ({"name": "bad-perm", "acl": [{"permission": "maybe", "action": "publish", "topic": "a"}]}, "acl[0].permission"),
    ({"name": "bad-act", "acl": [{"permission": "allow", "action": "read", "topic": "a"}]}, "acl[0].action"),
    ({"name": "extra", "acl": [{"permission": "allow", "action": "publish", "topic": "a", "qos": 1}]}, "acl[0].qos"),
    ({"name": "", "acl": []}, "name"),
    ({"name": "acl-type", "acl": "a/#"}, "acl"),
])
def test_group_refusals(st, body, field):
    assert_err(st.request("POST", "/api/v1/groups", body), 400, "BAD_REQUEST", field)


def test_rule_refusals(st):
    g = mk_group(st, "rule-refusals")
    missing = "0" * 24
    status, doc, _ = st.request("POST", "/api/v1/group-rules", {"match_by": "client", "value": missing, "groups": [missing]})
    assert status == 400 and doc["details"]["field"] == "groups" and doc["details"]["ids"] == [missing]
    assert_err(st.request("POST", "/api/v1/group-rules", {"match_by": "ip", "value": "x", "groups": [g["id"]]}),
               400, "BAD_REQUEST", "match_by")
    assert_err(st.request("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "", "groups": [g["id"]]}),
               400, "BAD_REQUEST", "value")
    assert_err(st.request("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "x", "groups": [1]}),
               400, "BAD_REQUEST", "groups[0]")
    assert_err(st.request("PATCH", f"/api/v1/group-rules/{missing}", {"value": "y"}), 404, "NOT_FOUND")


# ------------------------------------------------------------------------- explain

def test_explain(st):
    c = mk_client(st, "explainer")
    g = mk_group(st, "explain-g", [
        {"permission": "allow", "action": "publish", "topic": "t/%u/#"},
        {"permission": "deny", "action": "publish", "topic": "t/%u/secret"},
        {"permission": "allow", "action": "subscribe", "topic": "cmd/%c/#"},
    ])
    assert st.request("POST", "/api/v1/group-rules", {"match_by": "client", "value": c["id"], "groups": [g["id"]]})[0] == 201

    def explain(action, topic, username="explainer", cid="dev-9"):
        status, doc, _ = st.request("POST", "/api/v1/explain",
                                    {"username": username, "mqtt_client_id": cid, "action": action, "topic": topic})
        assert status == 200, doc
        return doc

    d = explain("publish", "t/explainer/temp")
    assert d["decision"] == "allow" and d["groups"] == [{"id": g["id"], "name": "explain-g"}]
    assert d["matched"] == {"group": {"id": g["id"], "name": "explain-g"},
                            "entry": {"permission": "allow", "action": "publish", "topic": "t/%u/#",
                                      "effective_topic": "t/explainer/#"}}
    d = explain("publish", "t/explainer/secret")
    assert d["decision"] == "deny" and d["matched"]["entry"]["permission"] == "deny" and "deny" in d["reason"]
    d = explain("publish", "other/topic")
    assert d["decision"] == "deny" and d["matched"] is None
    assert d["reason"] == "denied: no allow entry matches this topic, and nothing is allowed by default"
    d = explain("subscribe", "cmd/dev-9/+")
    assert d["decision"] == "allow" and d["matched"]["entry"]["effective_topic"] == "cmd/dev-9/#"
    d = explain("subscribe", "cmd/#")
    assert d["decision"] == "deny"
    assert d["reason"] == "denied: no allow entry covers this filter, and nothing is allowed by default"
    assert_err(st.request("POST", "/api/v1/explain", {"username": "nobody-here", "mqtt_client_id": "x",
                                                       "action": "publish", "topic": "a"}), 404, "NOT_FOUND")
    assert_err(st.request("POST", "/api/v1/explain", {"username": "explainer", "action": "read", "topic": "a"}),
               400, "BAD_REQUEST", "action")
    assert_err(st.request("POST", "/api/v1/explain", {"username": "explainer", "action": "publish", "topic": "a/#"}),
               400, "BAD_REQUEST", "topic")


# --------------------------------------------------------------------- connections

def test_connections_list_and_kick(st):
    st.events(0.2)
    st.put_connection("broker-a", "conn-1", username="u1", groups=["g1"])
    st.put_connection("broker-b", "conn-2", username="u2")
    st.put_connection("broker-dead", "conn-3", ttl_ms=1)
    time.sleep(0.05)
    status, doc, _ = st.request("GET", "/api/v1/connections")
    assert status == 200
    got = {c["mqtt_client_id"]: c for c in doc["items"]}
    assert set(got) == {"conn-1", "conn-2"}
    assert set(got["conn-1"]) >= {"mqtt_client_id", "client_id", "username", "peer", "protocol", "keepalive",
                                  "connected_at", "broker", "groups"}
    assert got["conn-1"]["broker"] == "broker-a" and got["conn-1"]["groups"] == ["g1"]
    status, doc, _ = st.request("GET", "/api/v1/connections?search=CONN-2")
    assert [c["mqtt_client_id"] for c in doc["items"]] == ["conn-2"]
    status, doc, _ = st.request("DELETE", "/api/v1/connections/conn-1")
    assert status == 202 and doc["broker"] == "broker-a"
    ev = st.events()
    assert [(e["kind"], e["op"], e["object_id"]) for e in ev] == [("connection", "delete", "conn-1")]
    assert_err(st.request("DELETE", "/api/v1/connections/conn-3"), 404, "NOT_FOUND")
    assert_err(st.request("DELETE", "/api/v1/connections/never"), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------- audit

def test_audit_entries_for_writes(st):
    c = mk_client(st, "audited", password="very-secret-password")
    st.request("PATCH", f"/api/v1/clients/{c['id']}", {"password": "another-secret-pw"})
    st.request("DELETE", f"/api/v1/clients/{c['id']}")
    status, doc, _ = st.request("GET", "/api/v1/audit?limit=3")
    assert status == 200 and len(doc["items"]) == 3 and doc["next_cursor"]
    acts = [(e["action"], e["object_id"]) for e in doc["items"]]
    assert acts == [("client.delete", c["id"]), ("client.update", c["id"]), ("client.create", c["id"])]
    for e in doc["items"]:
        assert set(e) == {"id", "time", "actor", "action", "object_id", "summary"}
        assert e["actor"]["id"] and e["actor"]["name"]
        assert "secret" not in str(e)
    status, nxt, _ = st.request("GET", f"/api/v1/audit?limit=3&cursor={doc['next_cursor']}")
    assert status == 200 and not set(x["id"] for x in nxt["items"]) & set(x["id"] for x in doc["items"])
    # every kind of write is audited
    status, doc, _ = st.request("GET", "/api/v1/audit?limit=1000")
    kinds = {e["action"] for e in doc["items"]}
    assert {"client.create", "client.update", "client.delete", "group.create", "group.update", "group.delete",
            "rule.create", "rule.update", "rule.delete", "token.create", "token.revoke",
            "connection.kick"} <= kinds
    assert TOKEN not in str(doc)


# -------------------------------------------------------------- health, metrics, files

def test_healthz_metrics_console(st):
    status, doc, _ = st.request("GET", "/healthz", token=None)
    assert status == 200 and doc["status"] == "ok"
    status, text, hdrs = st.request("GET", "/metrics", token=None)
    assert status == 200 and hdrs["Content-Type"].startswith("text/plain")
    text = text.decode()
    assert 'roost_admin_requests_total{door="http",route="/api/v1/clients",method="POST",status="201"}' in text
    assert "roost_admin_request_seconds_bucket" in text
    with open(os.path.join(st.dir, "index.html"), "w") as f:
        f.write("<!doctype html><title>console</title>")
    with open(os.path.join(st.dir, "app.js"), "w") as f:
        f.write("export {};")
    status, body, hdrs = st.request("GET", "/", token=None)
    assert status == 200 and hdrs["Content-Type"].startswith("text/html") and b"console" in body
    status, body, hdrs = st.request("GET", "/app.js", token=None)
    assert status == 200 and hdrs["Content-Type"].startswith("text/javascript")
    assert st.request("GET", "/../etc/passwd", token=None)[0] == 404
    assert st.request("GET", "/missing.css", token=None)[0] == 404


# ------------------------------------------------------------------ first start, outage

def test_first_start_generates_token_file():
    s = AdminStack(env_token=None)
    try:
        s.start_redis()
        s.start_admin()
        assert wait_until(lambda: os.path.exists(s.token_file))
        mode = stat.S_IMODE(os.stat(s.token_file).st_mode)
        assert mode == 0o600
        token = open(s.token_file).read().strip()
        assert token.startswith("roost_") and len(token) > 40
        log = s.admin_log()
        assert token not in log and token[6:] not in log   # never logged, only where it is
        assert "first admin token written to %s" % s.token_file in log
        assert "begins %s)" % token[:10] in log
        assert s.request("GET", "/api/v1/clients", token=token)[0] == 200
        # a restart does not make another token
        from adminstack import stop
        stop(s.admin)
        s.start_admin()
        assert s.admin_log().count("first admin token") == 1
        assert s.request("GET", "/api/v1/tokens", token=token)[1]["total"] == 1
    finally:
        s.close()


def test_env_token_and_redis_outage():
    s = AdminStack(env_token="env-provided-token-xyz")
    try:
        s.start_redis()
        s.start_admin()
        assert not os.path.exists(s.token_file)
        assert s.request("GET", "/api/v1/clients", token="env-provided-token-xyz")[0] == 200
        s.stop_redis()
        assert_err(s.request("GET", "/healthz", token=None), 503, "UNAVAILABLE")
        assert_err(s.request("GET", "/api/v1/clients", token="env-provided-token-xyz"), 503, "UNAVAILABLE")
        s.start_redis()  # same port: admin reconnects on its own (data is gone: no persistence here)
        assert wait_until(lambda: s.request("GET", "/healthz", token=None)[0] == 200)
    finally:
        s.close()


def test_write_waits_for_replicas():
    """--redis-min-replicas 1 (the default with Sentinels or a Cluster) against
    a Redis with no replica: a write is made on the primary but no replica
    confirms it, so it is answered 503 saying it may have been made (a
    failover could lose it), never 2xx; reads still answer. Once a replica is
    attached the next write is confirmed (201). Same through the RPC."""
    s = AdminStack(extra_env={"ROOST_REDIS_MIN_REPLICAS": "1", "ROOST_REDIS_WAIT_TIMEOUT_MS": "1000"})
    replica = None
    try:
        s.start_redis()
        s.start_admin()
        t0 = time.monotonic()
        code, doc, _ = s.request("POST", "/api/v1/groups", {"name": "unconfirmed"})
        assert code == 503, (code, doc)
        assert time.monotonic() - t0 >= 1.0
        assert doc["code"] == "UNAVAILABLE"
        assert "only 0 of 1 replicas confirmed it within 1000 ms" in doc["error"], doc
        assert doc["details"]["may_have_been_made"] is True
        code, page, _ = s.request("GET", "/api/v1/groups")  # a read waits for nothing
        assert code == 200 and [g["name"] for g in page["items"]] == ["unconfirmed"]
        assert "write_unreplicated" in s.admin_log()
        # reads keep working, also those run as scripts (connections, tokens)
        # or that drop an expired record on the way (bans): housekeeping the
        # next read does again needs no replica's confirmation
        s.put_connection("broker-a", "conn-r")
        code, page, _ = s.request("GET", "/api/v1/connections")
        assert code == 200 and [c["mqtt_client_id"] for c in page["items"]] == ["conn-r"], (code, page)
        code, page, _ = s.request("GET", "/api/v1/tokens")
        assert code == 200 and page["items"], (code, page)
        code, doc, _ = s.request("POST", "/api/v1/bans", {"kind": "username", "value": "gone", "expires_in_s": 1})
        assert code == 503 and doc["details"]["may_have_been_made"] is True, (code, doc)
        time.sleep(1.1)  # the ban expires (its expiry is what is tested)
        code, page, _ = s.request("GET", "/api/v1/bans")
        assert code == 200 and page["items"] == [], (code, page)
        rc = subprocess.run([ROOSTCTL, "--admin", f"tcp://127.0.0.1:{s.rpc_port}", "--token", TOKEN,
                             "groups", "create", "--name", "by-rpc"], capture_output=True, text=True, timeout=20)
        assert rc.returncode != 0 and "replicas confirmed" in rc.stderr, rc
        rport = free_port()
        rdir = os.path.join(s.dir, "replica")
        os.makedirs(rdir)
        replica = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", rdir, "--replicaof", "127.0.0.1",
                                    str(s.redis_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: "state=online" in s.redis_cli("INFO", "replication"), timeout=15)
        # and the replica has loaded what it was sent (it answers the WAIT's GETACK only then)
        assert wait_until(lambda: "master_link_status:up" in subprocess.run(
            ["redis-cli", "-p", str(rport), "INFO", "replication"], capture_output=True, text=True).stdout,
            timeout=15)
        code, doc, _ = s.request("POST", "/api/v1/groups", {"name": "confirmed"})
        assert code == 201, (code, doc)
    finally:
        stop(replica)
        s.close()
