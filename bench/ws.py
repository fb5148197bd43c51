#!/usr/bin/env python3
"""bench/ws.py: MQTT over WebSockets against Roost's own TCP, same broker
build, same run, alternating (tcp, ws, tcp, ws, ...), a fresh broker per
measurement (Debian's Mosquitto 2.0.11 is built without WebSockets):

  - idle memory: roost-bench idle --count N (CONNECT, CONNACK, a PINGREQ
    round on all), the broker's RSS growth per connection (kernel socket
    buffers are not in RSS); over ws each connection also did its Upgrade;
  - QoS 0 throughput: roost-bench pairs --qos 0 --pairs 10, deliveries per
    second and per broker CPU-second (utime+stime from /proc).

roost-bench speaks ws with --ws /mqtt (bench/wsc.c: its own client framing,
masked as RFC 6455 asks). Medians of --rounds; the ratios are ws / tcp.
Usage: bench/ws.py [--rounds 3] [--seconds 5] [--conns 5000] [--build build-release]
Brokers and clients run on 127.0.0.1; every process started is stopped by PID."""

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, stop  # noqa: E402

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def start(build):
    port, ws = free_port(), free_port()
    p = subprocess.Popen([os.path.join(build, "services", "broker", "roost-broker"), "--bind", "127.0.0.1",
                          "--port", str(port), "--ws-port", str(ws), "--insecure-no-auth", "--log-level", "warn",
                          "--max-connections", "0", "--max-queued", "10000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", ws), 0.2).close()
            return p, port, ws
        except OSError:
            time.sleep(0.05)
    stop(p)
    raise SystemExit("roost-broker did not start")


def bench(build, args):
    r = subprocess.run([os.path.join(build, "bench", "roost-bench"), *args], capture_output=True, text=True,
                       timeout=300)
    j = json.loads(r.stdout.strip().splitlines()[-1])
    if j.get("lost") or j.get("errors") or j.get("failed"):
        raise SystemExit("roost-bench %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
    return j


def measure(build, kind, a):
    extra = ["--ws", "/mqtt"] if kind == "ws" else []
    p, port, ws = start(build)
    try:
        target = str(ws if kind == "ws" else port)
        idle = bench(build, ["idle", "--port", target, "--count", str(a.conns), "--broker-pid", str(p.pid),
                             "--timeout", "60", *extra])
    finally:
        stop(p)
    p, port, ws = start(build)
    try:
        target = str(ws if kind == "ws" else port)
        flow = bench(build, ["pairs", "--qos", "0", "--pairs", "10", "--seconds", str(a.seconds), "--warmup", "1",
                             "--port", target, "--broker-pid", str(p.pid), *extra])
    finally:
        stop(p)
    return idle["rss_per_conn_bytes"], flow["deliveries_per_s"], flow["deliveries_per_broker_cpu_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.conns * 2 + 1000)), hard))
    got = {"tcp": [], "ws": []}
    for r in range(a.rounds):
        for kind in ("tcp", "ws"):
            got[kind].append(measure(a.build, kind, a))
            print("round %d %s: %.0f B/idle conn, %.0f deliveries/s, %.0f per broker CPU-s" % (r + 1, kind, *got[kind][-1]),
                  file=sys.stderr)
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in got.items()}
    print("| transport | broker RSS per idle connection | QoS 0 pairs: deliveries/s | per broker CPU-s |")
    print("|---|---|---|---|")
    for k in ("tcp", "ws"):
        print("| %s | %.0f B | %.0f | %.0f |" % (k, *med[k]))
    print("| ws / tcp | %.2fx | %.2fx | %.2fx |" % tuple(med["ws"][i] / med["tcp"][i] for i in range(3)))
    print("\nmedians of %d alternating rounds, a fresh broker per figure; %d idle connections; 10 pairs, 64 B "
          "payloads, %.0f s windows; clients on the same %d cores as the broker." % (a.rounds, a.conns, a.seconds,
                                                                                      os.cpu_count()))


if __name__ == "__main__":
    main()
