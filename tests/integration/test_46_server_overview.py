"""script/server with ROOST_ADMIN_TOKEN set (issue 20): admin takes that
token and writes no var/admin-token, so the banner must not point there; it
names the variable (never the token) and its roostctl line, run as printed,
shows the cluster (`status`), as the console's Overview does through the API
with the endpoint devices use (haproxy)."""

import json
import os
import shlex
import subprocess
import urllib.request

import pytest

from conftest import wait_until
from test_58_server_supervise import T, server  # noqa: F401 (fixture)

TOKEN = "server-overview-token-0123456789"


@pytest.fixture
def env_token(monkeypatch):
    monkeypatch.setenv("ROOST_ADMIN_TOKEN", TOKEN)


def test_banner_names_the_token_variable_and_status_shows_the_cluster(env_token, server):
    assert wait_until(lambda: "Roost is running" in server.out(), timeout=90), server.logs()
    out = server.out()
    assert "(admin token: the value of $ROOST_ADMIN_TOKEN" in out, out
    assert TOKEN not in out
    assert not os.path.exists(os.path.join(server.var, "admin-token"))
    line = [l for l in out.splitlines() if l.strip().startswith("roostctl ")][0]
    argv = shlex.split(line.strip()[len("roostctl"):].strip())
    assert argv[-1] == "status" and "--token-file" not in argv, line

    def status():
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return p.returncode == 0 and "brokers      2 up, 0 draining, 0 down" in p.stdout and p.stdout
    text = wait_until(status, timeout=20)
    assert text, subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert "endpoints    mqtt://127.0.0.1:%d (TCP)" % server.ports["MQTT"] in text, text
    for url in ("mqtts://localhost:%d" % server.ports["MQTTS"], "ws://127.0.0.1:%d/mqtt" % server.ports["WS"],
                "wss://localhost:%d/mqtt" % server.ports["WSS"]):
        assert url in text, (url, text)

    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/overview" % server.ports["ADMIN_HTTP"],
                                 headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=T) as r:
        doc = json.loads(r.read())
    assert doc["cluster"]["authd"]["up"] == 1 and doc["cluster"]["redis"] == "reachable"
