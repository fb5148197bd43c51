"""roost-forwarder end to end (issue 17): a broker in cluster mode appends
mapped PUBLISHes to pipeline streams in Redis, roost-forwarder POSTs them to
a real HTTP sink this test runs (httpsink.py, python http.server on
127.0.0.1). Pipelines and mappings are made through roost-admin's API.

Covers: exactly-once delivery of mapped messages under normal operation,
unmapped and refused ($SYS/, the broker's not-allowed path) never, wildcard
and many-to-many mappings, 429 + Retry-After, 400 -> dead letter, tokens
as headers, pause and resume, a forwarder SIGKILLed mid-stream (a second
one takes over, nothing lost), a broker SIGKILLed right after PUBACK
(nothing lost), /metrics. The sink outage is test_98 (20 s, run beside
this file); a real ACL deny is test_99."""

import json
import os
import signal
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

from adminstack import AdminStack, free_port
from cluster_stack import Cluster
from conftest import PahoClient, wait_until
from httpsink import Sink
from pipentry import message, xrange

BUILD = os.environ.get("ROOST_BUILD_DIR", "/work/main/build-test")
FORWARDER = os.path.join(BUILD, "services", "forwarder", "roost-forwarder")


class Forwarder:
    def __init__(self, redis_port, dirpath, name, claim_idle_ms=1500, extra=()):
        self.log_path = os.path.join(dirpath, f"forwarder-{name}.log")
        self.log = open(self.log_path, "ab")
        # free_port() can race with another test binding the same port: a
        # forwarder that cannot listen exits 1, and gets another port
        for _ in range(3):
            self.http_port = free_port()
            self.proc = subprocess.Popen(
                [FORWARDER, "--redis", f"127.0.0.1:{redis_port}", "--consumer", name, "--http-port",
                 str(self.http_port), "--claim-idle-ms", str(claim_idle_ms), "--backoff-base-ms", "100",
                 "--backoff-max-ms", "1000", "--routes-poll-ms", "200", "--log-level", "debug"] + list(extra),
                stdout=self.log, stderr=self.log)
            if wait_until(lambda: self.proc.poll() is not None or self.get("/healthz")[0] == 200, timeout=10) \
                    and self.proc.poll() is None:
                return
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        raise AssertionError(self.text())

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except OSError:
            return 0, ""

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def env():
    cl = Cluster()
    cl.prefix = "roost:"  # admin's default prefix
    cl.start_redis()
    admin = AdminStack()
    admin.redis_port = cl.redis.port
    admin.start_admin()
    broker = cl.start_broker()
    sink = Sink()
    fwd = Forwarder(cl.redis.port, cl.dir, "f1")
    e = {"cl": cl, "admin": admin, "broker": broker, "sink": sink, "fwd": fwd}
    yield e
    e["fwd"].stop(signal.SIGKILL)
    sink.close()
    admin.close()
    bad = cl.sanitizer_reports()
    cl.close()
    assert not bad


def api(env, method, path, body=None):
    status, doc, _ = env["admin"].request(method, path, body)
    assert status < 300, (status, doc)
    return doc


def pipeline(env, name, path, **kw):
    body = {"name": name, "url": env["sink"].url(path)}
    body.update(kw)
    return api(env, "POST", "/api/v1/pipelines", body)


def mapping(env, topic, p):
    return api(env, "POST", "/api/v1/topic-mappings", {"topic": topic, "pipeline": p["id"]})


def publisher(env, cid):
    c = PahoClient(env["broker"].port, client_id=cid)
    c.connect()
    return c


def wait_routes(env, n=1.5):
    time.sleep(n)  # the broker re-checks routes every 500 ms and on the change event


def arrived(env, path):
    return env["sink"].accepted(path)


def test_mapped_exactly_once_unmapped_never_wildcards_many_to_many(env):
    a = pipeline(env, "A", "/a", authorization_token="tok-a", network_token="net-a")
    b = pipeline(env, "B", "/b", batch_size=20, linger_ms=100)
    mapping(env, "dev/+/telemetry", a)
    mapping(env, "dev/+/telemetry", b)
    mapping(env, "alarm/#", b)
    mapping(env, "$SYS/#", a)
    wait_routes(env)
    pub = publisher(env, "pub-1")
    for i in range(30):
        pub.publish(f"dev/{i % 3}/telemetry", f"t{i}", qos=1)
    pub.publish("alarm/fire/1", b"\x00\xffbin", qos=0)
    pub.publish("dev/1/other", "unmapped", qos=1)
    pub.publish("$SYS/x", "refused", qos=1)
    assert wait_until(lambda: len(arrived(env, "/a")) >= 30 and len(arrived(env, "/b")) >= 31, timeout=15), env["fwd"].text()[-3000:]
    time.sleep(0.5)
    got_a, got_b = arrived(env, "/a"), arrived(env, "/b")
    assert [m["payload"] for m in got_a] == [f"t{i}" for i in range(30)]
    assert sorted(m["payload"] for m in got_b if m["topic"] != "alarm/fire/1") == sorted(f"t{i}" for i in range(30))
    alarm = [m for m in got_b if m["topic"] == "alarm/fire/1"]
    assert len(alarm) == 1 and alarm[0]["encoding"] == "base64" and alarm[0]["qos"] == 0
    assert len({m["id"] for m in got_a}) == 30
    m0 = got_a[0]
    assert m0["client_id"] == "pub-1" and m0["qos"] == 1 and m0["broker"] == env["broker"].id
    assert m0["id"].startswith(a["id"] + ":") and m0["received_at"].endswith("Z")
    # tokens as headers; single-message requests carry the id as Idempotency-Key; batches are arrays
    reqs = [r for r in env["sink"].requests if r["path"] == "/a"]
    assert reqs[0]["headers"]["Authorization"] == "Bearer tok-a" and reqs[0]["headers"]["X-Network-Token"] == "net-a"
    assert reqs[0]["headers"]["Idempotency-Key"] == reqs[0]["body"]["id"]
    breqs = [r for r in env["sink"].requests if r["path"] == "/b"]
    assert all(isinstance(r["body"], list) for r in breqs) and len(breqs) < 31
    assert "Authorization" not in breqs[0]["headers"]
    assert "tok-a" not in env["fwd"].text() and "net-a" not in env["fwd"].text()
    assert env["admin"].redis_cli("XLEN", f"roost:{{g}}:pq:{a['id']}") == "0"
    pub.disconnect()
    env["a"] = a


def test_429_retry_after_then_400_dead_letter(env):
    p = pipeline(env, "picky", "/p", max_attempts=3)
    mapping(env, "picky/#", p)
    wait_routes(env)
    seen = {"n": 0}

    def plan(path, body, headers):
        if path != "/p":
            return 200, {}
        if body["payload"] == "slow" and seen["n"] == 0:
            seen["n"] += 1
            return 429, {"Retry-After": "2"}
        if body["payload"] == "bad":
            return 400, {}
        if body["payload"] == "flaky":
            return 503, {}
        return 200, {}

    env["sink"].plan(plan)
    pub = publisher(env, "pub-3")
    t0 = time.time()
    pub.publish("picky/1", "slow", qos=1)
    assert wait_until(lambda: any(m["payload"] == "slow" for m in arrived(env, "/p")), timeout=10)
    ok = [r for r in env["sink"].requests if r["path"] == "/p" and r["status"] == 200]
    first = [r for r in env["sink"].requests if r["path"] == "/p"][0]
    assert first["status"] == 429 and ok[0]["t"] - first["t"] >= 1.9 and ok[0]["t"] - t0 < 8
    pub.publish("picky/1", "bad", qos=1)
    pub.publish("picky/1", "flaky", qos=1)
    dead = f"roost:{{g}}:pq:{p['id']}:dead"
    assert wait_until(lambda: env["admin"].redis_cli("XLEN", dead) == "2", timeout=15)
    rows = {message(f)["payload"]: f for _, f in xrange(env["cl"].redis.port, dead)}
    assert b"HTTP 400" in rows[b"bad"][b"reason"] and b"HTTP 503 after 3 attempts" in rows[b"flaky"][b"reason"]
    assert len([r for r in env["sink"].requests if r["path"] == "/p" and r["body"]["payload"] == "bad"]) == 1
    assert len([r for r in env["sink"].requests if r["path"] == "/p" and r["body"]["payload"] == "flaky"]) == 3
    # a dead letter is written first and its entry acknowledged (queued
    # counted down) by the forwarder's next call: wait for that one
    assert wait_until(lambda: api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["queued"] == 0,
                      timeout=10)
    st = api(env, "GET", f"/api/v1/pipelines/{p['id']}")
    assert st["delivery"]["dead_lettered"] == 2 and st["delivery"]["queued"] == 0
    env["sink"].plan(None)
    pub.disconnect()


def test_malformed_entries_dead_lettered_the_rest_delivered(env):
    """Entries no broker writes (no topic; a topic, client id or username
    not UTF-8: no JSON text can carry them) go to the dead-letter stream as
    malformed; the good ones around them arrive in order."""
    p = pipeline(env, "malformed", "/m")
    key = f"roost:{{g}}:pq:{p['id']}".encode()

    def xadd(*fields):
        subprocess.run([b"redis-cli", b"-p", str(env["admin"].redis_port).encode(), b"XADD", key, b"*"] +
                       [f if isinstance(f, bytes) else f.encode() for f in fields], check=True, capture_output=True)

    good = ("p", "x", "q", "1", "r", "0", "c", "dev", "u", "", "b", "b1", "ts", "1")
    xadd("t", "m/1", *good)
    xadd(*good)  # no topic
    xadd("t", b"m/\xff", *good)
    xadd("t", "m/3", "p", "x", "c", b"\xc3(", "u", "", "b", "b1", "ts", "1")
    xadd("t", "m/4", "p", "x", "c", "dev", "u", b"\xed\xa0\x80", "b", "b1", "ts", "1")  # a surrogate
    xadd("t", "m/5", *good)
    dead = f"roost:{{g}}:pq:{p['id']}:dead"
    assert wait_until(lambda: len(arrived(env, "/m")) >= 2 and env["admin"].redis_cli("XLEN", dead) == "4",
                      timeout=10), env["fwd"].text()[-2000:]
    assert [m["topic"] for m in arrived(env, "/m")] == ["m/1", "m/5"]
    rows = subprocess.run(["redis-cli", "-p", str(env["admin"].redis_port), "XRANGE", dead, "-", "+"],
                          capture_output=True, check=True).stdout  # bytes: the entries keep their bad bytes
    assert rows.count(b"malformed queue entry") == 4, rows
    assert wait_until(lambda: env["admin"].redis_cli("XLEN", key.decode()) == "0", timeout=5)


def test_pause_keeps_queue_resume_delivers(env):
    p = pipeline(env, "pausy", "/z")
    mapping(env, "pz/#", p)
    api(env, "PATCH", f"/api/v1/pipelines/{p['id']}", {"status": "paused"})
    wait_routes(env)
    pub = publisher(env, "pub-4")
    for i in range(10):
        pub.publish("pz/a", str(i), qos=1)
    time.sleep(1.5)
    assert arrived(env, "/z") == []
    assert env["admin"].redis_cli("XLEN", f"roost:{{g}}:pq:{p['id']}") == "10"
    api(env, "PATCH", f"/api/v1/pipelines/{p['id']}", {"status": "active"})
    assert wait_until(lambda: len(arrived(env, "/z")) == 10, timeout=10)
    assert [m["payload"] for m in arrived(env, "/z")] == [str(i) for i in range(10)]
    pub.disconnect()


def test_forwarder_killed_second_takes_over_nothing_lost(env):
    p = pipeline(env, "takeover", "/k", max_attempts=1000)
    mapping(env, "tk/#", p)
    wait_routes(env)
    # the sink stalls so the first forwarder holds entries when it dies
    env["sink"].plan(lambda path, body, h: (503, {}) if path == "/k" else (200, {}))
    pub = publisher(env, "pub-5")
    for i in range(25):
        pub.publish("tk/x", str(i), qos=1)
    assert wait_until(lambda: any(r["path"] == "/k" for r in env["sink"].requests), timeout=10)
    env["fwd"].stop(signal.SIGKILL)
    env["sink"].plan(None)
    f2 = Forwarder(env["cl"].redis.port, env["cl"].dir, "f2")
    env["fwd"] = f2
    assert wait_until(lambda: len(arrived(env, "/k")) >= 25, timeout=20), f2.text()[-3000:]
    time.sleep(0.5)
    got = [m["payload"] for m in arrived(env, "/k")]
    assert sorted(set(got), key=int) == [str(i) for i in range(25)]
    assert "entries_claimed" in f2.text()
    status, metrics = f2.get("/metrics")
    assert status == 200 and f'roost_forwarder_forwarded_total{{pipeline="{p["id"]}"}}' in metrics
    pub.disconnect()


def test_broker_killed_after_puback_nothing_lost(env):
    p = pipeline(env, "durable", "/d")
    mapping(env, "dur/#", p)
    wait_routes(env)
    env["fwd"].stop(signal.SIGKILL)  # nothing is read while the broker dies
    pub = publisher(env, "pub-6")
    for i in range(20):
        pub.publish("dur/x", str(i), qos=1)  # returns after PUBACK
    env["broker"].kill9()
    f3 = Forwarder(env["cl"].redis.port, env["cl"].dir, "f3")
    env["fwd"] = f3
    assert wait_until(lambda: len(arrived(env, "/d")) >= 20, timeout=15)
    assert [m["payload"] for m in arrived(env, "/d")] == [str(i) for i in range(20)]
    pub.loop_stop()
    env["broker"].start()


def test_full_queue_drops_new_messages_and_counts_them(env):
    p = pipeline(env, "small", "/s", max_queue=5, status="paused")
    mapping(env, "small/#", p)
    wait_routes(env)
    pub = publisher(env, "pub-7")
    for i in range(8):
        pub.publish("small/x", str(i), qos=1)  # all acknowledged: a full queue drops, it does not refuse
    st = api(env, "GET", f"/api/v1/pipelines/{p['id']}")
    assert st["delivery"]["queued"] == 5 and st["delivery"]["dropped"] == 3
    assert "pipeline_queue_full" in env["broker"].log()
    api(env, "PATCH", f"/api/v1/pipelines/{p['id']}", {"status": "active"})
    assert wait_until(lambda: len(arrived(env, "/s")) == 5, timeout=10)
    assert [m["payload"] for m in arrived(env, "/s")] == [str(i) for i in range(5)]
    pub.disconnect()


def test_topic_mapped_to_more_than_64_pipelines_reaches_every_one(env):
    # The broker matched at most 64 pipelines per message and silently
    # appended to no more: the 65th and later got nothing, uncounted
    ps = [pipeline(env, f"fan{i}", f"/fan{i}", status="paused") for i in range(70)]
    ms = [mapping(env, "fan/x", p) for p in ps]
    wait_routes(env)
    pub = publisher(env, "pub-fan")
    pub.publish("fan/x", "one", qos=1)
    pub.disconnect()
    queued = [api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["queued"] for p in ps]
    assert queued == [1] * 70, queued
    for m in ms:
        api(env, "DELETE", f"/api/v1/topic-mappings/{m['id']}")
    for p in ps:
        api(env, "DELETE", f"/api/v1/pipelines/{p['id']}")


def test_a_will_names_its_client(env):
    """A will forwarded to a pipeline (the classic 'device went offline'
    webhook) carries the client id of the device that dropped; it came with
    an empty client_id, so the receiver could not tell whose will it was."""
    p = pipeline(env, "W", "/will")
    mapping(env, "lwt/#", p)
    wait_routes(env)
    flags = 0x02 | 0x04 | (1 << 3)  # clean session, will, will QoS 1
    def utf8(x):
        return struct.pack("!H", len(x)) + x
    body = utf8(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 60) + utf8(b"dev-will-9") + \
        utf8(b"lwt/dev-will-9") + utf8(b"offline")
    s = socket.create_connection(("127.0.0.1", env["broker"].port), timeout=5)
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    s.close()  # no DISCONNECT: the will goes
    assert wait_until(lambda: len(arrived(env, "/will")) == 1, timeout=10), env["fwd"].text()[-2000:]
    m = arrived(env, "/will")[0]
    assert m["topic"] == "lwt/dev-will-9" and m["payload"] == "offline" and m["qos"] == 1
    assert m["client_id"] == "dev-will-9", m


def test_https_certificate_verified(env):
    """TLS verification is on: a sink whose certificate no trusted CA signed
    gets nothing (a retried connection error); with that CA given
    (--ca-file) the same messages arrive."""
    d = env["cl"].dir
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=30)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        ca_key, "-out", ca, "-days", "2", "-subj", "/CN=roost test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
        csr, "-subj", "/CN=localhost")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days",
        "2", "-extfile", ext)
    tls = Sink(tls=(crt, key))
    try:
        p = pipeline(env, "secure", "/x", url=tls.url("/tls"))
        mapping(env, "tls/#", p)
        wait_routes(env)
        pub = publisher(env, "pub-8")
        pub.publish("tls/a", "one", qos=1)
        assert wait_until(lambda: api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["last_error"],
                          timeout=10)
        assert tls.accepted() == []
        err = api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["last_error"]
        assert "certificate" in err.lower() or "SSL" in err, err
        env["fwd"].stop(signal.SIGKILL)
        env["fwd"] = Forwarder(env["cl"].redis.port, env["cl"].dir, "f-tls", extra=("--ca-file", ca))
        assert wait_until(lambda: [m["payload"] for m in tls.accepted()] == ["one"], timeout=15), \
            env["fwd"].text()[-2000:]
        pub.disconnect()
    finally:
        tls.close()


def test_forwarder_help_and_sigterm(env):
    out = subprocess.run([FORWARDER, "--help"], capture_output=True, text=True, timeout=10).stdout
    for var in ("ROOST_REDIS", "ROOST_FORWARDER_CLAIM_IDLE_MS", "ROOST_FORWARDER_HTTP_PORT", "Retry-After"):
        assert var in out
    assert env["fwd"].stop(signal.SIGTERM) == 0
    assert "draining" in env["fwd"].text()
