#!/usr/bin/python3
"""bench/retained_subscribe.py: the cost of a wildcard SUBSCRIBE when the
broker holds many retained messages.

For each broker binary given: start it on a free loopback port, publish N
retained messages on site/<i % 100>/dev/<i>/state in one burst (QoS 0, then a
PINGREQ round trip so all are in), read the broker's RSS, then send K
SUBSCRIBEs of site/+/dev/<j>/state one after another, each matching exactly
one retained message, and time SUBACK + that message. Stops the broker by PID.

    bench/retained_subscribe.py build-release/services/broker/roost-broker /usr/sbin/mosquitto
    bench/retained_subscribe.py --retained 100000 --subscribes 200 BIN [BIN...]

roost-broker runs with --insecure-no-auth --max-retained N+10; mosquitto
with -p PORT (2.0 allows anonymous clients on a local-only listener).
"""

import argparse
import os
import socket
import struct
import subprocess
import time

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def enc_len(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def pkt(first, body):
    return bytes([first]) + enc_len(len(body)) + body


def mstr(x):
    x = x.encode()
    return struct.pack("!H", len(x)) + x


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise ConnectionError("broker closed the connection")
        b += x
    return b


def read_pkt(c):
    h = recv_exact(c, 1)[0]
    mult, ln = 1, 0
    while True:
        d = recv_exact(c, 1)[0]
        ln += (d & 127) * mult
        mult *= 128
        if not d & 128:
            return h, recv_exact(c, ln)


def connect(port, cid):
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(pkt(0x10, mstr("MQTT") + bytes([4, 2]) + struct.pack("!H", 60) + mstr(cid)))
    h, body = read_pkt(c)
    if h >> 4 != 2 or body[1] != 0:
        raise RuntimeError("CONNECT refused: %r" % body)
    return c


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def run(binary, n, k):
    port = free_port()
    name = os.path.basename(binary)
    argv = ([binary, "-p", str(port)] if name == "mosquitto" else
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
             "--max-retained", str(n + 10)])
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port, p):
            raise RuntimeError("%s did not start" % binary)
        rss0 = int([ln for ln in open("/proc/%d/status" % p.pid) if ln.startswith("VmRSS")][0].split()[1])
        pub = connect(port, "bench-pub")
        pub.sendall(b"".join(pkt(0x31, mstr("site/%d/dev/%d/state" % (i % 100, i)) + b"on")
                             for i in range(n)))
        pub.sendall(pkt(0xC0, b""))
        read_pkt(pub)
        rss1 = int([ln for ln in open("/proc/%d/status" % p.pid) if ln.startswith("VmRSS")][0].split()[1])
        sub = connect(port, "bench-sub")
        t0 = time.perf_counter()
        for j in range(k):
            dev = j * 37 % n
            sub.sendall(pkt(0x82, struct.pack("!H", j + 1) + mstr("site/+/dev/%d/state" % dev) + b"\x00"))
            got_ack = got_msg = False
            while not (got_ack and got_msg):
                h, body = read_pkt(sub)
                got_ack |= h >> 4 == 9
                got_msg |= h >> 4 == 3
        dt = time.perf_counter() - t0
        return {"broker": binary, "retained": n, "subscribes": k, "ms_per_subscribe": dt * 1000 / k,
                "rss_growth_kb": rss1 - rss0}
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+", help="roost-broker and/or mosquitto executables")
    ap.add_argument("--retained", type=int, default=100000)
    ap.add_argument("--subscribes", type=int, default=200)
    a = ap.parse_args()
    print("| broker | retained | wildcard SUBSCRIBE, ms each (SUBACK + its 1 match) | RSS growth for the retained set, kB |")
    print("|---|---|---|---|")
    for b in a.binaries:
        r = run(b, a.retained, a.subscribes)
        print("| %s | %d | %.2f | %d |" % (r["broker"], r["retained"], r["ms_per_subscribe"], r["rss_growth_kb"]))


if __name__ == "__main__":
    main()
