"""Names that lie (issue 13 item 6), real admin and Redis: an audit summary
cannot be forged by a name holding " username=..." (values are quoted and
escaped), and usernames and names refuse bidirectional controls such as
U+202E, which make one name display as another."""

import pytest

from adminstack import AdminStack


@pytest.fixture(scope="module")
def st():
    s = AdminStack()
    s.start_redis()
    s.start_admin()
    yield s
    s.close()


def audit_summaries(st):
    status, doc, _ = st.request("GET", "/api/v1/audit?limit=50")
    assert status == 200
    return [e["summary"] for e in doc["items"]]


def test_audit_summary_values_are_escaped(st):
    status, c, _ = st.request("POST", "/api/v1/clients", {"name": 'Boiler 7 username=root "x"\\',
                                                          "username": "boiler7", "password": "long-enough-1"})
    assert status == 201, c
    s = [x for x in audit_summaries(st) if "boiler7" in x]
    assert s == ['name="Boiler 7 username=root \\"x\\"\\\\" username=boiler7'], s
    status, g, _ = st.request("POST", "/api/v1/groups", {"name": "plain-name", "description": "", "acl": []})
    assert status == 201
    assert "name=plain-name acl_entries=0" in audit_summaries(st)


@pytest.mark.parametrize("field,value", [
    ("username", "admin\u202etxt.exe"), ("username", "a\u2066b"), ("username", "a\u200fb"),
    ("name", "Boiler \u202e7"),
])
def test_bidi_controls_are_refused(st, field, value):
    body = {"name": "n-" + field, "username": "u-" + field + str(len(value)), "password": "long-enough-1"}
    body[field] = value
    status, doc, _ = st.request("POST", "/api/v1/clients", body)
    assert status == 400 and doc["details"].get("field") == field, doc
    assert "bidirectional" in doc["details"].get("reason", doc["error"]), doc


def test_other_unicode_still_accepted(st):
    status, doc, _ = st.request("POST", "/api/v1/clients", {"name": "Heizkörper ١٢", "username": "zähler-٣",
                                                            "password": "long-enough-1"})
    assert status == 201, doc


def test_roostctl_reads_secrets_from_stdin_and_warns_about_argv(st):
    import os
    import subprocess
    from adminstack import ROOSTCTL, TOKEN
    base = [ROOSTCTL, "--admin", "tcp://127.0.0.1:%d" % st.rpc_port]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_ADMIN_TOKEN")}
    p = subprocess.run(base + ["--token-file", "-", "clients", "list"], input=TOKEN + "\n",
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0 and "visible to other users" not in p.stderr, p.stderr
    p = subprocess.run(base + ["--token", TOKEN, "clients", "list"], capture_output=True, text=True,
                       timeout=30, env=env)
    assert p.returncode == 0 and "--token on the command line is visible" in p.stderr, p.stderr
    p = subprocess.run(base + ["--token-file", "-", "clients", "create", "--name", "stdin pw",
                               "--username", "stdin-pw", "--password", "long-enough-2"],
                       input=TOKEN + "\n", capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0 and "--password-stdin" in p.stderr, p.stderr
