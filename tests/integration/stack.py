"""A whole Roost stack for end-to-end tests: redis-server, roost-admin,
roost-authd and any number of roost-broker processes, all on 127.0.0.1 free
ports, each stopped by PID, each logging to a file in the stack's temp dir.

    st = Stack()                        # nothing started yet
    st.start_redis()
    st.start_admin()                    # HTTP API: st.api("POST", "/api/v1/clients", {...})
    a = st.start_authd(changes=True)    # --changes = admin's PUB endpoint
    b = st.start_broker(authd=a)        # --authd tcp://..., returns a Proc with .port
    b2 = st.start_broker("b2", authd=a, cluster=True, admin_events=True)
    ...
    st.close()                          # stops everything (brokers, authd, admin, redis)

Every process keeps its ports across stop()/start() (restart in place), so a
test can kill authd or Redis and bring it back on the same endpoint.

`stack` below is a pytest fixture (import it into a test module:
`from stack import stack  # noqa: F401`): a fresh Stack per test, closed at
teardown, with every log tail printed when the test failed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from ports import free_port  # noqa: F401 (tests import it from here)

BUILD = os.environ.get("ROOST_BUILD_DIR", "/work/main/build-test")
BROKER_BIN = os.path.join(BUILD, "services", "broker", "roost-broker")
AUTHD_BIN = os.path.join(BUILD, "services", "authd", "roost-authd")
ADMIN_BIN = os.path.join(BUILD, "services", "admin", "roost-admin")
ROOSTCTL_BIN = os.path.join(BUILD, "tools", "roostctl", "roostctl")
REDIS_BIN = "/usr/bin/redis-server"
TOKEN = "stack-admin-token-0123456789"
LOG_LEVEL = os.environ.get("ROOST_TEST_LOG_LEVEL", "debug")


def wait_for(pred, timeout=10.0, interval=0.02):
    """Polls pred() until truthy or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def tcp_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(port, path, timeout=5.0):
    """(status, body text) or (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def mqtt_probe(port, client_id, timeout=2.0, username=None, password=None):
    """One MQTT 3.1.1 CONNECT (anonymous unless username/password are given,
    short strings); returns the CONNACK code, or None when no CONNACK came
    (closed, timed out). Sends DISCONNECT when accepted."""
    def field(v):
        return len(v.encode()).to_bytes(2, "big") + v.encode()
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = field("MQTT") + bytes([4, flags, 0, 60]) + field(client_id)
    body += (field(username) if username is not None else b"") + (field(password) if password is not None else b"")
    assert len(body) < 128  # a one-byte remaining length
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(bytes([0x10, len(body)]) + body)
            buf = b""
            while len(buf) < 4:
                chunk = s.recv(4 - len(buf))
                if not chunk:
                    return None
                buf += chunk
            if buf[0] != 0x20:
                return None
            if buf[3] == 0:
                s.sendall(b"\xe0\x00")
            return buf[3]
    except OSError:
        return None


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class Proc:
    """One process of the stack. argv is fixed at creation (ports included),
    so stop() then start() restarts it in place."""

    def __init__(self, stack, name, argv, ready, env=None, cwd=None):
        self.stack = stack
        self.name = name
        self.argv = argv
        self.ready = ready          # callable(proc) -> bool
        self.env = env
        self.cwd = cwd or stack.dir
        self.proc = None
        self.log_path = os.path.join(stack.dir, name + ".log")
        self.exit_codes = []

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=15.0, wait=True):
        assert not self.alive(), "%s already running" % self.name
        with open(self.log_path, "ab") as log:
            log.write(("### start %s\n" % " ".join(self.argv)).encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, cwd=self.cwd)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        def ok():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %r while starting; log:\n%s"
                                   % (self.name, self.proc.returncode, self.log_tail()))
            return self.ready(self)
        if not wait_for(ok, timeout, 0.03):
            raise RuntimeError("%s not ready within %.0fs; log:\n%s" % (self.name, timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Stops this process by PID (sig, then SIGKILL after timeout); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL by PID: a crash, no clean shutdown."""
        return self.stop(timeout=5.0, sig=signal.SIGKILL)

    def restart(self, timeout=15.0):
        self.stop()
        return self.start(timeout)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=120):
        return "\n".join(self.log().splitlines()[-lines:])


class Stack:
    def __init__(self, prefix="roost:", keep_dir=False):
        self.dir = tempfile.mkdtemp(prefix="roost-stack-")
        self.prefix = prefix
        self.keep_dir = keep_dir
        self.procs = []           # every Proc, in start order
        self.redis = None
        self.admin = None
        self.authds = []
        self.brokers = []
        self.redis_password = None  # start_redis(password=...): --requirepass
        self.env_extra = {}       # added to every service's environment

    def _env(self, base=None):
        env = dict(base or os.environ)
        env.update(self.env_extra)
        return env

    # ------------------------------------------------------------------ redis
    def start_redis(self, persist=True, password=None):
        """redis-server with an AOF in the stack dir, so stop()/start() keeps the data.
        password: --requirepass, and ROOST_REDIS_PASSWORD for the services."""
        port = free_port()
        argv = [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "yes" if persist else "no", "--protected-mode", "no", "--maxclients", "10000"]
        if password:
            argv += ["--requirepass", password]
            self.redis_password = password
            self.env_extra["ROOST_REDIS_PASSWORD"] = password
        hello = (b"AUTH %s\r\n" % password.encode() if password else b"") + b"PING\r\n"

        def ready(p):
            try:
                with socket.create_connection(("127.0.0.1", port), 0.3) as s:
                    s.sendall(hello)
                    return b"+PONG" in s.recv(32)
            except OSError:
                return False
        self.redis = self._add(Proc(self, "redis", argv, ready))
        self.redis.port = port
        self.redis.addr = "127.0.0.1:%d" % port
        return self.redis.start()

    def redis_cli(self, *args):
        auth = ["--no-auth-warning", "-a", self.redis_password] if self.redis_password else []
        p = subprocess.run(["redis-cli", "-p", str(self.redis.port)] + auth + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip()

    # ------------------------------------------------------------------ admin
    def start_admin(self, argon2_ops=1, argon2_mem=8192, wait=True):
        """roost-admin with TOKEN as first operator token and cheap argon2 for new passwords.
        wait=False: return without waiting for /healthz 200."""
        http, rpc, pub = free_port(), free_port(), free_port()
        env = self._env()
        env["ROOST_ADMIN_TOKEN"] = TOKEN
        argv = [ADMIN_BIN, "--redis", self.redis.addr, "--prefix", self.prefix, "--http-port", str(http),
                "--rpc-bind", "tcp://127.0.0.1:%d" % rpc, "--pub-bind", "tcp://127.0.0.1:%d" % pub,
                "--token-file", os.path.join(self.dir, "admin-token"), "--argon2-ops", str(argon2_ops),
                "--argon2-mem", str(argon2_mem), "--console-dir", self.dir, "--log-level", LOG_LEVEL]
        self.admin = self._add(Proc(self, "admin", argv, lambda p: http_get(http, "/healthz")[0] == 200, env=env))
        self.admin.http_port = http
        self.admin.rpc = "tcp://127.0.0.1:%d" % rpc
        self.admin.pub = "tcp://127.0.0.1:%d" % pub
        return self.admin.start(wait=wait)

    def api(self, method, path, body=None, token=TOKEN, timeout=15.0):
        """admin HTTP API call -> (status, parsed JSON or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin.http_port, path), data=data,
                                     method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload

    def _must(self, method, path, body, want):
        status, doc = self.api(method, path, body)
        assert status == want, "%s %s -> %s %r" % (method, path, status, doc)
        return doc

    def add_client(self, username, password, name=None):
        return self._must("POST", "/api/v1/clients",
                          {"name": name or username, "username": username, "password": password}, 201)

    def edit_client(self, client_id, **fields):
        return self._must("PATCH", "/api/v1/clients/%s" % client_id, fields, 200)

    def delete_client(self, client_id):
        return self._must("DELETE", "/api/v1/clients/%s" % client_id, None, 204)

    def add_group(self, name, acl, description=""):
        """acl: list of (permission, action, topic) tuples or dicts."""
        entries = [a if isinstance(a, dict) else {"permission": a[0], "action": a[1], "topic": a[2]} for a in acl]
        return self._must("POST", "/api/v1/groups", {"name": name, "description": description, "acl": entries}, 201)

    def edit_group(self, group_id, **fields):
        if "acl" in fields:
            fields["acl"] = [a if isinstance(a, dict) else {"permission": a[0], "action": a[1], "topic": a[2]}
                             for a in fields["acl"]]
        return self._must("PATCH", "/api/v1/groups/%s" % group_id, fields, 200)

    def add_rule(self, match_by, value, groups):
        return self._must("POST", "/api/v1/group-rules", {"match_by": match_by, "value": value,
                                                          "groups": list(groups)}, 201)

    def edit_rule(self, rule_id, **fields):
        return self._must("PATCH", "/api/v1/group-rules/%s" % rule_id, fields, 200)

    def delete_rule(self, rule_id):
        return self._must("DELETE", "/api/v1/group-rules/%s" % rule_id, None, 204)

    def connections(self):
        status, doc = self.api("GET", "/api/v1/connections?limit=1000")
        assert status == 200, doc
        return {c["mqtt_client_id"]: c for c in doc["items"]}

    # ------------------------------------------------------------------ authd
    def start_authd(self, name=None, changes=False, allow_anonymous=False, argon2_ops=1, argon2_mem=8192,
                    extra=(), wait_healthy=True):
        """roost-authd on free ports. changes=True subscribes to admin's PUB.
        wait_healthy=False only waits for /healthz to answer at all (Redis may be down)."""
        name = name or "authd%d" % (len(self.authds) + 1)
        port, http = free_port(), free_port()
        argv = [AUTHD_BIN, "--bind", "tcp://127.0.0.1:%d" % port, "--redis", self.redis.addr,
                "--prefix", self.prefix, "--http-port", str(http), "--redis-timeout-ms", "1000",
                "--argon2-ops", str(argon2_ops), "--argon2-mem", str(argon2_mem), "--log-level", LOG_LEVEL]
        if changes:
            argv += ["--changes", self.admin.pub]
        if allow_anonymous:
            argv.append("--allow-anonymous")
        argv += list(extra)

        def ready(p):
            st = http_get(http, "/healthz", 1.0)[0]
            return st == 200 if wait_healthy else st is not None
        a = self._add(Proc(self, name, argv, ready, env=self._env()))
        a.port, a.http_port = port, http
        a.endpoint = "tcp://127.0.0.1:%d" % port
        a.metrics = lambda: parse_metrics(http_get(http, "/metrics")[1])
        self.authds.append(a)
        return a.start()

    # ----------------------------------------------------------------- broker
    def start_broker(self, name=None, authd=None, cluster=False, admin_events=False, auth_timeout_ms=None,
                     extra=(), insecure=False, wait_authd=True):
        """roost-broker on a free MQTT port. authd: a Proc or a list of them
        (default: every authd started so far). cluster=True adds --redis/--prefix,
        admin_events=True adds --admin-events (admin's PUB).

        Ready = the MQTT port accepts and, with wait_authd and an authd running,
        an anonymous probe CONNECT gets a decision from authd (any CONNACK but 3):
        the broker refuses CONNECTs with 3 at once while its link to authd is
        still being set up (first tens of ms). The probe costs authd one
        anonymous request (not_authorized, or ok with --allow-anonymous)."""
        name = name or "broker%d" % (len(self.brokers) + 1)
        port = free_port()
        argv = [BROKER_BIN, "--bind", "127.0.0.1", "--port", str(port), "--id", name, "--log-level", LOG_LEVEL]
        authds = []
        if insecure:
            argv.append("--insecure-no-auth")
        else:
            authds = authd if isinstance(authd, (list, tuple)) else ([authd] if authd else self.authds)
            assert authds, "start an authd first (or pass insecure=True)"
            argv += ["--authd", ",".join(a.endpoint for a in authds)]
        if auth_timeout_ms is not None:
            argv += ["--auth-timeout-ms", str(auth_timeout_ms)]
        if cluster:
            argv += ["--redis", self.redis.addr, "--prefix", self.prefix]
        if admin_events:
            argv += ["--admin-events", self.admin.pub]
        argv += list(extra)
        probe = wait_authd and not insecure and all(isinstance(a, Proc) and a.alive() for a in authds)

        def ready(p):
            if not probe:
                return tcp_open(port)
            rc = mqtt_probe(port, "stack-probe-%s" % name)
            return rc is not None and rc != 3
        b = self._add(Proc(self, name, argv, ready, env=self._env()))
        b.port = port
        self.brokers.append(b)
        return b.start()

    # ---------------------------------------------------------------- general
    def _add(self, p):
        self.procs.append(p)
        return p

    def dump_logs(self, lines=120):
        out = []
        for p in self.procs:
            out.append("----- %s (pid %s, exits %r) log tail: %s -----\n%s"
                       % (p.name, p.pid, p.exit_codes, p.log_path, p.log_tail(lines)))
        return "\n".join(out)

    def close(self):
        """Stops brokers, then authd, admin, redis (reverse start order), each by PID."""
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # keep stopping the rest
                pass
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def stack(request):
    """A fresh Stack (nothing started) per test; every process stopped by PID at
    teardown; logs printed when the test failed."""
    st = Stack()
    yield st
    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    if failed:
        print("\n" + st.dump_logs())
    st.close()
