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

BUILD = os.environ.get("ROOST_BUILD_DIR", "build")
BENCH = os.path.join(BUILD, "bench", "roost-bench")
BROKER = os.path.join(BUILD, "services", "broker", "roost-broker")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
