#!/usr/bin/python3
"""bench/ratelimit.py: does --max-msg-rate hold, and what does a flooder cost others?

Starts one roost-broker (single node, --insecure-no-auth, --max-msg-rate
LIMIT) on free loopback ports. Each round has two phases of --seconds each:
  quiet: a latency probe publishes QoS 0 on its own topic at --probe-rate
         msg/s and its subscriber (same process, so one clock) measures
         publish->receive time;
  flood: the same probe while a flooder process publishes QoS 0 as fast as
         its socket takes them (one connection) and a subscriber process on
         the flood topic counts what the broker accepted and delivered.
The flood rate is taken over the phase minus its first 1.5 s (the limiter
allows a burst of one second's worth). Prints per round, then medians over
--rounds: accepted flood rate vs LIMIT (%), probe p50/p99 quiet vs flood.
Every process is stopped by PID.

    bench/ratelimit.py /work/main/build-release/services/broker/roost-broker
    bench/ratelimit.py --limit 1000 --rounds 3 --seconds 10 BIN
"""

import argparse
import multiprocessing
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import time

from benchlib import free_port, mqtt_connect, pct, publish0, stop, subscribe, wait_port

# the broker started here listens on the ports it is given only
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")

FLOOD_TOPIC = b"rl/flood"
PROBE_TOPIC = b"rl/probe"
WARMUP = 1.5


def flooder(port, seconds):
    """Publishes QoS 0 as fast as the socket takes them; the broker's backpressure blocks sendall."""
    s = mqtt_connect(port, "rl-flooder")
    chunk = publish0(FLOOD_TOPIC, b"x" * 16) * 1000
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.sendall(chunk)
        except socket.timeout:
            pass
    s.close()


def flood_counter(port, seconds, pkt_len, out):
    """Counts the flood messages delivered (all the same length); out gets (t, count) samples."""
    s = mqtt_connect(port, "rl-flood-sub")
    subscribe(s, 1, FLOOD_TOPIC)
    out.put("ready")
    s.settimeout(0.1)
    got, t0 = 0, time.monotonic()
    samples = [(0.0, 0)]
    next_sample = 0.5
    while True:
        now = time.monotonic() - t0
        if now >= next_sample:
            samples.append((now, got // pkt_len))
            next_sample += 0.5
        if now >= seconds:
            break
        try:
            c = s.recv(1 << 16)
            if not c:
                break
            got += len(c)
        except socket.timeout:
            pass
    s.close()
    out.put(samples)


def probe(port, seconds, rate):
    """Publish->receive latency (seconds) of QoS 0 messages at `rate` msg/s."""
    pub = mqtt_connect(port, "rl-probe-pub")
    sub = mqtt_connect(port, "rl-probe-sub")
    subscribe(sub, 1, PROBE_TOPIC)
    pkt_len = len(publish0(PROBE_TOPIC, struct.pack("!d", 0.0)))
    lat, buf, sent = [], b"", 0
    t0 = time.perf_counter()
    end = t0 + seconds
    sub.setblocking(False)
    while True:
        now = time.perf_counter()
        due = t0 + sent / rate
        if now >= due and now < end:
            pub.sendall(publish0(PROBE_TOPIC, struct.pack("!d", time.perf_counter())))
            sent += 1
            continue
        if now >= end + 1.0 or (now >= end and len(lat) >= sent):
            break
        r, _, _ = select.select([sub], [], [], max(0.0, min(due, end + 1.0) - now))
        if r:
            c = sub.recv(1 << 16)
            if not c:
                raise RuntimeError("probe subscriber closed")
            buf += c
            t = time.perf_counter()
            while len(buf) >= pkt_len:
                (ts,) = struct.unpack("!d", buf[pkt_len - 8:pkt_len])
                lat.append(t - ts)
                buf = buf[pkt_len:]
    pub.close()
    sub.close()
    return lat, sent


def run_phase(port, a, flood):
    procs, q = [], None
    if flood:
        q = multiprocessing.Queue()
        pkt_len = len(publish0(FLOOD_TOPIC, b"x" * 16))
        c = multiprocessing.Process(target=flood_counter, args=(port, a.seconds + 0.5, pkt_len, q))
        c.start()
        procs.append(c)
        if q.get(timeout=10) != "ready":
            raise RuntimeError("flood subscriber")
        f = multiprocessing.Process(target=flooder, args=(port, a.seconds + 0.5))
        f.start()
        procs.append(f)
    try:
        lat, sent = probe(port, a.seconds, a.probe_rate)
        rate = None
        if flood:
            samples = q.get(timeout=a.seconds + 10)
            # rate over [WARMUP, last sample]: the limiter's burst is spent by then
            s0 = min(samples, key=lambda x: abs(x[0] - WARMUP))
            s1 = samples[-1]
            rate = (s1[1] - s0[1]) / (s1[0] - s0[0])
    finally:
        for p in procs:
            p.join(a.seconds + 5)
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
                p.join(5)
    ms = [x * 1000 for x in lat]
    return {"sent": sent, "recv": len(ms), "p50": pct(ms, 50), "p99": pct(ms, 99), "rate": rate}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[2:]))
    ap.add_argument("broker", help="path of roost-broker")
    ap.add_argument("--limit", type=int, default=1000, help="--max-msg-rate given to the broker (default 1000)")
    ap.add_argument("--rounds", type=int, default=3, help="quiet/flood rounds, medians reported (default 3)")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each phase (default 8)")
    ap.add_argument("--probe-rate", type=float, default=200.0, help="probe messages per second (default 200)")
    a = ap.parse_args()
    if a.seconds <= WARMUP + 1:
        ap.error("--seconds must be more than %.1f" % (WARMUP + 1))
    d = tempfile.mkdtemp(prefix="roost-ratelimit-")
    log = os.path.join(d, "broker.log")
    port = free_port()
    broker = subprocess.Popen([os.path.abspath(a.broker), "--bind", "127.0.0.1", "--port", str(port),
                               "--insecure-no-auth", "--max-msg-rate", str(a.limit), "--log-level", "warn"],
                              stderr=open(log, "ab"))
    try:
        if not wait_port(port, broker):
            raise RuntimeError("broker did not start, see %s" % log)
        print("load before: %s" % open("/proc/loadavg").read().strip())
        quiet, flood = [], []
        for r in range(a.rounds):
            q = run_phase(port, a, False)
            f = run_phase(port, a, True)
            quiet.append(q)
            flood.append(f)
            print("round %d  quiet: p50 %6.3f ms p99 %6.3f ms (%d/%d)  flood: p50 %6.3f ms p99 %6.3f ms (%d/%d)"
                  "  flood accepted %.1f msg/s = %.1f %% of %d" % (
                      r + 1, q["p50"], q["p99"], q["recv"], q["sent"], f["p50"], f["p99"], f["recv"], f["sent"],
                      f["rate"], 100.0 * f["rate"] / a.limit, a.limit))
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        rate = med(flood, "rate")
        print("median of %d rounds: flood accepted %.1f msg/s = %.1f %% of limit %d (%+.1f %%)" % (
            a.rounds, rate, 100.0 * rate / a.limit, a.limit, 100.0 * rate / a.limit - 100.0))
        print("probe at %g msg/s: quiet p50 %.3f ms p99 %.3f ms; with flood p50 %.3f ms p99 %.3f ms" % (
            a.probe_rate, med(quiet, "p50"), med(quiet, "p99"), med(flood, "p50"), med(flood, "p99")))
        print("load after: %s" % open("/proc/loadavg").read().strip())
        if broker.poll() is not None:
            raise RuntimeError("broker exited, see %s" % log)
    finally:
        stop(broker)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
