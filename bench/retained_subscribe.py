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
import subprocess
import time

from benchlib import free_port, mqtt_connect, packet, publish0, read_packet, stop, subscribe_packet, wait_port

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def run(binary, n, k):
    port = free_port()
    name = os.path.basename(binary)
    argv = ([binary, "-p", str(port)] if name == "mosquitto" else
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
             "--max-retained", str(n + 10)])
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port, p, timeout=10):
            raise RuntimeError("%s did not start" % binary)
        rss0 = int([ln for ln in open("/proc/%d/status" % p.pid) if ln.startswith("VmRSS")][0].split()[1])
        pub = mqtt_connect(port, "bench-pub", timeout=30)
        pub.sendall(b"".join(publish0("site/%d/dev/%d/state" % (i % 100, i), b"on", retain=True)
                             for i in range(n)))
        pub.sendall(packet(0xC0, b""))
        read_packet(pub)
        rss1 = int([ln for ln in open("/proc/%d/status" % p.pid) if ln.startswith("VmRSS")][0].split()[1])
        sub = mqtt_connect(port, "bench-sub", timeout=30)
        t0 = time.perf_counter()
        for j in range(k):
            dev = j * 37 % n
            sub.sendall(subscribe_packet(j + 1, "site/+/dev/%d/state" % dev))
            got_ack = got_msg = False
            while not (got_ack and got_msg):
                h, body = read_packet(sub)
                got_ack |= h >> 4 == 9
                got_msg |= h >> 4 == 3
        dt = time.perf_counter() - t0
        return {"broker": binary, "retained": n, "subscribes": k, "ms_per_subscribe": dt * 1000 / k,
                "rss_growth_kb": rss1 - rss0}
    finally:
        stop(p)


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
