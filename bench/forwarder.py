#!/usr/bin/env python3
"""bench/forwarder.py: roost-forwarder figures on this machine (issue 17).

  1. drain: N messages already queued in a pipeline's stream (XADD in the
     broker's packed layout, lib/store/pipentry.h, one an entry; --bundle K:
     K an entry, lib/store/pipebundle.h), the pipeline resumed, time until the sink
     (bench/forwarder/fwd_sink.c) has them all: msgs/s, and msgs per
     forwarder CPU-second (/proc utime+stime). One message per request
     (--inflight 1 and 8) and batched (batch_size 100, --inflight 1 and 4;
     5x the messages), timed from the sink's first receipt to its last.
  2. latency: a broker in cluster mode with a mapping, roost-bench's
     latency workload (QoS 1, --rate R) publishing, the sink measuring
     PUBLISH (the broker's received-at stamp) to receipt: p50/p99.
  3. broker QoS 1 throughput (roost-bench pairs) with no mapping and with a
     mapping of every topic to a paused pipeline (the appends, no delivery
     competing for the CPU), alternating, medians; with Redis's time per
     appended message (INFO commandstats: the append script, XADD).

--compare BIN: only the drain cases, alternating this build's forwarder
and BIN (another build's roost-forwarder) --repeat times each, medians;
for before/after figures on a shared machine (per CPU-second is the
steadier figure there). BIN's queues are filled in the eight-field layout
brokers wrote before the packed entry (--compare-layout packed: in the
packed one, for a BIN that reads it).

Everything runs on 127.0.0.1 with free ports, Release binaries from
build-release/ (configured and built when missing), each process stopped
by PID. Standard library only. Prints a Markdown table; raw JSON lines go
to bench/out/forwarder-<time>.jsonl.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import free_port, stop, wait_port

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from pipentry import bundle, encode  # noqa: E402  (the packed entries, as brokers write them)
TOKEN = "bench-token-0123456789abcdef"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Stack:
    def __init__(self, build):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="roost-fwd-bench-")
        self.procs = []

    def start(self, name, argv, port=None, env=None):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log, env=dict(os.environ, **(env or {})))
        self.procs.append(p)
        if port and not wait_port(port, p, 20):
            raise RuntimeError(f"{name} did not listen on {port} (see {self.dir}/{name}.log)")
        return p

    def stop(self, p):
        stop(p, 15)

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)

    def bin(self, rel):
        return os.path.join(self.build, rel)

    def redis_cli(self, *args, stdin=None):
        return subprocess.run(["redis-cli", "-p", str(self.redis_port)] + [str(a) for a in args], input=stdin,
                              capture_output=True, text=True, timeout=120).stdout.strip()

    def api(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=15) as r:
            t = r.read()
            return json.loads(t) if t else None

    def sink_stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.sink_port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def sink_reset(self):
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{self.sink_port}/reset", method="POST",
                                                      data=b""), timeout=5).read()

    def base(self):
        self.redis_port = free_port()
        self.start("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", self.dir], self.redis_port)
        self.admin_port = free_port()
        self.start("admin", [self.bin("services/admin/roost-admin"), "--redis", f"127.0.0.1:{self.redis_port}",
                             "--http-port", str(self.admin_port), "--rpc-bind", f"tcp://127.0.0.1:{free_port()}",
                             "--pub-bind", f"tcp://127.0.0.1:{free_port()}", "--token-file",
                             os.path.join(self.dir, "token"), "--console-dir", self.dir, "--log-level", "warn"],
                   self.admin_port, env={"ROOST_ADMIN_TOKEN": TOKEN})
        self.sink_port = free_port()
        self.start("sink", [self.bin("bench/forwarder/fwd-sink"), str(self.sink_port)], self.sink_port)

    def forwarder(self, inflight, binary=None):
        port = free_port()
        return self.start(f"forwarder-{inflight}", [binary or self.bin("services/forwarder/roost-forwarder"), "--redis",
                                                     f"127.0.0.1:{self.redis_port}", "--http-port", str(port),
                                                     "--inflight", str(inflight), "--routes-poll-ms", "100",
                                                     "--log-level", "warn"], port)


# (batch_size, --inflight); batched runs drain 5x --messages (CPU time is
# read in 10 ms ticks)
CASES = [(1, 1), (1, 8), (100, 1), (100, 4)]


def fill(st, pid, n, payload=64, packed=True, per_entry=1):
    """n messages as brokers write them (packed: "m" entries, or bundles of
    per_entry messages when above 1; or the eight fields written before,
    packed=False), through redis-cli --pipe."""
    now = int(time.time() * 1000)
    p = "x" * payload
    lines = []
    step = per_entry if packed else 1
    for i in range(0, n, step):
        if packed and step > 1:
            fields = ["b", bundle([encode(f"bench/p{k % 10}", p, qos=1, client_id=f"c{k % 10}", broker="bench",
                                          received_ms=now) for k in range(i, min(n, i + step))])]
        elif packed:
            fields = ["m", encode(f"bench/p{i % 10}", p, qos=1, client_id=f"c{i % 10}", broker="bench", received_ms=now)]
        else:
            fields = ["t", f"bench/p{i % 10}", "p", p, "q", "1", "r", "0", "c", f"c{i % 10}", "u", "", "b", "bench",
                      "ts", str(now)]
        args = [a if isinstance(a, bytes) else a.encode() for a in ["XADD", f"roost:{{g}}:pq:{pid}", "*"] + fields]
        lines.append(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    subprocess.run(["redis-cli", "-p", str(st.redis_port), "--pipe"], input=b"".join(lines), capture_output=True,
                   timeout=300, check=True)


def drain(st, n, batch, inflight, binary=None, packed=True, per_entry=1):
    p = st.api("POST", "/pipelines",
               {"name": f"drain-{batch}-{inflight}-{time.time()}", "url": f"http://127.0.0.1:{st.sink_port}/in",
                "batch_size": batch, "linger_ms": 5, "status": "paused", "max_queue": 10000000})
    fill(st, p["id"], n, packed=packed, per_entry=per_entry)
    fwd = st.forwarder(inflight, binary)
    time.sleep(0.5)
    st.sink_reset()
    c0, s0 = cpu_s(fwd.pid), cpu_s(st.procs[2].pid)  # the forwarder's and the sink's
    t0 = time.time()
    st.api("PATCH", f"/pipelines/{p['id']}", {"status": "active"})
    while st.sink_stats()["messages"] < n and time.time() - t0 < 300:
        time.sleep(0.05)
    s = st.sink_stats()
    # first to last receipt: the forwarder learns the resume from its routes
    # poll (100 ms here), which is not the delivery rate (figures before
    # 2026-12-05 included it, 0.3 s of a batched run)
    took = (s["last_ms"] - s["first_ms"]) / 1000.0
    cpu, sink_cpu = cpu_s(fwd.pid) - c0, cpu_s(st.procs[2].pid) - s0
    st.stop(fwd)
    st.api("PATCH", f"/pipelines/{p['id']}", {"status": "paused"})
    st.redis_cli("DEL", f"roost:{{g}}:pq:{p['id']}")
    return {"test": "drain", "forwarder": binary or "this build", "batch_size": batch, "inflight": inflight,
            "per_entry": per_entry, "messages": s["messages"],
            "requests": s["requests"], "seconds": round(took, 3), "msgs_per_s": round(s["messages"] / took),
            "forwarder_cpu_s": round(cpu, 3), "msgs_per_cpu_s": round(s["messages"] / cpu) if cpu else None,
            "sink_cpu_s": round(sink_cpu, 3)}


def bench_json(out):
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def broker(st, bid):
    port = free_port()
    b = st.start("broker-" + bid, [st.bin("services/broker/roost-broker"), "--bind", "127.0.0.1", "--port", str(port),
                                   "--insecure-no-auth", "--redis", f"127.0.0.1:{st.redis_port}", "--bus-bind",
                                   "tcp://127.0.0.1:*", "--id", bid, "--log-level", "warn", "--max-queued", "100000"],
                 port)
    time.sleep(1.0)  # routes loaded (500 ms poll)
    return b, port


def latency(st, rate, seconds):
    p = st.api("POST", "/pipelines", {"name": f"lat-{time.time()}", "url": f"http://127.0.0.1:{st.sink_port}/in"})
    m = st.api("POST", "/topic-mappings", {"topic": "#", "pipeline": p["id"]})
    fwd = st.forwarder(1)
    b, port = broker(st, "lat")
    st.sink_reset()
    out = subprocess.run([st.bin("bench/roost-bench"), "latency", "--port", str(port), "--qos", "1", "--rate",
                          str(rate), "--seconds", str(seconds), "--warmup", "1"], capture_output=True, text=True,
                         timeout=120).stdout
    time.sleep(1.0)
    s = st.sink_stats()
    st.stop(b)
    st.stop(fwd)
    st.api("DELETE", f"/topic-mappings/{m['id']}")
    r = bench_json(out)
    return {"test": "latency", "rate": rate, "forwarded": s["messages"], "published": r.get("received"),
            "e2e_p50_ms": s["p50_ms"], "e2e_p99_ms": s["p99_ms"], "e2e_max_ms": s["max_ms"]}


def qos1_pairs(st, mapped, seconds):
    m = None
    if mapped:
        p = st.api("POST", "/pipelines", {"name": f"q1-{time.time()}", "url": f"http://127.0.0.1:{st.sink_port}/in",
                                          "status": "paused", "max_queue": 10000000})
        m = st.api("POST", "/topic-mappings", {"topic": "#", "pipeline": p["id"]})
    b, port = broker(st, "q1")
    st.redis_cli("CONFIG", "RESETSTAT")
    out = subprocess.run([st.bin("bench/roost-bench"), "pairs", "--port", str(port), "--qos", "1", "--pairs", "10",
                          "--inflight", "100", "--seconds", str(seconds), "--broker-pid", f"{b.pid},{st.procs[0].pid}"],
                         capture_output=True, text=True, timeout=120).stdout
    st.stop(b)
    redis_us = {}
    if m:
        # Redis's time per appended message (INFO commandstats since the
        # RESETSTAT above; the paused queue keeps every message: its count,
        # or XLEN for a build that keeps none)
        q = f"roost:{{g}}:pq:{m['pipeline']}"
        n = int(st.redis_cli("HGET", q + ":stats", "queued") or st.redis_cli("XLEN", q) or 0)
        for line in st.redis_cli("INFO", "commandstats").splitlines():
            name, _, rest = line.partition(":")
            if name in ("cmdstat_evalsha", "cmdstat_xadd") and n:
                usec = int(dict(kv.split("=") for kv in rest.split(","))["usec"])
                redis_us[name[8:] + "_us_per_msg"] = round(usec / n, 3)
        redis_us["appended"] = n
        redis_us["entries"] = int(st.redis_cli("XLEN", q) or 0)
        st.api("DELETE", f"/topic-mappings/{m['id']}")
        st.redis_cli("DEL", q)
    r = bench_json(out)
    cpu = r.get("deliveries_per_broker_cpu_s")  # --broker-pid: the broker's and Redis's CPU
    return {"test": "qos1_pairs", "mapped": mapped, "msgs_per_s": round(r["deliveries_per_s"]),
            "per_cpu_s": round(cpu) if cpu else None, **redis_us, "raw": r}


def compare(st, a, raw):
    runs = {}
    for _ in range(a.repeat):
        for batch, inflight in CASES:
            for binary in (None, a.compare):
                r = drain(st, a.messages * (5 if batch > 1 else 1), batch, inflight, binary,
                          packed=binary is None or a.compare_layout == "packed",
                          per_entry=a.bundle if binary is None else 1)
                raw.write(json.dumps(r) + "\n")
                runs.setdefault((batch, inflight, binary), []).append(r)
    med = lambda v: sorted(v)[len(v) // 2]
    print(f"| forwarder | batch_size, --inflight | msgs/s (median of {a.repeat}) | msgs per forwarder CPU-s "
          f"| sink CPU-s / wall s |")
    print("|---|---|---|---|---|")
    for (batch, inflight, binary), rs in runs.items():
        print(f"| {binary or 'this build'} | {batch}, {inflight} | {med([r['msgs_per_s'] for r in rs])} "
              f"| {med([r['msgs_per_cpu_s'] for r in rs])} | {med([r['sink_cpu_s'] / r['seconds'] for r in rs]):.2f} |")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", metavar="BIN", help="drain only: this build's forwarder against BIN, alternating")
    ap.add_argument("--broker-only", action="store_true", help="only the broker QoS 1 pairs, mapped vs not (3.)")
    ap.add_argument("--compare-layout", choices=("old", "packed"), default="old",
                    help="the queue layout BIN is given (default old: the eight fields)")
    ap.add_argument("--bundle", type=int, default=1, metavar="K",
                    help="drain: queue K messages per entry (a bundle, as a busy broker writes them; default 1)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.build, "services/forwarder/roost-forwarder")):
        subprocess.run(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=Release", "-DROOST_SANITIZE=OFF",
                        "-DROOST_FUZZ=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", a.build, "-j2", "--target", "roost-forwarder", "roost-broker", "roost-admin",
                    "roost-bench", "fwd-sink"], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    raw = open(os.path.join(ROOT, "bench", "out", time.strftime("forwarder-%Y%m%d-%H%M%S.jsonl")), "w")
    st = Stack(a.build)
    rows = []
    try:
        st.base()
        if a.compare:
            return compare(st, a, raw)
        for batch, inflight in ([] if a.broker_only else CASES):
            r = drain(st, a.messages * (5 if batch > 1 else 1), batch, inflight, per_entry=a.bundle)
            rows.append(r)
            raw.write(json.dumps(r) + "\n")
        if not a.broker_only:
            r = latency(st, a.rate, a.seconds)
            rows.append(r)
            raw.write(json.dumps(r) + "\n")
        q = {False: [], True: []}
        qc = {False: [], True: []}
        rus = []
        for _ in range(a.repeat):
            for mapped in (False, True):
                r = qos1_pairs(st, mapped, a.seconds)
                q[mapped].append(r["msgs_per_s"])
                qc[mapped].append(r["per_cpu_s"] or 0)
                if mapped:
                    rus.append((r.get("evalsha_us_per_msg"), r.get("xadd_us_per_msg")))
                raw.write(json.dumps(r) + "\n")
    finally:
        st.close()
        raw.close()
    if rows:
        print("| forwarder | msgs/s | msgs per forwarder CPU-s | requests | sink CPU-s / wall s |")
        print("|---|---|---|---|---|")
        for r in rows:
            if r["test"] == "drain":
                print(f"| batch_size {r['batch_size']}, --inflight {r['inflight']} ({r['messages']} queued, "
                      f"{r['per_entry']} an entry) "
                      f"| {r['msgs_per_s']} | {r['msgs_per_cpu_s']} | {r['requests']} "
                      f"| {r['sink_cpu_s'] / r['seconds']:.2f} |")
        lat = [r for r in rows if r["test"] == "latency"][0]
        print(f"\nend to end (PUBLISH QoS 1 at {lat['rate']}/s -> sink): p50 {lat['e2e_p50_ms']} ms, "
              f"p99 {lat['e2e_p99_ms']} ms, max {lat['e2e_max_ms']} ms ({lat['forwarded']} forwarded)")
    med = {k: sorted(v)[len(v) // 2] for k, v in q.items()}
    medc = {k: sorted(v)[len(v) // 2] for k, v in qc.items()}
    print(f"\nbroker QoS 1 pairs, median of {a.repeat}: {med[False]} msgs/s without a mapping, "
          f"{med[True]} with every topic mapped ({med[True] / med[False]:.2f}x); per broker+Redis CPU-s "
          f"{medc[False]} vs {medc[True]} ({medc[True] / max(medc[False], 1):.2f}x); all runs {q} {qc}")
    print(f"Redis per appended message (INFO commandstats, mapped runs: script us, XADD us): {rus}")


if __name__ == "__main__":
    sys.exit(main())
