"""Helpers for the cluster tests (test_50..test_54): a private redis-server,
roost-broker processes in cluster mode, and haproxy in front of them, each
on free 127.0.0.1 ports, each stopped by PID.

    cl = Cluster()                       # temp dir, unique key prefix
    cl.start_redis(persist=True)         # appendonly yes, appendfsync always
    b1, b2 = cl.start_broker(), cl.start_broker()
    cl.wait_mesh()                       # every broker sees every other
    lb = cl.start_haproxy([b1, b2, spare_port])
    ...
    cl.close()                           # stops all, checks sanitizer output

haproxy's config is generated from deploy/local/haproxy.cfg.in (the one
script/server uses), plus an admin socket so tests wait on server state
(UP/DOWN) instead of sleeping.

Device is a paho client with its own network loop that reconnects by
itself (bounded backoff) and records every message with its DUP flag, for
the failover tests.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from conftest import PahoClient, free_port, roost_binary, stop_process, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAPROXY_TEMPLATE = os.path.join(REPO, "deploy", "local", "haproxy.cfg.in")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_text(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ------------------------------------------------------------------ redis

class Redis:
    """redis-server on a fixed port (kept across restarts) and data dir."""

    def __init__(self, dirpath, persist=False):
        self.dir = dirpath
        self.persist = persist
        self.port = None
        self.proc = None
        self.log_path = os.path.join(dirpath, "redis.log")

    def start(self, attempts=3):
        for _ in range(attempts):
            port = self.port or free_port()
            argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--save", "", "--logfile", self.log_path, "--daemonize", "no"]
            if self.persist:
                argv += ["--appendonly", "yes", "--appendfsync", "always",
                         "--appendfilename", "roost-test.aof"]
            else:
                argv += ["--appendonly", "no"]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            self.port = port
            if wait_until(lambda: self.proc.poll() is not None or self.cmd("PING") == "PONG",
                          timeout=15.0) and self.proc.poll() is None:
                return self
            stop_process(self.proc)
            if self.persist:  # a restart must keep its port: do not wander
                break
            self.port = None
        raise RuntimeError("redis-server did not start; log:\n%s" % read_text(self.log_path))

    def kill(self):
        """SIGKILL (what a crash looks like); AOF with fsync always keeps every acked write."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc:
            stop_process(self.proc, timeout=10)

    def cmd(self, *args):
        """One command through redis-cli; stdout stripped ('' on failure)."""
        if not self.port:
            return ""
        try:
            p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)] +
                               [str(a) for a in args], capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return ""
        return p.stdout.strip() if p.returncode == 0 else ""

    def lines(self, *args):
        out = self.cmd(*args)
        return out.splitlines() if out else []

    def hgetall(self, key):
        ls = self.lines("HGETALL", key)
        return dict(zip(ls[0::2], ls[1::2]))


# ------------------------------------------------------------------ broker

class ClusterBroker:
    def __init__(self, cluster, name, port=None):
        self.cluster = cluster
        self.id = name
        self.port = port
        self.proc = None
        self.log_path = os.path.join(cluster.dir, "broker-%s.log" % name)
        self.exit_code = None

    def argv(self, port):
        seeds = getattr(self.cluster.redis, "seeds", None)
        return [roost_binary(), "--redis", "127.0.0.1:%d" % self.cluster.redis.port] + \
               (["--redis-cluster", seeds()] if seeds else []) + [
                "--prefix", self.cluster.prefix, "--bus-bind", "tcp://127.0.0.1:*",
                "--id", self.id, "--bind", "127.0.0.1", "--port", str(port),
                "--insecure-no-auth", "--log-level",
                os.environ.get("ROOST_TEST_LOG_LEVEL", "debug")] + self.cluster.broker_args

    def start(self, attempts=3):
        exe = roost_binary()
        if not os.access(exe, os.X_OK):
            raise RuntimeError("roost-broker not built: %s" % exe)
        fixed = self.port is not None
        for _ in range(attempts):
            port = self.port if fixed else free_port()
            log = open(self.log_path, "ab")
            log.write(("### %s\n" % " ".join(self.argv(port))).encode())
            log.flush()
            self._mark = os.path.getsize(self.log_path)
            self.proc = subprocess.Popen(self.argv(port), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=dict(os.environ))
            log.close()
            self.port = port
            ok = wait_until(lambda: self.proc.poll() is not None or
                            ("event=redis_connected" in self.log_since_start() and
                             "event=listening" in self.log_since_start()), timeout=20.0)
            if ok and self.proc.poll() is None and port_open(port):
                return self
            stop_process(self.proc)
            if not fixed:
                self.port = None
        raise RuntimeError("broker %s did not start; log:\n%s" % (self.id, self.log()[-4000:]))

    def log(self):
        return read_text(self.log_path)

    def log_since_start(self):
        return self.log()[getattr(self, "_mark", 0):]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.exit_code = self.proc.returncode

    def term(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code (SIGKILL after timeout)."""
        self.exit_code = stop_process(self.proc, timeout=timeout)
        return self.exit_code

    def peers_seen(self):
        """Broker ids this broker's log says joined minus the ones that left."""
        joined = set()
        for line in self.log_since_start().splitlines():
            m = re.search(r"event=peer_(joined|left) peer=(\S+)", line)
            if m:
                (joined.add if m.group(1) == "joined" else joined.discard)(m.group(2))
        return joined


# ------------------------------------------------------------------ haproxy

class HAProxy:
    """haproxy -db with the deploy/local template; servers are (name, port)."""

    def __init__(self, dirpath, servers, maxconn=1000):
        self.dir = dirpath
        self.servers = list(servers)
        self.maxconn = maxconn
        self.port = None
        self.proc = None
        self.sock_path = os.path.join(dirpath, "haproxy.sock")
        self.cfg_path = os.path.join(dirpath, "haproxy.cfg")
        self.log_path = os.path.join(dirpath, "haproxy.log")

    def _config(self, port):
        with open(HAPROXY_TEMPLATE) as f:
            t = f.read()
        srv = "".join("    server %s 127.0.0.1:%d check\n" % s for s in self.servers)
        t = (t.replace("@MAXCONN@", str(self.maxconn)).replace("@BIND@", "127.0.0.1")
             .replace("@MQTT_PORT@", str(port)))
        t = "\n".join(srv.rstrip("\n") if line == "@SERVERS@" else line for line in t.splitlines())
        # An admin socket, to wait on server state; nothing else changes.
        t = t.replace("global\n", "global\n    stats socket %s mode 600 level admin\n" % self.sock_path, 1)
        return t + "\n"

    def start(self, attempts=3):
        for _ in range(attempts):
            port = free_port()
            with open(self.cfg_path, "w") as f:
                f.write(self._config(port))
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg_path], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
            log.close()
            self.port = port
            if wait_until(lambda: self.proc.poll() is not None or
                          (port_open(port) and os.path.exists(self.sock_path)), timeout=10.0) \
                    and self.proc.poll() is None:
                return self
            stop_process(self.proc)
        raise RuntimeError("haproxy did not start; log:\n%s" % read_text(self.log_path))

    def command(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.sock_path)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode(errors="replace")
                out += chunk

    def states(self):
        """{server name: 'UP' | 'DOWN' | ...} of the backend."""
        try:
            csv = self.command("show stat").splitlines()
        except OSError:
            return {}
        if not csv or not csv[0].startswith("# "):
            return {}
        head = csv[0][2:].split(",")
        i_px, i_sv, i_st = head.index("pxname"), head.index("svname"), head.index("status")
        out = {}
        for row in csv[1:]:
            cols = row.split(",")
            if len(cols) > i_st and cols[i_px] == "brokers" and cols[i_sv] not in ("BACKEND",):
                out[cols[i_sv]] = cols[i_st].split(" ")[0]
        return out

    def wait_state(self, name, state, timeout=15.0):
        ok = wait_until(lambda: self.states().get(name) == state, timeout=timeout, interval=0.1)
        assert ok, "haproxy: server %s not %s within %ss (states %r)" % (name, state, timeout, self.states())

    def stop(self):
        if self.proc:
            stop_process(self.proc)


# ------------------------------------------------------------------ cluster

class Cluster:
    def __init__(self, broker_args=()):
        self.dir = tempfile.mkdtemp(prefix="roost-cluster-test-")
        self.prefix = "t%s:" % uuid.uuid4().hex[:8]
        self.redis = None
        self.brokers = []
        self.haproxy = None
        self.broker_args = list(broker_args)
        self._n = 0
        self.devices = []

    def start_redis(self, persist=False, cluster=None):
        """A redis-server; a 3-primary/3-replica Redis Cluster (redis_cluster.py)
        instead with cluster=True or ROOST_TEST_REDIS_CLUSTER=1 (test_88 runs
        the cluster tests so)."""
        if cluster is None:
            cluster = os.environ.get("ROOST_TEST_REDIS_CLUSTER") == "1"
        if cluster:
            from redis_cluster import RedisCluster
            self.redis = RedisCluster(self.dir).start()
        else:
            self.redis = Redis(self.dir, persist=persist).start()
        return self.redis

    def new_broker(self, name=None, port=None):
        self._n += 1
        b = ClusterBroker(self, name or "b%d-%s" % (self._n, uuid.uuid4().hex[:4]), port)
        self.brokers.append(b)
        return b

    def start_broker(self, name=None, port=None):
        return self.new_broker(name, port).start()

    def live(self):
        return [b for b in self.brokers if b.alive()]

    def wait_mesh(self, brokers=None, timeout=15.0):
        """Every live broker's log shows every other one as a joined peer."""
        bs = brokers or self.live()

        def meshed():
            return all({o.id for o in bs if o is not b} <= b.peers_seen() for b in bs)
        assert wait_until(meshed, timeout=timeout, interval=0.05), \
            "brokers did not all see each other: %r" % {b.id: sorted(b.peers_seen()) for b in bs}

    def registry(self):
        """The brokers hash: {id: 'endpoint\\tstarted_ms'}."""
        return self.redis.hgetall(self.prefix + "{g}:brokers")

    def lease(self, client_id):
        return self.redis.cmd("GET", self.prefix + "lease:{c:" + client_id + "}")

    def start_haproxy(self, servers):
        """servers: ClusterBroker objects or (name, port) pairs."""
        pairs = [(s.id, s.port) if isinstance(s, ClusterBroker) else tuple(s) for s in servers]
        self.haproxy = HAProxy(self.dir, pairs).start()
        return self.haproxy

    def by_id(self, bid):
        for b in self.brokers:
            if b.id == bid:
                return b
        return None

    def device(self, port, client_id, **kw):
        d = Device(port, client_id, **kw)
        self.devices.append(d)
        return d

    def logs(self, tail=30000):
        out = []
        for b in self.brokers:
            out.append("----- broker %s (port %s) -----\n%s" % (b.id, b.port, b.log()[-tail:]))
        if self.haproxy:
            out.append("----- haproxy -----\n%s" % read_text(self.haproxy.log_path)[-tail:])
        return "\n".join(out)

    def sanitizer_reports(self):
        bad = []
        for b in self.brokers:
            text = b.log()
            for mark in SANITIZER_MARKS:
                i = text.find(mark)
                if i >= 0:
                    bad.append("%s: %s" % (b.id, text[max(0, i - 200):i + 3000]))
                    break
        return bad

    def close(self):
        for d in self.devices:
            d.stop()
        if self.haproxy:
            self.haproxy.stop()
        for b in self.brokers:
            if b.proc is not None and b.proc.poll() is None:
                b.term()
        if self.redis:
            self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ devices

class Device:
    """A paho MQTT 3.1.1 client that stays connected: its own loop thread
    reconnects after any loss (backoff 0.1 s doubling to 1 s), subscribes
    `subs` on every connection whose CONNACK says no session present, and
    records every message as (topic, payload, qos, dup, retain, packet id,
    arrival time, connection number)."""

    def __init__(self, port, client_id, clean=False, subs=(), keepalive=10, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.subs = list(subs)
        self.c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        self.keepalive = keepalive
        self.lock = threading.Lock()
        self.msgs = []
        self.connacks = []            # (session_present, rc)
        self.up = threading.Event()   # connected and subscribed
        self.losses = 0
        self._stop = threading.Event()
        self._thread = None
        self._sub_mid = None
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe

    def _on_connect(self, c, ud, flags, rc):
        sp = flags.get("session present", 0)
        with self.lock:
            self.connacks.append((sp, rc))
        if rc != 0:
            return
        if self.subs and not sp:
            rc2, mid = c.subscribe(self.subs)
            self._sub_mid = mid
        else:
            self.up.set()

    def _on_subscribe(self, c, ud, mid, granted):
        if mid == self._sub_mid:
            self.up.set()

    def _on_message(self, c, ud, m):
        with self.lock:
            self.msgs.append((m.topic, bytes(m.payload), m.qos, bool(m.dup), bool(m.retain), m.mid,
                              time.time(), self.losses))

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="dev-" + self.client_id)
        self._thread.start()
        return self

    def _run(self):
        backoff = 0.1
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    self.c.connect(self.host, self.port, keepalive=self.keepalive)
                    first = False
                else:
                    self.c.reconnect()
            except OSError:
                self._stop.wait(backoff)
                backoff = min(1.0, backoff * 2)
                continue
            while not self._stop.is_set():
                rc = self.c.loop(timeout=0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
            if self._stop.is_set():
                break
            self.up.clear()
            with self.lock:
                self.losses += 1
            self._stop.wait(backoff)
            backoff = min(1.0, backoff * 2)
            if self.up.is_set():
                backoff = 0.1

    def wait_up(self, timeout=15.0):
        assert self.up.wait(timeout), "%s: not connected+subscribed within %ss (connacks %r)" % (
            self.client_id, timeout, self.connacks)

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def stop(self, disconnect=True):
        if self._thread is None:
            return
        if disconnect and self.up.is_set():
            try:
                self.c.disconnect()
                # let the loop flush DISCONNECT
                end = time.monotonic() + 1.0
                while time.monotonic() < end and self.c.loop(timeout=0.05) == mqtt.MQTT_ERR_SUCCESS:
                    pass
            except Exception:
                pass
        self._stop.set()
        self._thread.join(5)
        self._thread = None


def seq_payload(tag, n):
    return ("%s:%d" % (tag, n)).encode()


def seq_of(payload, tag):
    p = payload.decode(errors="replace")
    if not p.startswith(tag + ":"):
        return None
    return int(p[len(tag) + 1:])


def check_sequence(msgs, tag, expected, label):
    """Every seq in `expected` received; a seq received twice only with at
    most one copy lacking DUP. Returns a list of problems ('' if none)."""
    copies = {}
    detail = {}
    for m in msgs:
        payload, dup = m[1], m[3]
        s = seq_of(payload, tag)
        if s is None:
            continue
        copies.setdefault(s, []).append(dup)
        detail.setdefault(s, []).append("dup=%d pid=%s at %s conn#%d" % (
            dup, m[5], time.strftime("%H:%M:%S", time.gmtime(m[6])) + ".%03d" % (m[6] % 1 * 1000), m[7]))
    problems = []
    missing = sorted(set(expected) - set(copies))
    if missing:
        problems.append("%s: %d of %d missing, e.g. %r" % (label, len(missing), len(expected), missing[:20]))
    bad_dups = sorted(s for s, d in copies.items() if len(d) > 1 and d.count(False) > 1)
    if bad_dups:
        problems.append("%s: %d seqs received more than once without DUP, e.g. %r" % (
            label, len(bad_dups), [(s, detail[s]) for s in bad_dups[:10]]))
    return problems


def warm_up(pub, subs, topic, qos=0, timeout=10.0):
    """A subscription reaches the other brokers' XPUB (and, for persistent
    sessions, their cluster index) shortly after SUBACK. Publish probes on
    `topic` through `pub` (a conftest.PahoClient) until every PahoClient in
    `subs` got one, then drop what they received."""
    deadline = time.monotonic() + timeout
    got = set()
    i = 0
    while len(got) < len(subs):
        assert time.monotonic() < deadline, "bus subscription for %s never became effective" % topic
        i += 1
        pub.publish(topic, b"probe-%d" % i, qos=qos)
        end = time.monotonic() + 0.2
        for k, s in enumerate(subs):
            if k in got:
                continue
            try:
                m = s.messages.get(timeout=max(0.01, end - time.monotonic()))
                if m.payload.startswith(b"probe-"):
                    got.add(k)
            except Exception:
                pass
    time.sleep(0.05)
    for s in subs:
        s.drain()
    return i


def two_brokers(c):
    """The usual setup: Redis, brokers b1 and b2, meshed."""
    c.start_redis()
    c.start_broker("b1")
    c.start_broker("b2")
    c.wait_mesh()


@contextlib.contextmanager
def running(c, setup=two_brokers):
    """For a module fixture or one test: setup(c) (None: the test starts
    what it needs), yield c, then no sanitizer report may be in the logs;
    the logs are printed when anything failed; stopped by PID either way."""
    try:
        if setup:
            setup(c)
        yield c
        assert not c.sanitizer_reports(), "\n".join(c.sanitizer_reports())
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.close()


@contextlib.contextmanager
def paho_clients(timeout=10.0):
    """For a test fixture: make(broker, **kw) connects a PahoClient to a
    ClusterBroker; every one made is disconnected at the end."""
    made = []

    def make(broker, **kw):
        pc = PahoClient(broker.port, **kw)
        made.append(pc)
        pc.connect(timeout=timeout)
        return pc

    try:
        yield make
    finally:
        for pc in made:
            try:
                pc.disconnect()
            except Exception:
                pc.loop_stop()


@pytest.fixture
def cluster(request):
    """A Cluster with Redis started; no sanitizer report may appear; its
    logs are printed when the test failed; closed at teardown. Import it
    into a test file to use it as a fixture."""
    c = Cluster()
    try:
        c.start_redis()
        yield c
        assert not c.sanitizer_reports(), "\n".join(c.sanitizer_reports())
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(c.logs())
        c.close()
