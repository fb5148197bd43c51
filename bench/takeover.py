#!/usr/bin/python3
"""bench/takeover.py: time of a client-id takeover in a two-broker cluster.

Starts redis-server and two roost-broker processes (cluster mode,
--insecure-no-auth) on free loopback ports. For each of N client ids: an
"old" connection CONNECTs (persistent session, so the session is adopted),
then a "new" one CONNECTs with the same id, on the same broker or on the
other one; the takeover time is from sending the new CONNECT to reading its
CONNACK (the old holder closed its connection and released the session
first). Prints p50/p90/p99/max per case. Also the case of a holder that was
SIGKILLed: the new CONNECT arrives right after the kill.
Every process is stopped by PID.

    bench/takeover.py build/services/broker/roost-broker
    bench/takeover.py --n 300 BIN
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from benchlib import HOST, connack, connect_packet, free_port, mqtt_connect, pct, stop, wait_port

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def open_conn(port, cid):
    return mqtt_connect(port, cid, clean=False)


def takeover(port, cid):
    s = socket.create_connection((HOST, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    s.sendall(connect_packet(cid, clean=False))
    connack(s)
    return time.perf_counter() - t0, s


def report(name, xs):
    ms = [x * 1000 for x in xs]
    print("%-22s n=%-4d p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms" % (
        name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("broker")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--killed", type=int, default=20, help="takeovers from a SIGKILLed holder")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="roost-takeover-")
    procs = []
    try:
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL))
        if not wait_port(rport, procs[-1]):
            raise RuntimeError("redis-server did not start")

        def broker(name):
            port = free_port()
            p = subprocess.Popen([os.path.abspath(a.broker), "--redis", "127.0.0.1:%d" % rport, "--id", name,
                                  "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
                                  "--log-level", "warn"], stderr=open(os.path.join(d, name + ".log"), "ab"))
            procs.append(p)
            if not wait_port(port, p):
                raise RuntimeError("broker %s did not start" % name)
            return p, port

        (_, p1), (_, p2) = broker("b1"), broker("b2")
        time.sleep(2.5)  # the two see each other on the bus (1 s heartbeats)
        for name, other in (("same-broker", p1), ("cross-broker", p2)):
            xs = []
            for i in range(a.n):
                cid = "to-%s-%d" % (name, i)
                old = open_conn(p1, cid)
                dt, new = takeover(other, cid)
                xs.append(dt)
                old.close()
                new.close()
            report(name, xs)
        xs = []
        for i in range(a.killed):
            vp, vport = broker("v%d" % i)
            time.sleep(1.5)  # b1 sees it
            cid = "to-killed-%d" % i
            old = open_conn(vport, cid)
            vp.send_signal(signal.SIGKILL)
            vp.wait(10)
            dt, new = takeover(p1, cid)
            xs.append(dt)
            old.close()
            new.close()
        if xs:
            report("holder SIGKILLed", xs)
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
