"""roostctl in its default RPC mode against a running roost-admin: every
command with --json parsed, the table output, and the exit codes scripts
rely on (0 ok, 1 usage, 2 not found, 3 conflict, 4 invalid, 5 unavailable,
6 unauthorized)."""

import os
import subprocess

import pytest

from adminstack import ROOSTCTL, TOKEN, AdminStack


@pytest.fixture(scope="module")
def st():
    s = AdminStack()
    s.start_redis()
    s.start_admin()
    s.subscribe()
    yield s
    s.close()


def test_help_and_usage():
    p = subprocess.run([ROOSTCTL, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--admin" in p.stdout and "6 unauthorized" in p.stdout
    for noun in ("clients", "groups", "rules", "connections", "tokens", "audit"):
        p = subprocess.run([ROOSTCTL, noun, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and f"roostctl {noun}" in p.stdout
    assert subprocess.run([ROOSTCTL], capture_output=True).returncode == 1
    assert subprocess.run([ROOSTCTL, "bogus", "list"], capture_output=True).returncode == 1
    assert subprocess.run([ROOSTCTL, "clients", "frob"], capture_output=True).returncode == 1
    assert subprocess.run([ROOSTCTL, "clients", "get"], capture_output=True).returncode == 1


def test_clients(st):
    st.events(0.2)
    rc, c, err = st.ctl("clients", "create", "--name", "Pump 1", "--username", "pump-1", "--password-stdin",
                        stdin="pump-password\n")
    assert rc == 0, err
    assert c["username"] == "pump-1" and c["password_set"] is True and "password" not in c
    assert [(e["kind"], e["op"]) for e in st.events()] == [("client", "create")]
    rc, got, _ = st.ctl("clients", "get", c["id"])
    assert rc == 0 and got == c
    rc, page, _ = st.ctl("clients", "list", "--search", "pump", "--limit", "5")
    assert rc == 0 and [x["id"] for x in page["items"]] == [c["id"]]
    # the passwords roostctl sets are the ones a device connects with (authd, broker)
    st.start_mqtt()
    assert st.connack("pump-1", "pump-password") == 0
    rc, upd, _ = st.ctl("clients", "edit", c["id"], "--name", "Pump One", "--password", "new-password-1")
    assert rc == 0 and upd["name"] == "Pump One" and upd["username"] == "pump-1" and upd["password_set"] is True
    assert st.connack("pump-1", "new-password-1") == 0
    assert st.connack("pump-1", "pump-password") == 4
    rc, upd, err = st.ctl("clients", "edit", c["id"], "--password-stdin", stdin="stdin-password-2\n")
    assert rc == 0 and upd["name"] == "Pump One", err
    assert st.connack("pump-1", "stdin-password-2") == 0
    assert st.connack("pump-1", "new-password-1") == 4
    rc, _, err = st.ctl("clients", "create", "--name", "x", "--username", "pump-1", "--password", "password-1")
    assert rc == 3 and "taken" in err
    rc, doc, _ = st.ctl("clients", "create", "--name", "x", "--username", "pump-2", "--password", "short")
    assert rc == 4 and doc["details"]["field"] == "password"
    rc, gone, _ = st.ctl("clients", "delete", c["id"])
    assert rc == 0 and gone == {"id": c["id"], "deleted": True}
    rc, doc, _ = st.ctl("clients", "get", c["id"])
    assert rc == 2 and doc["code"] == "NOT_FOUND"
    # table output
    rc, td, _ = st.ctl("clients", "create", "--name", "Table Dev", "--username", "table-dev", "--password", "password-1")
    assert rc == 0
    rc, table, err = st.ctl("clients", "list", json_out=False)
    assert rc == 0, err
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "USERNAME"], table
    rows = [l.split() for l in lines[1:] if l.strip()]
    assert [r[:4] for r in rows] == [[td["id"], "Table", "Dev", "table-dev"]], table


def test_groups_acl_rules_explain(st):
    rc, g, err = st.ctl("groups", "create", "--name", "pumps", "--description", "all pumps",
                        "--acl", "allow:publish:p/%u/#")
    assert rc == 0, err
    assert g["acl"] == [{"permission": "allow", "action": "publish", "topic": "p/%u/#"}]
    rc, g2, _ = st.ctl("groups", "acl", "add", g["id"], "--permission", "deny", "--action", "publish",
                       "--topic", "p/%u/secret")
    assert rc == 0 and len(g2["acl"]) == 2
    rc, g3, _ = st.ctl("groups", "acl", "remove", g["id"], "--index", "1")
    assert rc == 0 and len(g3["acl"]) == 1
    st.ctl("groups", "acl", "add", g["id"], "--permission", "deny", "--action", "publish", "--topic", "p/%u/secret")
    rc, _, _ = st.ctl("groups", "acl", "remove", g["id"], "--permission", "allow", "--action", "publish",
                      "--topic", "nope")
    assert rc == 2
    rc, _, _ = st.ctl("groups", "create", "--name", "bad", "--acl", "allow:publish:a/#/b")
    assert rc == 4
    rc, got, _ = st.ctl("groups", "get", g["id"])
    assert rc == 0 and got["description"] == "all pumps"
    rc, lst, _ = st.ctl("groups", "list")
    assert rc == 0 and g["id"] in [x["id"] for x in lst["items"]]
    rc, ed, _ = st.ctl("groups", "edit", g["id"], "--description", "changed")
    assert rc == 0 and ed["description"] == "changed"

    rc, c, _ = st.ctl("clients", "create", "--name", "P7", "--username", "pump-7", "--password", "password-7")
    rc, r, err = st.ctl("rules", "create", "--match-by", "mqtt_client_id", "--value", "pump-*", "--group", g["id"])
    assert rc == 0, err
    assert r["groups"] == [g["id"]]
    rc, got, _ = st.ctl("rules", "get", r["id"])
    assert rc == 0 and got == r
    rc, lst, _ = st.ctl("rules", "list")
    assert rc == 0 and r["id"] in [x["id"] for x in lst["items"]]
    rc, ed, _ = st.ctl("rules", "edit", r["id"], "--value", "pump-7*")
    assert rc == 0 and ed["value"] == "pump-7*"
    # the text list names the client and the groups, as the console does; --json keeps the ids
    rc, cr, err = st.ctl("rules", "create", "--match-by", "client", "--value", c["id"], "--group", g["id"])
    assert rc == 0, err
    rc, text, err = st.ctl("rules", "list", json_out=False)
    assert rc == 0, err
    row = [line.split() for line in text.splitlines() if line.startswith(cr["id"])]
    assert row == [[cr["id"], "client", "P7", "pumps"]], text
    assert g["id"] not in text and c["id"] not in text, text
    rc, lst, _ = st.ctl("rules", "list")
    got = [x for x in lst["items"] if x["id"] == cr["id"]]
    assert got[0]["value"] == c["id"] and got[0]["groups"] == [g["id"]]
    assert st.ctl("rules", "delete", cr["id"])[0] == 0
    rc, _, _ = st.ctl("rules", "create", "--match-by", "client", "--value", "0" * 24, "--group", "0" * 24)
    assert rc == 4

    rc, d, _ = st.ctl("explain", "--username", "pump-7", "--client-id", "pump-7a", "--action", "publish",
                      "--topic", "p/pump-7/flow")
    assert rc == 0 and d["decision"] == "allow" and d["matched"]["group"]["name"] == "pumps"
    rc, d, _ = st.ctl("explain", "--username", "pump-7", "--client-id", "pump-7a", "--action", "publish",
                      "--topic", "p/pump-7/secret")
    assert rc == 0 and d["decision"] == "deny" and d["matched"]["entry"]["permission"] == "deny"
    rc, d, _ = st.ctl("explain", "--username", "nobody", "--client-id", "x", "--action", "publish", "--topic", "a")
    assert rc == 2

    rc, doc, _ = st.ctl("groups", "delete", g["id"])
    assert rc == 3 and doc["details"]["rules"] == [r["id"]]
    assert st.ctl("rules", "delete", r["id"])[0] == 0
    assert st.ctl("groups", "delete", g["id"])[0] == 0
    assert st.ctl("rules", "get", r["id"])[0] == 2


def test_connections(st):
    st.put_connection("broker-x", "pump-live", username="pump-7")
    rc, lst, _ = st.ctl("connections", "list", "--search", "pump-live")
    assert rc == 0 and [c["mqtt_client_id"] for c in lst["items"]] == ["pump-live"]
    assert lst["items"][0]["broker"] == "broker-x"
    st.events(0.2)
    rc, k, _ = st.ctl("connections", "kick", "pump-live")
    assert rc == 0 and k["broker"] == "broker-x"
    assert [(e["kind"], e["op"], e["object_id"]) for e in st.events()] == [("connection", "delete", "pump-live")]
    assert st.ctl("connections", "kick", "not-connected")[0] == 2


def test_tokens_and_audit(st):
    rc, t, _ = st.ctl("tokens", "create", "--name", "script")
    assert rc == 0 and t["token"].startswith("roost_")
    rc, lst, _ = st.ctl("tokens", "list")
    assert rc == 0 and t["id"] in [x["id"] for x in lst["items"]]
    assert all("token" not in x for x in lst["items"])
    rc, _, _ = st.ctl("clients", "list", token=t["token"])
    assert rc == 0
    assert st.ctl("tokens", "revoke", t["id"])[0] == 0
    rc, doc, _ = st.ctl("clients", "list", token=t["token"])
    assert rc == 6 and doc["code"] == "UNAUTHORIZED"
    assert st.ctl("clients", "list", token=None)[0] == 6
    rc, a, _ = st.ctl("audit", "list", "--limit", "2")
    assert rc == 0 and [e["action"] for e in a["items"]] == ["token.revoke", "token.create"]


def test_token_from_env_and_file(st):
    path = os.path.join(st.dir, "tok")
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    base = [ROOSTCTL, "--admin", f"tcp://127.0.0.1:{st.rpc_port}", "--json"]
    env = dict(os.environ, ROOST_ADMIN_TOKEN_FILE=path)
    env.pop("ROOST_ADMIN_TOKEN", None)
    assert subprocess.run(base + ["clients", "list"], env=env, capture_output=True).returncode == 0
    env = dict(os.environ, ROOST_ADMIN_TOKEN=TOKEN, ROOST_ADMIN_ENDPOINT=f"tcp://127.0.0.1:{st.rpc_port}")
    assert subprocess.run([ROOSTCTL, "tokens", "list"], env=env, capture_output=True).returncode == 0


def test_unavailable(st):
    p = subprocess.run([ROOSTCTL, "--admin", "tcp://127.0.0.1:1", "--token", TOKEN, "--timeout-ms", "300",
                        "clients", "list"], capture_output=True, text=True)
    assert p.returncode == 5
