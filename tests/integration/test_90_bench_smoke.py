"""Smoke test for bench/: roost-bench runs tiny workloads against a real
roost-broker and loses nothing. No timing assertions (issue 7: benchmarks are
never timed assertions in script/test); this only checks the bench works.
"""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from ports import free_port
from stack import BUILD  # the suite's one default build dir

BENCH = os.path.join(BUILD, "bench", "roost-bench")
BROKER = os.path.join(BUILD, "services", "broker", "roost-broker")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if not (os.access(BENCH, os.X_OK) and os.access(BROKER, os.X_OK)):
        pytest.skip("roost-bench or roost-broker not built")
    port = free_port()
    log = open(tmp_path_factory.mktemp("bench") / "broker.log", "w")
    proc = subprocess.Popen([BROKER, "--bind", "127.0.0.1", "--port", str(port),
                             "--insecure-no-auth", "--log-level", "warn"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        assert proc.poll() is None, "roost-broker exited at start"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.time() < deadline, "roost-broker did not listen"
            time.sleep(0.05)
    yield port, proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def bench(port, proc, *args):
    p = subprocess.run([BENCH, *args, "--port", str(port), "--broker-pid", str(proc.pid),
                        "--seconds", "0.3", "--warmup", "0", "--drain", "10"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, p.stdout
    r = json.loads(lines[0])
    assert proc.poll() is None, "roost-broker died during the run"
    return r


def check(r, qos):
    assert r["received"] > 0
    assert r["duplicates"] == 0
    assert r["unexpected"] == 0 and r["malformed"] == 0 and r["errors"] == 0
    assert r["disconnects"] == 0
    if qos == 1:
        assert r["lost"] == 0, r


def test_pairs_qos0(broker):
    check(bench(*broker, "pairs", "--qos", "0", "--pairs", "2", "--window", "100"), 0)


def test_pairs_qos1(broker):
    check(bench(*broker, "pairs", "--qos", "1", "--pairs", "2", "--window", "100",
                "--inflight", "20"), 1)


def test_fanout_qos1(broker):
    r = bench(*broker, "fanout", "--qos", "1", "--subs", "5", "--window", "100",
              "--inflight", "20")
    check(r, 1)
    assert r["expected"] == 5 * r["sent"]


def test_pairs_qos1_mqtt5(broker):
    """--mqtt 5: the same flow with MQTT 5.0 clients (property lists in
    CONNECT, SUBSCRIBE and PUBLISH; the broker's skipped)."""
    check(bench(*broker, "pairs", "--qos", "1", "--pairs", "2", "--window", "100",
                "--inflight", "20", "--mqtt", "5"), 1)


def test_connect_user_pattern(broker):
    """--username/--password patterns: 20 connections cycling over 5 users."""
    port, proc = broker
    p = subprocess.run([BENCH, "connect", "--count", "20", "--users", "5", "--inflight", "4",
                        "--username", "user%05d", "--password", "pass%05d",
                        "--port", str(port), "--broker-pid", str(proc.pid)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][0])
    assert r["accepted"] == 20 and r["users"] == 5 and r["auth"] == "password"
    bad = subprocess.run([BENCH, "connect", "--port", str(port), "--username", "u%s"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2


REDIS = "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two roost-brokers in cluster mode sharing a private Redis."""
    if not (os.access(BENCH, os.X_OK) and os.access(BROKER, os.X_OK) and os.access(REDIS, os.X_OK)):
        pytest.skip("roost-bench, roost-broker or redis-server missing")
    d = tmp_path_factory.mktemp("bench-cluster")
    rport = free_port()
    procs = [subprocess.Popen([REDIS, "--port", str(rport), "--bind", "127.0.0.1", "--dir", str(d),
                               "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    ports, logs = [], []
    try:
        for i in (1, 2):
            port = free_port()
            log = d / f"node{i}.log"
            with open(log, "w") as lf:
                procs.append(subprocess.Popen(
                    [BROKER, "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
                     "--redis", "127.0.0.1:%d" % rport, "--prefix", "smoke:", "--id", f"node{i}",
                     "--bus-bind", "tcp://127.0.0.1:*"],
                    stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            ports.append(port)
            logs.append(log)
        deadline = time.time() + 15
        while not all("event=peer_joined" in l.read_text() for l in logs):
            assert all(p.poll() is None for p in procs), "a cluster process exited at start"
            assert time.time() < deadline, "brokers did not join each other"
            time.sleep(0.1)
        yield ports, procs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@pytest.mark.parametrize("qos", [0, 1])
def test_cross_broker_pairs(cluster, qos):
    """Publishers on node 1, subscribers on node 2 (--pub-port/--sub-port)."""
    (p1, p2), procs = cluster
    p = subprocess.run([BENCH, "pairs", "--qos", str(qos), "--pairs", "2", "--window", "100",
                        "--inflight", "20", "--pub-port", str(p1), "--sub-port", str(p2),
                        "--settle", "0.5", "--broker-pid", ",".join(str(x.pid) for x in procs),
                        "--seconds", "0.3", "--warmup", "0", "--drain", "10"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][0])
    assert r["pub_port"] == p1 and r["sub_port"] == p2
    check(r, qos)
    assert all(x.poll() is None for x in procs), "a cluster process died during the run"
