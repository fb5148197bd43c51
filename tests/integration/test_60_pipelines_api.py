"""Pipelines and Topic Mappings through roost-admin (issue 17): the HTTP API
(/api/v1/pipelines, /api/v1/topic-mappings), every refusal naming its
field, write-only tokens (masked in answers, absent from the audit log and
admin's log), change events, the Redis layout the broker and forwarder
read, and roostctl pipelines/mappings over the RPC."""

import subprocess

import pytest

from adminstack import ROOSTCTL, TOKEN, AdminStack

SECRET_AUTH = "auth-secret-7f3a9c"
SECRET_NET = "net-secret-51b2e8"


@pytest.fixture(scope="module")
def st():
    s = AdminStack()
    s.start_redis()
    s.start_admin()
    s.subscribe()
    yield s
    s.close()


def mk_pipeline(st, name, **kw):
    body = {"name": name, "url": "http://127.0.0.1:9/hook"}
    body.update(kw)
    status, doc, _ = st.request("POST", "/api/v1/pipelines", body)
    assert status == 201, doc
    return doc


def bad(st, method, path, body, field, status=400):
    got, doc, _ = st.request(method, path, body)
    assert got == status, doc
    assert doc["details"].get("field") == field, doc
    return doc


def test_pipeline_create_masks_tokens_and_defaults(st):
    st.events(0.1)
    p = mk_pipeline(st, "ingest", description="to the backend", authorization_token=SECRET_AUTH,
                    network_token=SECRET_NET, batch_size=50, linger_ms=200)
    assert p["status"] == "active" and p["url"] == "http://127.0.0.1:9/hook"
    assert p["authorization_token"] == "********" and p["authorization_token_set"] is True
    assert p["network_token"] == "********" and p["network_token_set"] is True
    assert (p["batch_size"], p["linger_ms"], p["max_attempts"], p["max_queue"], p["timeout_ms"]) == \
        (50, 200, 10, 100000, 10000)
    assert p["delivery"]["queued"] == 0 and p["delivery"]["last_error"] is None
    ev = st.events()
    assert [(e["kind"], e["op"], e["object_id"]) for e in ev] == [("routes", "create", p["id"])]
    # the queue and its consumer group exist from the start
    assert "forwarders" in st.redis_cli("XINFO", "GROUPS", f"roost:{{g}}:pq:{p['id']}")
    # the forwarder needs the real tokens: they are in Redis, nowhere else
    assert st.redis_cli("HGET", f"roost:{{g}}:pipeline:{p['id']}", "auth_token") == SECRET_AUTH
    status, got, _ = st.request("GET", f"/api/v1/pipelines/{p['id']}")
    assert status == 200 and SECRET_AUTH not in str(got) and SECRET_NET not in str(got)
    status, page, _ = st.request("GET", "/api/v1/pipelines?search=INGE")
    assert status == 200 and [x["id"] for x in page["items"]] == [p["id"]]
    assert SECRET_AUTH not in str(page)


def test_pipeline_update_pause_and_token_clear(st):
    p = mk_pipeline(st, "pausable", authorization_token=SECRET_AUTH)
    status, doc, _ = st.request("PATCH", f"/api/v1/pipelines/{p['id']}", {"status": "paused"})
    assert status == 200 and doc["status"] == "paused" and doc["authorization_token_set"] is True
    status, doc, _ = st.request("PATCH", f"/api/v1/pipelines/{p['id']}", {"authorization_token": ""})
    assert status == 200 and doc["authorization_token_set"] is False and doc["authorization_token"] == ""
    assert doc["status"] == "paused"


def test_pipeline_bad_input_names_the_field(st):
    P = "/api/v1/pipelines"
    ok = {"name": "x", "url": "https://example.com/in"}
    bad(st, "POST", P, {"url": "http://a"}, "name")
    bad(st, "POST", P, {"name": "n"}, "url")
    for url in ["ftp://example.com", "example.com", "http://", "http:///x", "http://a b", "javascript:alert(1)",
                "http://" + "a" * 2100]:
        bad(st, "POST", P, {"name": "n", "url": url}, "url")
    for field, value in [("batch_size", 0), ("batch_size", 1001), ("batch_size", "5"), ("linger_ms", -1),
                         ("linger_ms", 60001), ("max_attempts", 0), ("max_queue", 0), ("timeout_ms", 50),
                         ("status", "stopped"), ("authorization_token", "line\nbreak"),
                         ("network_token", "x" * 5000), ("name", ""), ("name", "a\tb"), ("description", 5),
                         ("nonsense", 1)]:
        body = dict(ok, **{field: value})
        bad(st, "POST", P, body, field)
    status, doc, _ = st.request("POST", P, raw=b"{not json")
    assert status == 400
    mk_pipeline(st, "taken")
    bad(st, "POST", P, {"name": "taken", "url": "http://h"}, "name", status=409)
    assert st.request("GET", P + "/" + "0" * 24)[0] == 404
    assert st.request("PATCH", P + "/nope", {"name": "z"})[0] == 404
    assert st.request("DELETE", P + "/" + "f" * 24)[0] == 404
    # nothing was written by the refusals
    status, page, _ = st.request("GET", P + "?search=n&limit=1000")
    assert all(x["name"] != "n" for x in page["items"])


def test_mappings_many_to_many_and_delete_rules(st):
    a = mk_pipeline(st, "map-a")
    b = mk_pipeline(st, "map-b")
    M = "/api/v1/topic-mappings"
    made = []
    for topic, pl in [("devices/+/telemetry", a), ("devices/+/telemetry", b), ("alarms/#", a)]:
        status, m, _ = st.request("POST", M, {"topic": topic, "pipeline": pl["id"]})
        assert status == 201, m
        assert m["topic"] == topic and m["pipeline"] == pl["id"]
        made.append(m)
    # the same pair twice: conflict on topic
    bad(st, "POST", M, {"topic": "alarms/#", "pipeline": a["id"]}, "topic", status=409)
    bad(st, "POST", M, {"topic": "a/#/b", "pipeline": a["id"]}, "topic")
    bad(st, "POST", M, {"topic": "", "pipeline": a["id"]}, "topic")
    bad(st, "POST", M, {"topic": "x/y", "pipeline": "0" * 24}, "pipeline")
    bad(st, "POST", M, {"topic": "x/y", "pipeline": "nope"}, "pipeline")
    bad(st, "POST", M, {"topic": "x/y"}, "pipeline")
    bad(st, "POST", M, {"topic": "x/y", "pipeline": a["id"], "extra": 1}, "extra")
    status, page, _ = st.request("GET", M + "?search=TELEMETRY")
    assert status == 200 and len(page["items"]) == 2
    assert {x["pipeline_name"] for x in page["items"]} == {"map-a", "map-b"}
    # a pipeline fed by mappings cannot go
    status, doc, _ = st.request("DELETE", f"/api/v1/pipelines/{a['id']}")
    assert status == 409 and sorted(doc["details"]["mappings"]) == sorted([made[0]["id"], made[2]["id"]])
    # move a mapping, then delete
    status, doc, _ = st.request("PATCH", f"{M}/{made[2]['id']}", {"pipeline": b["id"]})
    assert status == 200 and doc["pipeline"] == b["id"]
    for m in made:
        assert st.request("DELETE", f"{M}/{m['id']}")[0] == 204
    st.redis_cli("XADD", f"roost:{{g}}:pq:{a['id']}", "*", "t", "x")
    assert st.request("DELETE", f"/api/v1/pipelines/{a['id']}")[0] == 204
    assert st.redis_cli("EXISTS", f"roost:{{g}}:pq:{a['id']}") == "0"
    assert int(st.redis_cli("GET", "roost:{g}:routes:version")) >= 8


def test_pagination(st):
    for i in range(5):
        mk_pipeline(st, f"page-{i}")
    seen, cursor = [], None
    while True:
        path = "/api/v1/pipelines?search=page-&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = st.request("GET", path)
        assert status == 200
        seen += [x["name"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"page-{i}" for i in range(5)]


def test_tokens_never_in_audit_or_log(st):
    mk_pipeline(st, "audited", authorization_token=SECRET_AUTH, network_token=SECRET_NET)
    status, audit, _ = st.request("GET", "/api/v1/audit?limit=1000")
    assert status == 200
    text = str(audit)
    assert "pipeline.create" in text
    assert SECRET_AUTH not in text and SECRET_NET not in text
    log = st.admin_log()
    assert SECRET_AUTH not in log and SECRET_NET not in log


def test_roostctl_pipelines_and_mappings(st):
    rc, p, err = st.ctl("pipelines", "create", "--name", "ctl-pipe", "--url", "https://example.com/x",
                        "--authorization-token", SECRET_AUTH, "--batch-size", "10")
    assert rc == 0, err
    assert p["batch_size"] == 10 and p["authorization_token"] == "********"
    rc, _, err = st.ctl("pipelines", "create", "--name", "bad", "--url", "gopher://x")
    assert rc == 4 and "url" in err
    rc, _, err = st.ctl("pipelines", "create", "--name", "bad", "--url", "http://x", "--batch-size", "ten")
    assert rc == 1 and "integer" in err
    rc, m, err = st.ctl("mappings", "create", "--topic", "ctl/#", "--pipeline", p["id"])
    assert rc == 0, err
    rc, doc, _ = st.ctl("pipelines", "pause", p["id"])
    assert rc == 0 and doc["status"] == "paused"
    rc, doc, _ = st.ctl("pipelines", "resume", p["id"])
    assert rc == 0 and doc["status"] == "active"
    rc, _, _ = st.ctl("pipelines", "delete", p["id"])
    assert rc == 3
    rc, page, _ = st.ctl("mappings", "list", "--search", "ctl/")
    assert rc == 0 and [x["id"] for x in page["items"]] == [m["id"]]
    p2 = subprocess.run([ROOSTCTL, "--admin", f"tcp://127.0.0.1:{st.rpc_port}", "--token", TOKEN, "pipelines",
                         "list"], capture_output=True, text=True, timeout=30)
    assert p2.returncode == 0 and "ctl-pipe" in p2.stdout and "********" in p2.stdout
    assert SECRET_AUTH not in p2.stdout
    assert st.ctl("mappings", "delete", m["id"])[0] == 0
    assert st.ctl("pipelines", "delete", p["id"])[0] == 0
