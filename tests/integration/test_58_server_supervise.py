"""58 script/server supervises (issue 12): a broker killed by PID is logged
with its status and started again while the rest of the cluster keeps
serving through haproxy; SIGTERM to script/server (started in the
background, no terminal) stops every process it started.

script/server runs with ROOST_BUILD=0 on the binaries ctest built, its
state in a temp dir (ROOST_VAR_DIR) and every port free."""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from cluster_stack import REPO, SANITIZER_MARKS, port_open, read_text
from conftest import PahoClient, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0
NAMES = ("redis", "admin", "authd", "broker1", "broker2", "haproxy", "forwarder")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def distinct_ports(keys):
    """{key: a free 127.0.0.1 port}, all different, below the kernel's
    ephemeral range: script/server binds them one after another while the
    processes already started open outgoing connections, whose ephemeral
    local ports could otherwise take one first."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    held = []
    try:
        while len(held) < len(keys):
            so = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                so.bind(("127.0.0.1", random.randrange(max(1024, low - 12000), low)))
            except OSError:
                so.close()
                continue
            held.append(so)
        return {k: so.getsockname()[1] for k, so in zip(keys, held)}
    finally:
        for so in held:
            so.close()


class Server:
    """extra_ports: more ROOST_<KEY>_PORT variables to give free ports;
    extra_env(ports) -> more variables (test_67: Redis HA)."""

    def __init__(self, extra_ports=(), extra_env=None):
        self.var = tempfile.mkdtemp(prefix="roost-server-test-")
        self.out_path = os.path.join(self.var, "server.out")
        keys = ("MQTT", "BROKER1", "BROKER2", "BROKER1_HTTP", "BROKER2_HTTP", "ADMIN_HTTP",
                "ADMIN_RPC", "ADMIN_PUB", "AUTHD", "AUTHD_HTTP", "FORWARDER_HTTP", "REDIS",
                "MQTTS", "BROKER1_TLS", "BROKER2_TLS", "WS", "WSS", "BROKER1_WS", "BROKER2_WS",
                "BROKER1_WSS", "BROKER2_WSS") + tuple(extra_ports)
        self.ports = distinct_ports(keys)
        env = dict(os.environ, ROOST_BUILD="0", ROOST_VAR_DIR=self.var, ROOST_ALLOW_ANONYMOUS="1",
                   ROOST_BUILD_DIR=os.environ.get("ROOST_BUILD_DIR", os.path.join(REPO, "build-test")),
                   ROOST_HAPROXY_MAXCONN="200")
        for k, p in self.ports.items():
            env["ROOST_%s_PORT" % k] = str(p)
        env.update(extra_env(self.ports) if extra_env else {})
        out = open(self.out_path, "ab")
        # a new session: no terminal, as when started in the background
        self.proc = subprocess.Popen([os.path.join(REPO, "script", "server")], cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     start_new_session=True)
        out.close()

    def out(self):
        return read_text(self.out_path)

    def pid(self, name):
        try:
            with open(os.path.join(self.var, "run", name + ".pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def logs(self):
        d = os.path.join(self.var, "log")
        parts = ["----- script/server -----\n" + self.out()[-6000:]]
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            parts.append("----- %s -----\n%s" % (n, read_text(os.path.join(d, n))[-6000:]))
        return "\n".join(parts)

    def api(self, method, path, body):
        token = read_text(os.path.join(self.var, "admin-token")).strip()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.ports["ADMIN_HTTP"], path),
                                     data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=T) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server(request):
    s = Server()
    try:
        yield s
    finally:
        finish(s, request, NAMES)


def finish(s, request, names):
    """Stops script/server, SIGKILLs any of `names` left, prints the logs
    when the test failed, checks them for sanitizer reports when it passed."""
    rep = getattr(request.node, "rep_call", None)
    ok = rep is not None and rep.passed
    pids = [s.pid(n) for n in names]
    s.stop()
    for p in pids:  # never leave one behind, whatever happened
        if p and alive(p):
            os.kill(p, signal.SIGKILL)
    text = s.logs()
    if not ok:
        print(text)
    shutil.rmtree(s.var, ignore_errors=True)
    if ok:
        bad = [m for m in SANITIZER_MARKS if m in text]
        assert not bad, text


def round_trip(port, topic):
    """A fresh client through haproxy subscribes to `topic`, publishes QoS 1
    to it and gets it back."""
    c = PahoClient(port, client_id=uid("sup"))
    try:
        c.connect(timeout=T)
        assert c.subscribe(topic, 1, timeout=T) == [1]
        c.publish(topic, b"hello", qos=1, timeout=T)
        assert c.get(timeout=T).payload == b"hello"
    finally:
        c.disconnect()


def test_killed_broker_restarts_while_cluster_serves_and_sigterm_stops_all(server):
    s = server
    assert wait_until(lambda: "Roost is running" in s.out() or s.proc.poll() is not None, timeout=90), s.out()
    assert s.proc.poll() is None, s.out()
    pids = {n: s.pid(n) for n in NAMES}
    assert all(pids.values()) and all(alive(p) for p in pids.values()), pids

    g = s.api("POST", "/api/v1/groups", {"name": "sup", "description": "",
                                         "acl": [{"permission": "allow", "action": "publish", "topic": "sup/#"},
                                                 {"permission": "allow", "action": "subscribe", "topic": "sup/#"}]})
    s.api("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "sup-*", "groups": [g["id"]]})
    mqtt_port = s.ports["MQTT"]
    round_trip(mqtt_port, "sup/before")

    os.kill(pids["broker1"], signal.SIGKILL)
    killed = time.monotonic()
    # (a connection accepted in the instant the process takes to die is lost
    # like any device's; the ones after that must all be served)
    assert wait_until(lambda: not alive(pids["broker1"]), timeout=T)
    # While broker1 is dead (0.5 s before its restart), haproxy keeps
    # sending devices to broker2. (A connection haproxy routes in the instant
    # broker1's new process starts listening may be dropped: not tested here.)
    n = 0
    while time.monotonic() - killed < 0.4 or n < 3:
        round_trip(mqtt_port, "sup/during/%d" % n)
        n += 1

    assert wait_until(lambda: s.pid("broker1") not in (0, pids["broker1"]) and alive(s.pid("broker1"))
                      and port_open(s.ports["BROKER1"]), timeout=30), s.out()
    new = s.pid("broker1")
    assert "broker1 (pid %d) exited on signal KILL; restarting in" % pids["broker1"] in s.out(), s.out()
    assert "restarting broker1" in s.out()
    for name in NAMES:
        if name != "broker1":
            assert s.pid(name) == pids[name] and alive(pids[name]), (name, s.out())
    round_trip(mqtt_port, "sup/after")
    assert s.proc.poll() is None

    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(30) == 143
    took = time.monotonic() - t0
    left = [n for n, p in dict(pids, broker1=new).items() if alive(p)]
    assert not left, "still running after SIGTERM to script/server: %r" % left
    assert "stopped:" in s.out()
    assert not os.listdir(os.path.join(s.var, "run")), "pid files left behind"
    print("script/server stopped everything %.1fs after SIGTERM" % took)
