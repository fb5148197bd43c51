#!/usr/bin/env python3
"""bench/shared.py: shared subscriptions (issue 16), Roost with the group's
members spread over a two-node cluster against Mosquitto 2.0's shared
subscriptions on one node, in the same run, alternating (mosquitto, roost,
mosquitto, roost, ...), a fresh broker (or cluster) per measurement:

  roost-bench shared --qos Q --pubs 2 --subs 3 --payload 64 --window 1000
      (two publishers, three members of $share/bench/...; each message to
      exactly one member, loss and duplicates counted over the group)

  - Mosquitto: every client on its one node (listener on 127.0.0.1,
    allow_anonymous, persistence false, set_tcp_nodelay, max_queued 10000);
  - Roost: two roost-broker nodes in cluster mode with a fresh Redis; the
    publishers and the members alternate between the nodes (publisher 0 and
    members 0, 2 on node 1; publisher 1 and member 1 on node 2): messages
    cross the bus both ways.

The figure is deliveries per broker CPU-second (utime+stime from /proc; for
Roost both nodes + Redis), and deliveries/s. Medians of --rounds; ratio =
roost / mosquitto. The machine may be shared: other_cpu_s in the raw JSON
says how busy the rest of it was.
Usage: bench/shared.py [--rounds 3] [--seconds 5] [--qos 0,1] [--build build-release]
Every process started is stopped by PID."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import MOSQUITTO, free_port, stop, wait_port  # noqa: E402

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def start_mosquitto(d):
    port = free_port()
    conf = os.path.join(d, "mosquitto-%d.conf" % port)
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "set_tcp_nodelay true\nmax_queued_messages 10000\nlog_dest none\n" % port)
    p = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    if not wait_port(port, p):
        stop(p)
        raise SystemExit("mosquitto did not start")
    return [p], [port], [p.pid]


def start_roost(build, d):
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    procs, ports, logs = [redis], [], []
    if not wait_port(rport, redis):
        stop(redis)
        raise SystemExit("redis-server did not start")
    for i in (1, 2):
        port = free_port()
        log = os.path.join(d, "node%d-%d.log" % (i, port))
        with open(log, "w") as lf:
            procs.append(subprocess.Popen(
                [os.path.join(build, "services", "broker", "roost-broker"), "--bind", "127.0.0.1",
                 "--port", str(port), "--insecure-no-auth", "--log-level", "info", "--max-queued", "10000",
                 "--max-connections", "0", "--redis", "127.0.0.1:%d" % rport, "--prefix", "bench:",
                 "--id", "node%d" % i, "--bus-bind", "tcp://127.0.0.1:*"],
                stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        ports.append(port)
        logs.append(log)
    end = time.time() + 15
    while time.time() < end and not all("event=peer_joined" in open(l).read() for l in logs):
        time.sleep(0.1)
    if not all(wait_port(pt, pr) for pt, pr in zip(ports, procs[1:])) or \
            not all("event=peer_joined" in open(l).read() for l in logs):
        for p in reversed(procs):
            stop(p)
        raise SystemExit("roost nodes did not start or see each other (see %s)" % d)
    return procs, ports, [p.pid for p in procs[1:]] + [redis.pid]


def measure(build, kind, qos, a, d):
    procs, ports, pids = start_roost(build, d) if kind == "roost" else start_mosquitto(d)
    try:
        args = ["shared", "--qos", str(qos), "--pubs", "2", "--subs", "3", "--payload", "64",
                "--window", "1000", "--seconds", str(a.seconds), "--warmup", "1",
                "--broker-pid", ",".join(str(p) for p in pids), "--label", kind]
        if qos:
            args += ["--inflight", "100"]
        if kind == "roost":
            # members over both nodes; settle: the membership reaches the other node
            args += ["--pub-port", str(ports[0]), "--pub-port2", str(ports[1]),
                     "--sub-port", str(ports[0]), "--sub-port2", str(ports[1]), "--settle", "1.5"]
        else:
            args += ["--port", str(ports[0])]
        r = subprocess.run([os.path.join(build, "bench", "roost-bench"), *args], capture_output=True,
                           text=True, timeout=300)
        if r.returncode or not r.stdout.strip():
            raise SystemExit("roost-bench %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        j = json.loads(r.stdout.strip().splitlines()[-1])
        j["alive"] = all(p.poll() is None for p in procs)
        return j
    finally:
        for p in reversed(procs):
            stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--qos", default="0,1")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    a = ap.parse_args()
    for exe in ("services/broker/roost-broker", "bench/roost-bench"):
        if not os.access(os.path.join(a.build, exe), os.X_OK):
            raise SystemExit("missing %s: cmake --build %s --target roost-broker roost-bench" % (exe, a.build))
    d = tempfile.mkdtemp(prefix="roost-bench-shared-")
    raw = []
    rows = []
    for qos in [int(q) for q in a.qos.split(",")]:
        per = {"mosquitto": [], "roost": []}
        for rnd in range(a.rounds):
            for kind in ("mosquitto", "roost"):
                j = measure(a.build, kind, qos, a, d)
                j["round"] = rnd
                raw.append(j)
                print(json.dumps(j), file=sys.stderr)
                per[kind].append(j)
        med = {k: {m: statistics.median(x.get(m, 0) for x in v)
                   for m in ("deliveries_per_broker_cpu_s", "deliveries_per_s", "lost", "duplicates",
                             "other_cpu_s", "member_min", "member_max")}
               for k, v in per.items()}
        rows.append((qos, med))
    print("| QoS | figure (median of %d) | Mosquitto 2.0, 1 node | Roost, 2 nodes | roost / mosquitto |"
          % a.rounds)
    print("|---|---|---|---|---|")
    for qos, med in rows:
        m, r = med["mosquitto"], med["roost"]
        for key, label in (("deliveries_per_broker_cpu_s", "deliveries per broker CPU-s"),
                           ("deliveries_per_s", "deliveries/s"), ("lost", "lost"),
                           ("duplicates", "duplicates"), ("member_min", "least one member got"),
                           ("member_max", "most one member got"), ("other_cpu_s", "CPU-s of the rest of the machine")):
            ratio = "%.2fx" % (r[key] / m[key]) if key.startswith("deliveries") and m[key] else ""
            print("| %d | %s | %.0f | %.0f | %s |" % (qos, label, m[key], r[key], ratio))
    print("\nraw JSON lines: %s" % os.path.join(d, "raw.jsonl"))
    with open(os.path.join(d, "raw.jsonl"), "w") as f:
        for j in raw:
            f.write(json.dumps(j) + "\n")


if __name__ == "__main__":
    main()
