"""roostctl direct-to-store mode against a private redis-server.

Starts redis-server on a free loopback port (no persistence) in a temp dir,
runs the built roostctl ($ROOST_BUILD_DIR/tools/roostctl/roostctl) and checks
the JSON output and the exit codes (0 ok, 1 usage, 2 not found, 3 conflict,
4 invalid, 5 unavailable).
"""
import json
import os
import socket
import subprocess
import time

import pytest

from ports import free_port

BUILD = os.environ.get("ROOST_BUILD_DIR", "build")
ROOSTCTL = os.path.join(BUILD, "tools", "roostctl", "roostctl")
# Cheapest argon2id cost so the test is fast (libsodium's OPSLIMIT_MIN / MEMLIMIT_MIN).
FAST = {"ROOST_PWHASH_OPSLIMIT": "1", "ROOST_PWHASH_MEMLIMIT": "8192"}


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def ctl(port, *args, prefix="it20:", stdin=None, json_out=True):
    cmd = [ROOSTCTL, "--redis", f"127.0.0.1:{port}", "--prefix", prefix]
    if json_out:
        cmd.append("--json")
    env = dict(os.environ, **FAST)
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True,
                       env=env, timeout=60)
    out = json.loads(p.stdout) if json_out and p.stdout.strip() else None
    return p.returncode, out, p.stderr


def test_help_and_usage():
    p = subprocess.run([ROOSTCTL, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    assert "bootstrapping" in p.stdout and "roost-admin" in p.stdout
    for noun in ("clients", "groups", "rules"):
        p = subprocess.run([ROOSTCTL, noun, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and "usage" in p.stdout
    assert subprocess.run([ROOSTCTL], capture_output=True).returncode == 1
    assert subprocess.run([ROOSTCTL, "bogus", "list"], capture_output=True).returncode == 1
    assert subprocess.run([ROOSTCTL, "clients", "frob"], capture_output=True).returncode == 1


def test_clients_lifecycle(redis):
    rc, c, _ = ctl(redis, "clients", "create", "--name", "Sensor 1", "--username", "sensor-1",
                   "--password-stdin", stdin="s3cret-pass\n")
    assert rc == 0, c
    assert c["username"] == "sensor-1" and c["has_password"] is True
    assert len(c["id"]) == 24
    assert "s3cret-pass" not in json.dumps(c) and "argon2" not in json.dumps(c)
    cid = c["id"]

    rc, c2, _ = ctl(redis, "clients", "create", "--name", "Other", "--username", "sensor-2",
                    "--password", "another-pass")
    assert rc == 0

    rc, page, _ = ctl(redis, "clients", "list")
    assert rc == 0 and page["total"] == 2
    assert {x["id"] for x in page["items"]} == {cid, c2["id"]}

    rc, page, _ = ctl(redis, "clients", "list", "--search", "SENSOR 1")
    assert rc == 0 and [x["id"] for x in page["items"]] == [cid]

    rc, page, _ = ctl(redis, "clients", "list", "--limit", "1")
    assert rc == 0 and len(page["items"]) == 1 and page["next_cursor"]
    rc, page2, _ = ctl(redis, "clients", "list", "--limit", "1", "--cursor", page["next_cursor"])
    assert rc == 0 and page2["items"][0]["id"] != page["items"][0]["id"]

    rc, c, _ = ctl(redis, "clients", "edit", cid, "--name", "Renamed", "--username", "sensor-1b")
    assert rc == 0 and c["name"] == "Renamed" and c["username"] == "sensor-1b"
    rc, c, _ = ctl(redis, "clients", "get", cid)
    assert rc == 0 and c["name"] == "Renamed"

    # conflict: username taken (exit 3, field named)
    rc, err, _ = ctl(redis, "clients", "edit", cid, "--username", "sensor-2")
    assert rc == 3 and err["field"] == "username"
    rc, err, _ = ctl(redis, "clients", "create", "--name", "x", "--username", "sensor-2",
                     "--password", "password123")
    assert rc == 3

    # invalid: exit 4 with the field
    rc, err, _ = ctl(redis, "clients", "create", "--name", "x", "--username", "a/b",
                     "--password", "password123")
    assert rc == 4 and err["field"] == "username"
    rc, err, _ = ctl(redis, "clients", "create", "--name", "x", "--username", "ok",
                     "--password", "short")
    assert rc == 4 and err["field"] == "password"

    # delete, then not found (exit 2)
    rc, out, _ = ctl(redis, "clients", "delete", cid)
    assert rc == 0 and out["deleted"] is True
    rc, _, _ = ctl(redis, "clients", "get", cid)
    assert rc == 2
    rc, _, _ = ctl(redis, "clients", "delete", cid)
    assert rc == 2

    # text mode works too
    rc, _, _ = ctl(redis, "clients", "list", json_out=False)
    assert rc == 0


def test_groups_and_rules(redis):
    rc, g, _ = ctl(redis, "groups", "create", "--name", "sensors", "--description", "all",
                   "--acl", "allow:publish:devices/%u/#", "deny:subscribe:devices/+/secret",
                   prefix="it20g:")
    assert rc == 0, g
    assert [a["topic"] for a in g["acl"]] == ["devices/%u/#", "devices/+/secret"]
    assert g["acl"][1]["permission"] == "deny"
    rc, _, _ = ctl(redis, "groups", "create", "--name", "sensors", prefix="it20g:")
    assert rc == 3
    rc, err, _ = ctl(redis, "groups", "create", "--name", "bad", "--acl", "allow:publish:a/#/b",
                     prefix="it20g:")
    assert rc == 4 and err["field"] == "acl[0].topic"
    rc, _, _ = ctl(redis, "groups", "create", "--name", "bad", "--acl", "maybe:publish:a",
                   prefix="it20g:")
    assert rc == 1

    rc, r, _ = ctl(redis, "rules", "create", "--match-by", "mqtt_client_id", "--value", "dev-*",
                   "--group", g["id"], prefix="it20g:")
    assert rc == 0 and r["groups"] == [g["id"]] and r["match_by"] == "mqtt_client_id"
    rc, err, _ = ctl(redis, "rules", "create", "--match-by", "mqtt_client_id", "--value", "x",
                     "--group", "0" * 24, prefix="it20g:")
    assert rc == 4 and err["field"] == "groups" and err["ids"] == ["0" * 24]

    # the group is in use: conflict naming the rule
    rc, err, _ = ctl(redis, "groups", "delete", g["id"], prefix="it20g:")
    assert rc == 3 and err["ids"] == [r["id"]]

    rc, lst, _ = ctl(redis, "rules", "list", prefix="it20g:")
    assert rc == 0 and [x["id"] for x in lst["items"]] == [r["id"]]
    rc, _, _ = ctl(redis, "rules", "delete", r["id"], prefix="it20g:")
    assert rc == 0
    rc, _, _ = ctl(redis, "groups", "delete", g["id"], prefix="it20g:")
    assert rc == 0
    rc, lst, _ = ctl(redis, "groups", "list", prefix="it20g:")
    assert rc == 0 and lst["items"] == [] and lst["total"] == 0  # ZREM ran

    # prefixes do not see each other
    rc, lst, _ = ctl(redis, "groups", "list", prefix="it20-other:")
    assert rc == 0 and lst["total"] == 0


def test_unavailable():
    rc, err, stderr = ctl(free_port(), "clients", "list")
    assert rc == 5
    assert err["error"] == "service unavailable"
    assert "unavailable" in stderr


def test_keygen_makes_a_usable_pair():
    """`roostctl keygen` needs neither admin nor Redis; its secret's public
    half is the public key it printed, so it works as a bus or authd key."""
    import zmq
    p = subprocess.run([ROOSTCTL, "keygen", "--json"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    k = json.loads(p.stdout)
    assert len(k["public"]) == 40 and len(k["secret"]) == 40 and k["public"] != k["secret"]
    assert zmq.curve_public(k["secret"].encode()).decode() == k["public"]
    p2 = subprocess.run([ROOSTCTL, "keygen"], capture_output=True, text=True, timeout=10)
    lines = dict(ln.split(": ", 1) for ln in p2.stdout.splitlines())
    assert set(lines) == {"public", "secret"} and lines["secret"] != k["secret"]
    bad = subprocess.run([ROOSTCTL, "keygen", "--bogus"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 1 and "--bogus" in bad.stderr and bad.stdout == ""
