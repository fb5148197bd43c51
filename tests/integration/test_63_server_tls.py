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

    # MQTT over WebSockets through haproxy, ws and wss as printed (PROXY protocol: the
    # connections list shows each browser's own address, not haproxy's)
    from wsclient import ws_paho
    assert printed(s, r"^\s+MQTT over WS\s+(ws://\S+/mqtt),") == "ws://127.0.0.1:%d/mqtt" % s.ports["WS"]
    ws = ws_paho(s.ports["WS"], client_id="ws-" + uid())
    wss = ws_paho(s.ports["WSS"], client_id="wss-" + uid(), tls_ca=os.path.join(tls, "ca.crt"))
    try:
        for c in (ws, wss):
            c.c.username_pw_set("tlsdev", "password-123")
            c.connect()
        ws.subscribe(topic, 1)
        wss.publish(topic, b"over-wss", qos=1)
        assert ws.get().payload == b"over-wss"
        import urllib.request
        token = open(os.path.join(s.var, "admin-token")).read().strip()
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/connections?limit=1000" % s.ports["ADMIN_HTTP"],
                                     headers={"Authorization": "Bearer " + token})

        def listed():
            items = json.loads(urllib.request.urlopen(req, timeout=T).read())["items"]
            by_id = {c["mqtt_client_id"]: c for c in items}
            return by_id if ws.client_id in by_id and wss.client_id in by_id else None
        by_id = wait_until(listed, timeout=10)
        assert by_id
        for c, kind in ((ws, "ws"), (wss, "wss")):
            rec = by_id[c.client_id]
            assert rec["transport"] == kind
            local = c.c.socket()._socket.getsockname()
            assert rec["peer"] == "%s:%d" % local, (rec, local)
    finally:
        ws.disconnect()
        wss.disconnect()
