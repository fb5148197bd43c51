"""roost-authd end to end: real redis-server, real roost-authd, data seeded
through lib/store (roost-authd-seed), requests sent through lib/rpc
(roost-authd-probe, one JSON line per reply in arrival order).

Each test starts its own authd (own ports, own key prefix) so throttling and
cache state never leak between tests. Every process is stopped by PID.
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
import uuid

import pytest

from ports import free_port

BUILD = os.environ.get("ROOST_BUILD_DIR", "/work/main/build-test")
AUTHD = os.path.join(BUILD, "services/authd/roost-authd")
PROBE = os.path.join(BUILD, "services/authd/roost-authd-probe")
SEED = os.path.join(BUILD, "services/authd/roost-authd-seed")
ROOSTCTL = os.path.join(BUILD, "tools/roostctl/roostctl")
REDIS = "/usr/bin/redis-server"
FAST_COST = ["--ops", "1", "--mem", "8192"]           # argon2id minimum: fast tests
SLOW_COST = ["--ops", "12", "--mem", str(64 << 20)]   # hundreds of ms per verification

pytestmark = pytest.mark.skipif(not os.path.exists(AUTHD), reason="roost-authd not built")


def stop(proc, timeout=10):
    """Stops a process by PID; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="roost-authd-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def stop(self):
        if self.proc:
            stop(self.proc)
            self.proc = None

    def close(self):
        """Stops it and removes its dir (its append-only files)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port


@pytest.fixture
def redis():
    r = Redis()
    try:
        r.start()
        yield r
    finally:
        r.close()


class Authd:
    def __init__(self, redis, prefix, *extra):
        self.port = free_port()
        self.http = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.log = tempfile.NamedTemporaryFile(prefix="roost-authd-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [AUTHD, "--bind", self.endpoint, "--redis", redis.addr, "--prefix", prefix,
             "--http-port", str(self.http), "--redis-timeout-ms", "300", "--log-level", "debug", *extra],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            assert self.proc.poll() is None, self.logtext()
            try:
                self.get("/healthz")
                return
            except (urllib.error.URLError, OSError, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("authd did not start:\n" + self.logtext())

    def logtext(self):
        with open(self.log.name) as f:
            return f.read()

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def requests(self, *reqs, timeout_ms=5000, raw=None):
        """Each req is a dict of probe options; returns the reply dicts in arrival order."""
        args = [PROBE, "--connect", self.endpoint, "--timeout-ms", str(timeout_ms)]
        if raw:
            args += ["--raw", raw]
        for i, r in enumerate(reqs):
            args += ["--req", "--id", str(r.get("id", i + 1))]
            for k, v in r.items():
                if k != "id":
                    args += ["--" + k.replace("_", "-"), str(v)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_ms / 1000 + 10)
        return [json.loads(line) for line in out.stdout.splitlines()]

    def one(self, **req):
        (reply,) = self.requests(req)
        return reply

    def stop(self):
        rc = stop(self.proc)
        self.log.close()
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)
        return rc


@pytest.fixture
def env(redis):
    """(redis, prefix, seed function, authd factory); stops every authd."""
    prefix = "t%s:" % uuid.uuid4().hex[:8]
    started = []

    def seed(*args, cost=FAST_COST):
        out = subprocess.run([SEED, "--redis", redis.addr, "--prefix", prefix, *cost, *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout)["id"]

    def authd(*extra):
        a = Authd(redis, prefix, *extra)
        started.append(a)
        return a

    yield redis, prefix, seed, authd
    for a in started:
        running = a.proc.poll() is None
        rc = a.stop()  # (also removes the log of one that exited by itself)
        if running:
            assert rc == 0, "authd did not exit 0 on SIGTERM"


def redis_exec(redis, *cmds):
    """Sends commands on one connection (RESP); returns the raw replies."""
    data = b""
    for c in cmds:
        data += b"*%d\r\n" % len(c)
        for arg in c:
            a = arg.encode()
            data += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", redis.port), 5) as s:
        s.sendall(data + b"QUIT\r\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    assert b"-ERR" not in out and b"-EXECABORT" not in out, out
    return out


def seed_sensor(seed):
    cid = seed("client", "Sensor 1", "alice", "correct-horse")
    g1 = seed("group", "sensors", "allow:publish:dev/%c/up", "deny:subscribe:dev/+/secret")
    g2 = seed("group", "readers", "allow:subscribe:shared/#")
    seed("rule", "mqtt_client_id", "dev-*", g1)
    seed("rule", "client", cid, g2, g1)
    return cid, g1, g2


def test_ok_with_groups_and_acl(env):
    redis, prefix, seed, authd = env
    cid, g1, g2 = seed_sensor(seed)
    a = authd()
    r = a.one(username="alice", password="correct-horse", client_id="dev-7")
    assert r["status"] == "ok"
    assert r["client_id"] == cid and r["client_name"] == "Sensor 1"
    assert r["groups"] == [g1, g2]          # rule order, each group once
    assert r["acl"] == [
        {"permission": "allow", "action": "publish", "topic": "dev/%c/up"},
        {"permission": "deny", "action": "subscribe", "topic": "dev/+/secret"},
        {"permission": "allow", "action": "subscribe", "topic": "shared/#"},
    ]
    assert r["config_version"] > 0
    # A client id no mqtt_client_id rule matches: only the client rule's groups.
    r = a.one(username="alice", password="correct-horse", client_id="other")
    assert r["status"] == "ok" and r["groups"] == [g2, g1]


def test_bad_password_and_unknown_user(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    a = authd()
    r = a.one(username="alice", password="wrong-password", client_id="dev-1")
    assert r["status"] == "bad_credentials" and r["acl"] == [] and r["client_id"] == ""
    assert a.one(username="mallory", password="whatever", client_id="dev-1")["status"] == "bad_credentials"
    assert "wrong-password" not in a.logtext() and "correct-horse" not in a.logtext()


def test_anonymous_refused_then_allowed(env):
    redis, prefix, seed, authd = env
    cid, g1, g2 = seed_sensor(seed)
    a = authd()
    assert a.one(client_id="dev-3")["status"] == "not_authorized"
    b = authd("--allow-anonymous")
    r = b.one(client_id="dev-3")
    assert r["status"] == "ok" and r["groups"] == [g1] and r["client_id"] == ""
    # client rules never apply to anonymous connections
    r = b.one(client_id="nobody")
    assert r["status"] == "ok" and r["groups"] == [] and r["acl"] == []


def test_cache_hit_then_miss_after_password_change(env):
    redis, prefix, seed, authd = env
    cid, _, _ = seed_sensor(seed)
    a = authd()
    req = dict(username="alice", password="correct-horse", client_id="dev-1")
    assert a.one(**req)["status"] == "ok"
    m1 = a.metrics()
    assert a.one(**req)["status"] == "ok"
    m2 = a.metrics()
    assert m2["authd_cache_hits_total"] == m1["authd_cache_hits_total"] + 1
    assert m2["authd_hash_verifications_total"] == m1["authd_hash_verifications_total"]
    seed("password", cid, "battery-staple")
    assert a.one(**req)["status"] == "bad_credentials"   # old password: the stored hash changed
    m3 = a.metrics()
    assert m3["authd_cache_misses_total"] == m2["authd_cache_misses_total"] + 1
    assert a.one(username="alice", password="battery-staple", client_id="dev-1")["status"] == "ok"


def test_change_event_drops_cache(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    pub = "tcp://127.0.0.1:%d" % free_port()
    a = authd("--changes", pub)
    assert a.one(username="alice", password="correct-horse", client_id="dev-1")["status"] == "ok"
    assert a.metrics()["authd_cache_entries"] == 1
    subprocess.run([PROBE, "--publish", pub, "--kind", "client", "--username", "alice"], check=True, timeout=10)
    m = a.metrics()
    assert m["authd_change_events_total"] >= 1 and m["authd_cache_entries"] == 0


def test_config_snapshot_cached_by_version_and_store_edits_seen_at_once(env):
    """Rules and groups are cached per config version: repeated requests make
    no further store reads (config cache hits), and an edit written straight
    to the store (roostctl --redis: no admin, no change event) is followed by
    the very next request, because it bumped the version."""
    redis, prefix, seed, authd = env
    cid = seed("client", "Sensor 1", "alice", "correct-horse")
    g1 = seed("group", "sensors", "allow:publish:dev/%c/up")
    g2 = seed("group", "readers", "allow:subscribe:shared/#")
    seed("rule", "client", cid, g1)

    def ctl(*args):
        out = subprocess.run([ROOSTCTL, "--redis", redis.addr, "--prefix", prefix, "--json", *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout)

    rule = ctl("rules", "create", "--match-by", "mqtt_client_id", "--value", "dev-*", "--group", g2)["id"]
    a = authd("--allow-anonymous")   # no --changes: no event can help
    req = dict(username="alice", password="correct-horse", client_id="dev-1")
    r = a.one(**req)
    assert r["status"] == "ok" and r["groups"] == [g1, g2]
    m1 = a.metrics()
    assert m1["authd_config_cache_reloads_total"] == 1
    assert m1["authd_config_cache_version"] == r["config_version"]
    same = lambda x: {k: x[k] for k in ("status", "groups", "acl", "config_version", "client_id")}
    for _ in range(3):
        assert same(a.one(**req)) == same(r)
    m2 = a.metrics()
    assert m2["authd_config_cache_hits_total"] == m1["authd_config_cache_hits_total"] + 3
    assert m2["authd_config_cache_reloads_total"] == 1

    # A group's ACL edited behind authd's back, the way every store write
    # commits (one transaction that also bumps the version): the next
    # request has it.
    acl = [{"permission": "deny", "action": "publish", "topic": "dev/%c/up"},
           {"permission": "allow", "action": "both", "topic": "x/#"}]
    redis_exec(redis, ["MULTI"], ["HSET", prefix + "{g}:group:" + g1, "acl", json.dumps(acl)],
               ["INCR", prefix + "{g}:version"], ["EXEC"])
    r2 = a.one(**req)
    assert r2["status"] == "ok" and r2["config_version"] > r["config_version"]
    assert r2["groups"] == [g1, g2]
    assert r2["acl"] == [
        {"permission": "deny", "action": "publish", "topic": "dev/%c/up"},
        {"permission": "allow", "action": "both", "topic": "x/#"},
        {"permission": "allow", "action": "subscribe", "topic": "shared/#"},
    ]
    # A rule replaced through lib/store (roostctl --redis): dev-1 no longer
    # matches it.
    ctl("rules", "delete", rule)
    rule = ctl("rules", "create", "--match-by", "mqtt_client_id", "--value", "sensor-*", "--group", g2)["id"]
    r3 = a.one(**req)
    assert r3["status"] == "ok" and r3["groups"] == [g1]
    assert r3["acl"] == r2["acl"][:2]
    # A group and rule created through lib/store directly (the seeding helper).
    g3 = seed("group", "late", "allow:subscribe:late/#")
    seed("rule", "client", cid, g3)
    r4 = a.one(**req)
    assert r4["groups"] == [g1, g3]
    m3 = a.metrics()
    assert m3["authd_config_cache_reloads_total"] == 4     # one per new version seen
    assert m3["authd_config_cache_version"] == r4["config_version"]
    assert m3["authd_change_events_total"] == 0

    # Anonymous requests read the version (one GET) and use the same snapshot.
    anon = a.one(client_id="sensor-9")
    assert anon["status"] == "ok" and anon["groups"] == [g2] and anon["config_version"] == r4["config_version"]
    assert a.one(client_id="sensor-9")["groups"] == [g2]
    m4 = a.metrics()
    assert m4["authd_config_cache_hits_total"] == m3["authd_config_cache_hits_total"] + 2
    assert m4["authd_config_cache_reloads_total"] == 4
    ctl("rules", "delete", rule)
    assert a.one(client_id="sensor-9")["groups"] == []


def test_throttling_kicks_in_and_lifts(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    a = authd("--throttle-after", "3", "--throttle-max", "2", "--throttle-window", "30")
    good = dict(username="alice", password="correct-horse", client_id="dev-1", peer="10.0.0.1:1000")
    for i in range(3):
        bad = dict(good, password="nope-%d" % i, peer="10.0.0.1:%d" % (2000 + i))
        assert a.one(**bad)["status"] == "bad_credentials"
    # Blocked now, even with the right password, from any port of that address.
    assert a.one(**good)["status"] == "throttled"
    # Only that (username, address) pair: the device from elsewhere gets in,
    # another username from that address is checked (test_35 has the rest).
    assert a.one(**dict(good, peer="10.0.0.2:5"))["status"] == "ok"
    assert a.one(username="bob", password="x", peer="10.0.0.1:9")["status"] == "bad_credentials"
    assert "auth_throttle" in a.logtext()
    time.sleep(1.3)  # the first block is 1 s
    assert a.one(**good)["status"] == "ok"    # lifts, and success resets
    assert a.one(**dict(good, password="nope"))["status"] == "bad_credentials"
    assert a.metrics()['authd_requests_total{result="throttled"}'] == 1


def test_redis_down_unavailable_then_recovery(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    a = authd()
    req = dict(username="alice", password="correct-horse", client_id="dev-1")
    assert a.one(**req)["status"] == "ok"       # now cached
    assert a.get("/healthz")[0] == 200
    redis.stop()
    assert a.one(**req)["status"] == "unavailable"   # a cached credential is never OK without Redis
    assert a.one(username="mallory", password="x")["status"] == "unavailable"
    assert a.get("/healthz")[0] == 503
    redis.start()                                # same port, data back from the AOF
    deadline = time.time() + 10
    while a.get("/healthz")[0] != 200 and time.time() < deadline:
        time.sleep(0.1)
    assert a.get("/healthz")[0] == 200
    assert a.one(**req)["status"] == "ok"


def test_deadline_passed_requests_are_dropped(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    a = authd()
    replies = a.requests(dict(username="alice", password="correct-horse", deadline_ms=-5),
                         dict(username="alice", password="correct-horse", client_id="dev-1"),
                         timeout_ms=1500)
    by_id = {r["request_id"]: r["status"] for r in replies}
    assert by_id == {1: "timeout", 2: "ok"}
    assert a.metrics()['authd_requests_total{result="dropped_deadline"}'] == 1


def test_malformed_body_gets_bad_request(env):
    redis, prefix, seed, authd = env
    a = authd()
    (r,) = a.requests(raw="ffff", timeout_ms=2000)
    assert r["status"] == "bad_request"


def test_slow_hashes_do_not_block_a_cached_request(env):
    redis, prefix, seed, authd = env
    seed_sensor(seed)
    seed("client", "Slow 1", "slow1", "slow-password-1", cost=SLOW_COST)
    seed("client", "Slow 2", "slow2", "slow-password-2", cost=SLOW_COST)
    a = authd("--hash-workers", "2", "--workers", "4")
    fast = dict(username="alice", password="correct-horse", client_id="dev-1")
    assert a.one(**fast)["status"] == "ok"      # cache it
    replies = a.requests(dict(id=1, username="slow1", password="slow-password-1"),
                         dict(id=2, username="slow2", password="slow-password-2"),
                         dict(fast, id=3), timeout_ms=30000)
    order = [r["request_id"] for r in replies]
    assert order[0] == 3, replies                # the cached answer overtakes both verifications
    assert sorted(order) == [1, 2, 3] and all(r["status"] == "ok" for r in replies)


def test_help_and_bad_flags():
    out = subprocess.run([AUTHD, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ("--bind", "--workers", "--cache-size", "--cache-ttl", "--throttle-after", "--throttle-max",
                 "--allow-anonymous", "--changes", "--http-port", "--redis", "--prefix", "ROOST_ALLOW_ANONYMOUS"):
        assert flag in out.stdout
    assert subprocess.run([AUTHD, "--workers", "0"], capture_output=True, timeout=10).returncode == 2
