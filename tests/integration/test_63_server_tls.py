"""script/server with TLS: it makes a local CA, the brokers' certificate and a
demo device certificate under var/tls at first start, haproxy passes the TLS
port through (TCP mode, PROXY header: the brokers run with --proxy-protocol,
so a connection without one would be closed) to both brokers, and the
commands it prints work as printed: a TLS device with a username, and the demo
certificate device once it is a client (roostctl line as printed)."""

import json
import os
import re
import shlex
import subprocess

import pytest

from conftest import uid, wait_until
from test_58_server_supervise import T, server  # noqa: F401 (fixture)

pytestmark = pytest.mark.roost_only


def printed(s, pattern):
    m = re.search(pattern, s.out(), re.M)
    assert m, s.out()
    return m.group(1)


def run(line, s, timeout=T):
    argv = shlex.split(line)
    if argv[0] == "roostctl":
        argv[0] = os.path.join(os.environ.get("ROOST_BUILD_DIR", ""), "tools", "roostctl", "roostctl")
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def deliver(sub_line, pub_line, s):
    """Starts the subscriber (-C 1), publishes until it has the message
    (it has no "subscribed" signal), returns what it printed."""
    sub = subprocess.Popen(shlex.split(sub_line), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def published():
            r = run(pub_line, s)
            assert r.returncode == 0, (pub_line, r.stderr)
            try:
                sub.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
            return sub.poll() is not None
        assert wait_until(published, timeout=20)
        out, err = sub.communicate(timeout=T)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    return out


def test_server_tls_devices_as_printed(server):
    s = server
    assert wait_until(lambda: "Roost is running" in s.out() or s.proc.poll() is not None, timeout=90), s.out()
    assert s.proc.poll() is None, s.out()
    tls = os.path.join(s.var, "tls")
    assert os.stat(os.path.join(tls, "server.key")).st_mode & 0o077 == 0
    g = s.api("POST", "/api/v1/groups", {"name": "devs", "description": "",
                                         "acl": [{"permission": "allow", "action": "publish", "topic": "devices/#"},
                                                 {"permission": "allow", "action": "subscribe",
                                                  "topic": "devices/#"}]})
    # the TLS line with a username: a credentials client
    cl = s.api("POST", "/api/v1/clients", {"name": "tls-dev", "username": "tlsdev", "password": "password-123"})
    s.api("POST", "/api/v1/group-rules", {"match_by": "client", "value": cl["id"], "groups": [g["id"]]})
    pub = printed(s, r"^\s+(mosquitto_pub .* -u USER -P PASS .*)$").replace("USER", "tlsdev").replace(
        "PASS", "password-123")
    assert "-p %d" % s.ports["MQTTS"] in pub and "--cafile %s/ca.crt" % tls in pub
    topic = "devices/" + uid()
    pub = pub.replace("devices/x", topic)
    sub = pub.replace("mosquitto_pub", "mosquitto_sub").replace("-m hi", "-C 1 -W 25")
    assert deliver(sub, pub, s).strip() == "hi"

    # the demo certificate device, through the printed roostctl and mosquitto_pub lines
    ctl = printed(s, r"^\s+(roostctl clients create .*)$")
    ctl_base = printed(s, r"^\s+roostctl\s+(\S+/roostctl .*) status$")
    r = subprocess.run(shlex.split(ctl_base) + shlex.split(ctl)[1:] + ["--json"], capture_output=True,
                       text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    dev = json.loads(r.stdout)
    assert dev["auth_type"] == "certificate" and dev["certificate"]["subject"] == "CN=demo-device"
    s.api("POST", "/api/v1/group-rules", {"match_by": "client", "value": dev["id"], "groups": [g["id"]]})
    cert_pub = printed(s, r"^\s+(mosquitto_pub .* --cert .*)$").replace("devices/x", topic)
    assert deliver(sub, cert_pub, s).strip() == "hi"
