"""Helpers for the roost-admin tests (test_40_admin_api, test_41_roostctl).

AdminStack starts a private redis-server and roost-admin on free 127.0.0.1
ports (binaries under $ROOST_BUILD_DIR) and stops both by PID. It offers an
HTTP client (urllib), a ChangeEvent subscriber (python3-zmq; the protobuf
body is decoded by hand: a few varint/string fields), and a way to put
connection records into the registry the way a broker does (registry.h's
documented layout, through redis-cli). start_mqtt adds roost-authd and a
broker asking it, so a test can connect as a device with what admin stored.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import zmq

from ports import free_port  # noqa: F401 (tests import it from here)
from stack import mqtt_probe

BUILD = os.environ.get("ROOST_BUILD_DIR", "/work/main/build-test")
ADMIN = os.path.join(BUILD, "services", "admin", "roost-admin")
ROOSTCTL = os.path.join(BUILD, "tools", "roostctl", "roostctl")
AUTHD = os.path.join(BUILD, "services", "authd", "roost-authd")
BROKER = os.path.join(BUILD, "services", "broker", "roost-broker")
TOKEN = "test-admin-token-0123456789"


def wait_until(pred, timeout=10.0, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def stop(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def decode_change_event(body):
    """ChangeEvent fields: 1 kind, 2 op, 3 object_id, 4 username, 5 version, 6 time_ms."""
    names = {1: "kind", 2: "op", 3: "object_id", 4: "username", 5: "version", 6: "time_ms"}
    out, i = {}, 0
    while i < len(body):
        tag, i = _varint(body, i)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(body, i)
        elif wt == 2:
            n, i = _varint(body, i)
            v, i = body[i:i + n].decode(), i + n
        else:
            raise ValueError("unexpected wire type")
        out[names.get(field, field)] = v
    return out


KINDS = {1: "client", 2: "group", 3: "rule", 4: "acl", 5: "all", 6: "connection", 7: "routes"}
OPS = {1: "create", 2: "update", 3: "delete"}


class AdminStack:
    def __init__(self, env_token=TOKEN, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="roost-admin-test-")
        self.redis_port = free_port()
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.pub_port = free_port()
        self.redis = None
        self.admin = None
        self.env_token = env_token
        self.extra_env = extra_env or {}
        self.token_file = os.path.join(self.dir, "state", "admin-token")
        self.zctx = zmq.Context()
        self.sub = None
        self.mqtt = []        # roost-authd, roost-broker (start_mqtt)
        self.mqtt_port = None

    # -------------------------------------------------------------- processes
    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: self.redis_cli("PING") == "PONG")

    def stop_redis(self):
        stop(self.redis)
        self.redis = None

    def start_admin(self):
        env = dict(os.environ)
        env.pop("ROOST_ADMIN_TOKEN", None)
        if self.env_token:
            env["ROOST_ADMIN_TOKEN"] = self.env_token
        env.update(self.extra_env)
        self.log_path = os.path.join(self.dir, "admin.log")
        self.log = open(self.log_path, "ab")
        self.admin = subprocess.Popen(
            [ADMIN, "--redis", f"127.0.0.1:{self.redis_port}", "--http-port", str(self.http_port),
             "--rpc-bind", f"tcp://127.0.0.1:{self.rpc_port}", "--pub-bind", f"tcp://127.0.0.1:{self.pub_port}",
             "--token-file", self.token_file, "--argon2-ops", "1", "--argon2-mem", "8192",
             "--console-dir", self.dir, "--log-level", "debug"],
            stdout=self.log, stderr=self.log, cwd=self.dir, env=env)
        assert wait_until(lambda: self._healthy()), self.admin_log()

    def _healthy(self):
        try:
            return self.request("GET", "/healthz", token=None)[0] == 200
        except OSError:
            return False

    def admin_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.sub is not None:
            self.sub.close(0)
        self.zctx.term()
        for p in reversed(self.mqtt):
            stop(p)
        stop(self.admin)
        self.stop_redis()
        shutil.rmtree(self.dir, ignore_errors=True)

    def redis_cli(self, *args):
        p = subprocess.run(["redis-cli", "-p", str(self.redis_port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip()

    def start_mqtt(self):
        """roost-authd on this Redis (default prefix, as admin) and a
        roost-broker asking it; once per stack. Returns the MQTT port."""
        if self.mqtt_port:
            return self.mqtt_port
        authd_port, self.mqtt_port = free_port(), free_port()
        log = open(os.path.join(self.dir, "mqtt.log"), "ab")
        self.mqtt.append(subprocess.Popen(
            [AUTHD, "--bind", f"tcp://127.0.0.1:{authd_port}", "--redis", f"127.0.0.1:{self.redis_port}",
             "--http-port", str(free_port()), "--log-level", "debug"], stdout=log, stderr=log))
        self.mqtt.append(subprocess.Popen(
            [BROKER, "--bind", "127.0.0.1", "--port", str(self.mqtt_port), "--authd", f"tcp://127.0.0.1:{authd_port}",
             "--log-level", "debug"], stdout=log, stderr=log))
        log.close()
        # ready once an anonymous CONNECT gets authd's refusal (5), not 3 (no authd link yet)
        assert wait_until(lambda: self.connack(None, None) == 5), open(os.path.join(self.dir, "mqtt.log")).read()
        return self.mqtt_port

    def connack(self, username, password, timeout=5.0):
        """One CONNECT to the start_mqtt broker: its CONNACK code, or None."""
        return mqtt_probe(self.mqtt_port, "adminstack-%d" % time.monotonic_ns(), timeout, username, password)

    # ------------------------------------------------------------------ HTTP
    def request(self, method, path, body=None, token=TOKEN, raw=None, headers=None):
        """(status, parsed JSON or None, headers). body: object -> JSON; raw: bytes as is."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                payload, status, hdrs = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            payload, status, hdrs = e.read(), e.code, e.headers
        doc = None
        if payload and (hdrs.get("Content-Type") or "").startswith("application/json"):
            doc = json.loads(payload)
        elif payload:
            doc = payload
        return status, doc, hdrs

    # ---------------------------------------------------------------- events
    def subscribe(self):
        self.sub = self.zctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"roost.change")
        self.sub.connect(f"tcp://127.0.0.1:{self.pub_port}")
        time.sleep(0.3)  # slow joiner: let the subscription reach the PUB

    def events(self, timeout=2.0):
        """Every event that arrives within timeout (stops early after a quiet 0.3 s once one came)."""
        out, end = [], time.time() + timeout
        while time.time() < end:
            if not self.sub.poll(300 if out else int((end - time.time()) * 1000) + 1):
                if out:
                    break
                continue
            topic, body = self.sub.recv_multipart()
            e = decode_change_event(body)
            e["kind"] = KINDS.get(e.get("kind"), e.get("kind"))
            e["op"] = OPS.get(e.get("op"), e.get("op"))
            out.append(e)
        return out

    # -------------------------------------------------------------- registry
    def put_connection(self, broker, mqtt_client_id, ttl_ms=60000, **fields):
        """Writes one record as a broker does (registry.h layout, prefix roost:)."""
        rec = {"mqtt_client_id": mqtt_client_id, "client_id": fields.get("client_id", ""),
               "username": fields.get("username", "dev"), "peer": fields.get("peer", "127.0.0.1:40000"),
               "protocol": fields.get("protocol", 4), "keepalive": fields.get("keepalive", 60),
               "connected_at": fields.get("connected_at", int(time.time() * 1000)),
               "groups": fields.get("groups", [])}
        self.redis_cli("HSET", f"roost:{{g}}:conns:{broker}", mqtt_client_id, json.dumps(rec))
        self.redis_cli("PEXPIRE", f"roost:{{g}}:conns:{broker}", ttl_ms)
        self.redis_cli("ZADD", "roost:{g}:conns:brokers", int(time.time() * 1000) + ttl_ms, broker)

    # --------------------------------------------------------------- roostctl
    def ctl(self, *args, token=TOKEN, stdin=None, json_out=True):
        cmd = [ROOSTCTL, "--admin", f"tcp://127.0.0.1:{self.rpc_port}"]
        if token:
            cmd += ["--token", token]
        if json_out:
            cmd.append("--json")
        env = dict(os.environ)
        env.pop("ROOST_ADMIN_TOKEN", None)
        p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, timeout=60, env=env)
        out = None if json_out else p.stdout  # --json: the last line parsed; else the text
        if json_out and p.stdout.strip():
            out = json.loads(p.stdout.strip().splitlines()[-1])
        return p.returncode, out, p.stderr
