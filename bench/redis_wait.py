#!/usr/bin/python3
"""bench/redis_wait.py: what the broker's WAIT for a replica costs (README
"Redis high availability"). One Redis primary with one replica and one
roost-broker in cluster mode (--insecure-no-auth) on 127.0.0.1; a
persistent subscriber (every QoS 1 message is written to its queue in
Redis: a durable write) and one paho publisher keeping --inflight QoS 1
messages unacknowledged. Measures acknowledged messages per second with
--redis-min-replicas 0 and 1, alternating, a fresh broker per round, in the
same run; prints the medians and their ratio. Every process is stopped by
PID.

    bench/redis_wait.py [--build build] [--rounds 3] [--seconds 5] [--inflight 100]

The publisher is Python: a ceiling of its own, the same for both modes.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

from benchlib import free_port, stop

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def wait(pred, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=10).stdout


def one_round(args, d, rport, min_replicas):
    port = free_port()
    log = open(os.path.join(d, "broker.log"), "ab")
    b = subprocess.Popen([os.path.join(args.build, "services", "broker", "roost-broker"), "--insecure-no-auth",
                          "--port", str(port), "--redis", "127.0.0.1:%d" % rport, "--prefix", "w%d:" % port,
                          "--redis-min-replicas", str(min_replicas), "--max-queued", "10000000",
                          "--max-inflight", "65535", "--log-level", "warn"], stdout=log, stderr=log)
    log.close()
    try:
        assert wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0), "broker did not start"
        sub = mqtt.Client(client_id="w-sub", clean_session=False)
        got = [0]
        sub.on_message = lambda c, u, m: got.__setitem__(0, got[0] + 1)
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        sub.subscribe("w/t", 1)
        time.sleep(1.5)  # the cluster index of persistent subscriptions (polled every second)
        pub = mqtt.Client(client_id="w-pub")
        pub.max_inflight_messages_set(args.inflight)
        acked = [0]
        free = threading.Semaphore(args.inflight)
        def on_pub(c, u, mid):
            acked[0] += 1
            free.release()
        pub.on_publish = on_pub
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        payload = b"x" * 64
        t0 = time.monotonic()
        a0 = None
        while time.monotonic() - t0 < args.seconds + 1:
            if a0 is None and time.monotonic() - t0 >= 1:  # one second of warm-up
                a0, ta = acked[0], time.monotonic()
            if free.acquire(timeout=1):
                pub.publish("w/t", payload, qos=1)
        rate = (acked[0] - a0) / (time.monotonic() - ta)
        pub.loop_stop()
        pub.disconnect()
        sub.loop_stop()
        sub.disconnect()
        return rate
    finally:
        stop(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--inflight", type=int, default=100)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="roost-bench-wait-")
    procs = []
    try:
        p1, p2 = free_port(), free_port()
        for port, extra in ((p1, []), (p2, ["--replicaof", "127.0.0.1", str(p1)])):
            procs.append(subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no", "--dir", d] + extra,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wait(lambda: "connected_slaves:1" in cli(p1, "INFO", "replication")), "replica did not attach"
        rates = {0: [], 1: []}
        for _ in range(args.rounds):
            for m in (0, 1):
                rates[m].append(one_round(args, d, p1, m))
                cli(p1, "FLUSHALL")
        m0, m1 = statistics.median(rates[0]), statistics.median(rates[1])
        print("QoS 1 to a persistent subscriber, acknowledged msg/s (median of %d, %.0f s, inflight %d):"
              % (args.rounds, args.seconds, args.inflight))
        print("  --redis-min-replicas 0: %8.0f   %s" % (m0, [round(r) for r in rates[0]]))
        print("  --redis-min-replicas 1: %8.0f   %s" % (m1, [round(r) for r in rates[1]]))
        print("  ratio 1/0: %.2f" % (m1 / m0 if m0 else 0))
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
