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
import struct
import subprocess
import tempfile
import time

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_packet(cid, clean=False):
    cid = cid.encode()
    vh = struct.pack("!H", 4) + b"MQTT" + bytes([4, 0 if not clean else 2]) + struct.pack("!H", 60)
    body = vh + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


def connack(s, timeout=10.0):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < 4:
        chunk = s.recv(4 - len(buf))
        if not chunk:
            raise RuntimeError("closed before CONNACK")
        buf += chunk
    assert buf[0] == 0x20 and buf[3] == 0, buf
    return buf


def open_conn(port, cid):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(connect_packet(cid))
    connack(s)
    return s


def takeover(port, cid):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    s.sendall(connect_packet(cid))
    connack(s)
    return time.perf_counter() - t0, s


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def report(name, xs):
    ms = [x * 1000 for x in xs]
    print("%-22s n=%-4d p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms" % (
        name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms)))


def wait_port(port, proc, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


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
        wait_port(rport, procs[-1])

        def broker(name):
            port = free_port()
            p = subprocess.Popen([os.path.abspath(a.broker), "--redis", "127.0.0.1:%d" % rport, "--id", name,
                                  "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
                                  "--log-level", "warn"], stderr=open(os.path.join(d, name + ".log"), "ab"))
            procs.append(p)
            wait_port(port, p)
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
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
