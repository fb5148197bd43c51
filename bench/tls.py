#!/usr/bin/env python3
"""bench/tls.py: TLS figures of roost-broker against Mosquitto 2.0, same run,
same certificates (made here with the openssl command).

For each key type (ECDSA P-256, RSA 2048) and each broker:
  - full handshakes: clients (threads, Python ssl) open a TLS connection,
    send CONNECT, read CONNACK, close; counted per broker CPU-second (the
    broker's utime+stime from /proc, so a client competing for the same
    cores does not bias the figure) and per wall second;
  - resumed: the same with the TLS session of an earlier connection (a
    TLS 1.3 ticket), which skips the certificate signature;
  - idle memory: N connections held open after CONNACK; the broker's RSS
    growth per connection (kernel socket buffers are not in RSS), and kernel
    memory apart: the skmem (r+w+f) of the broker's own sockets from ss -tm,
    and the machine-wide deltas of /proc/net/sockstat "TCP mem" pages and of
    /proc/meminfo Slab, which count both ends of each loopback connection
    (client and broker) and anything else running, so halve them per side;
  - QoS 0 pairs over TLS (ECDSA): roost-bench pairs --qos 0 --pairs 10 with
    --tls-ca, deliveries per broker CPU-second and per second.
Usage: bench/tls.py [--seconds 5] [--conns 2000] [--threads 2] [--brokers roost,mosquitto] [--idle-only]
                    [--handshakes-only [--rounds 3]] [--mtls]
(--idle-only: the idle-memory figures only, ECDSA. --handshakes-only: the
full and resumed handshake figures only, --rounds times, the brokers' order
alternating from one round to the next, then the medians and Roost's ratio to
Mosquitto. A broker named roost@PATH runs the roost-broker at PATH, to set a
build against another in the same run. --mtls: every client presents a
certificate the brokers require and verify.) Client and broker each hold
one fd per connection: --conns must stay below the hard open-file limit.
Needs build-release/services/broker/roost-broker (bench/run builds it) and
/usr/sbin/mosquitto. Brokers and clients run on 127.0.0.1; every process
started is stopped by PID."""

import argparse
import os
import re
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import MOSQUITTO, free_port, stop

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOST = os.path.join(ROOT, "build-release", "services", "broker", "roost-broker")
BENCH = os.path.join(ROOT, "build-release", "bench", "roost-bench")
CONNECT = bytes([0x10, 12]) + b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"   # clean session, empty client id
MTLS = False   # --mtls: client certificates required by both brokers


def certs(d, rsa):
    key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    run("req", "-x509", *key, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA")
    run("req", *key, "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "1", "-days", "2",
        "-extfile", "san.ext", "-out", "srv.crt")
    run("req", *key, "-nodes", "-keyout", "dev.key", "-out", "dev.csr", "-subj", "/CN=bench device")
    run("x509", "-req", "-in", "dev.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2", "-days", "2",
        "-out", "dev.crt")
    os.chmod(os.path.join(d, "srv.key"), 0o644)   # mosquitto drops to its own user
    os.chmod(d, 0o755)


def start(kind, d, port):
    log = open(os.path.join(d, kind.replace("/", "_") + ".log"), "wb")
    if kind.startswith("roost"):
        argv = [kind.split("@", 1)[1] if "@" in kind else ROOST, "--bind", "127.0.0.1", "--port", str(free_port()), "--tls-port", str(port),
                "--tls-cert", os.path.join(d, "srv.crt"), "--tls-key", os.path.join(d, "srv.key"),
                "--insecure-no-auth", "--log-level", "warn", "--max-connections", "0"]
        if MTLS:
            argv += ["--tls-ca", os.path.join(d, "ca.crt"), "--tls-client-cert", "required"]
    else:
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\ncertfile %s/srv.crt\nkeyfile %s/srv.key\nallow_anonymous true\n"
                    "persistence false\nset_tcp_nodelay true\nmax_connections -1\nmax_queued_messages 10000\n"
                    "log_dest none\n" % (port, d, d))
            if MTLS:
                f.write("cafile %s/ca.crt\nrequire_certificate true\n" % d)
        argv = [MOSQUITTO, "-c", conf]
    p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit("%s did not start: see %s" % (kind, log.name))


def client_ctx(d):
    """TLS 1.3 only, trusting the bench CA; with --mtls, presenting the
    device certificate."""
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if MTLS:
        ctx.load_cert_chain(os.path.join(d, "dev.crt"), os.path.join(d, "dev.key"))
    return ctx


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sockstat_tcp_pages():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("mem") + 1])
    return 0


def slab_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def broker_skmem(port):
    """Sum of rmem_alloc + wmem_queued + fwd_alloc (bytes charged to TCP
    memory) over the established sockets whose local port is the broker's."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    total, n = 0, 0
    for m in re.finditer(r"skmem:\(([^)]*)\)", out):
        f = {re.match(r"[a-z]+", x).group(): int(re.sub(r"^[a-z]+", "", x)) for x in m.group(1).split(",")}
        total += f.get("r", 0) + f.get("w", 0) + f.get("f", 0)
        n += 1
    return total, n


def mqtt_connect(port, ctx, session=None):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = ctx.wrap_socket(s, server_hostname="localhost", session=session)
    t.sendall(CONNECT)
    got = b""
    while len(got) < 4:
        chunk = t.recv(4 - len(got))
        if not chunk:
            raise OSError("closed before CONNACK")
        got += chunk
    if got[0] != 0x20 or got[3] != 0:
        raise OSError("CONNACK %r" % got)
    return t


def handshakes(port, ctx, seconds, threads, resume, pid):
    first = mqtt_connect(port, ctx)
    time.sleep(0.05)   # the TLS 1.3 ticket follows the handshake
    first.recv(1) if False else None
    session = first.session
    first.close()
    counts = [0] * threads
    stop_at = [0.0]

    def worker(i):
        while time.monotonic() < stop_at[0]:
            t = mqtt_connect(port, ctx, session if resume else None)
            if resume and not t.session_reused:
                raise SystemExit("session not resumed")
            t.close()
            counts[i] += 1

    c0, w0 = cpu_s(pid), time.monotonic()
    stop_at[0] = w0 + seconds
    ths = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    cpu, wall = cpu_s(pid) - c0, time.monotonic() - w0
    n = sum(counts)
    return n, n / cpu if cpu > 0 else float("inf"), n / wall


def idle_memory(port, ctx, n, pid):
    """Per connection: broker RSS growth, broker-side skmem, and the
    both-ends machine-wide deltas of sockstat TCP mem and Slab (bytes)."""
    time.sleep(0.3)
    before, pages0, slab0 = rss_kb(pid), sockstat_tcp_pages(), slab_kb()
    held = [mqtt_connect(port, ctx) for _ in range(n)]
    time.sleep(2.5)   # idle: buffers released (roost: after 2 s; OpenSSL: when empty)
    after, pages1, slab1 = rss_kb(pid), sockstat_tcp_pages(), slab_kb()
    sk, nsk = broker_skmem(port)
    for t in held:
        t.close()
    if nsk < n:
        raise SystemExit("ss saw %d of %d broker sockets" % (nsk, n))
    return {"rss": (after - before) * 1024 / n, "skmem": sk / nsk,
            "sockstat_both": (pages1 - pages0) * os.sysconf("SC_PAGE_SIZE") / n,
            "slab_both": (slab1 - slab0) * 1024 / n}


def pairs_qos0(port, d, pid, seconds):
    r = subprocess.run([BENCH, "pairs", "--qos", "0", "--pairs", "10", "--seconds", str(seconds), "--warmup", "1",
                        "--port", str(port), "--broker-pid", str(pid), "--tls-ca", os.path.join(d, "ca.crt")],
                       capture_output=True, text=True, timeout=seconds + 60)
    import json
    j = json.loads(r.stdout.strip().splitlines()[-1])
    if j.get("lost") or j.get("errors"):
        raise SystemExit("roost-bench: %s" % r.stdout)
    return j["deliveries_per_broker_cpu_s"], j["deliveries_per_s"]


def handshake_rounds(a, brokers):
    """--handshakes-only: per key, --rounds rounds of full and resumed
    handshakes for each broker, alternating the order; then the medians."""
    import statistics
    got = {}   # (key, kind) -> [(full per CPU-s, per wall s, resumed per CPU-s, per wall s)]
    for rsa in (False, True):
        key = "RSA 2048" if rsa else "ECDSA P-256"
        d = tempfile.mkdtemp(prefix="roost-tls-bench-")
        try:
            certs(d, rsa)
            ctx = client_ctx(d)
            for r in range(a.rounds):
                for kind in (brokers if r % 2 == 0 else brokers[::-1]):
                    port = free_port()
                    p = start(kind, d, port)
                    try:
                        full = handshakes(port, ctx, a.seconds, a.threads, False, p.pid)
                        res = handshakes(port, ctx, a.seconds, a.threads, True, p.pid)
                    finally:
                        stop(p)
                    got.setdefault((key, kind), []).append((full[1], full[2], res[1], res[2]))
                    print("round %d %s %s: full %.0f/CPU-s %.0f/s, resumed %.0f/CPU-s %.0f/s (load %s)" % (
                        r + 1, key, kind, full[1], full[2], res[1], res[2],
                        " ".join("%.1f" % x for x in os.getloadavg())), file=sys.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("| key | broker | full handshakes per broker CPU-s (median; rounds) | per wall s | resumed per broker CPU-s "
          "(median; rounds) | per wall s |")
    print("|---|---|---|---|---|---|")
    med = {}
    for (key, kind), v in got.items():
        m = [statistics.median(x[i] for x in v) for i in range(4)]
        med[key, kind] = m
        print("| %s | %s | **%.0f** (%s) | %.0f | **%.0f** (%s) | %.0f |" % (
            key, kind, m[0], ", ".join("%.0f" % x[0] for x in v), m[1], m[2],
            ", ".join("%.0f" % x[2] for x in v), m[3]))
    if "mosquitto" in brokers:
        print("\n| key | broker | full per CPU-s vs Mosquitto | resumed per CPU-s vs Mosquitto |")
        print("|---|---|---|---|")
        for (key, kind), m in med.items():
            if kind != "mosquitto":
                mq = med[key, "mosquitto"]
                print("| %s | %s | %.2fx | %.2fx |" % (key, kind, m[0] / mq[0], m[2] / mq[2]))
    print("\n%d rounds (brokers' order alternating), %d client threads, %.0f s per figure, TLS 1.3%s; machine: %d cores, "
          "shared; clients on the same cores." % (a.rounds, a.threads, a.seconds,
                                                  ", client certificates required" if MTLS else "", os.cpu_count()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--brokers", default="roost,mosquitto")
    ap.add_argument("--idle-only", action="store_true", help="idle-memory figures only (ECDSA)")
    ap.add_argument("--handshakes-only", action="store_true", help="handshake figures only, --rounds times")
    ap.add_argument("--rounds", type=int, default=3, help="with --handshakes-only (default 3)")
    ap.add_argument("--mtls", action="store_true", help="client certificates required (both brokers verify them "
                    "against the bench CA: --tls-ca/--tls-client-cert required, cafile/require_certificate)")
    a = ap.parse_args()
    if a.mtls and not (a.handshakes_only or a.idle_only):
        ap.error("--mtls goes with --handshakes-only or --idle-only (roost-bench pairs presents no certificate)")
    global MTLS
    MTLS = a.mtls
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.conns * 2 + 1000)), hard))
    brokers = a.brokers.split(",")
    if a.handshakes_only:
        handshake_rounds(a, brokers)
        return
    rows = []
    for rsa in ((False,) if a.idle_only else (False, True)):
        d = tempfile.mkdtemp(prefix="roost-tls-bench-")
        try:
            certs(d, rsa)
            ctx = client_ctx(d)
            for kind in brokers:
                port = free_port()
                p = start(kind, d, port)
                try:
                    full = res = q0 = None
                    if not a.idle_only:
                        full = handshakes(port, ctx, a.seconds, a.threads, False, p.pid)
                        res = handshakes(port, ctx, a.seconds, a.threads, True, p.pid)
                    mem = idle_memory(port, ctx, a.conns, p.pid) if not rsa else None
                    if not rsa and not a.idle_only:
                        q0 = pairs_qos0(port, d, p.pid, a.seconds)
                finally:
                    stop(p)
                rows.append((("RSA 2048" if rsa else "ECDSA P-256"), kind, full, res, mem, q0))
                print(rows[-1], file=sys.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("| broker | idle TLS connections | broker RSS per connection | broker sockets' skmem r+w+f per connection "
          "| sockstat TCP mem delta per connection (both ends) | Slab delta per connection (both ends) |")
    print("|---|---|---|---|---|---|")
    for key, kind, full, res, mem, q0 in rows:
        if mem:
            print("| %s | %d | %.0f B | %.0f B | %.0f B | %.0f B |" % (
                kind, a.conns, mem["rss"], mem["skmem"], mem["sockstat_both"], mem["slab_both"]))
    if a.idle_only:
        print("\nTLS 1.3, ECDSA P-256, %d idle connections; machine: %d cores, shared; clients on the same cores."
              % (a.conns, os.cpu_count()))
        return
    print()
    print("| key | broker | full handshakes (CONNECT+CONNACK) per broker CPU-s | per wall s | resumed per CPU-s | per wall s "
          "| idle RSS per TLS connection | QoS 0 pairs over TLS: deliveries per broker CPU-s | per s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, kind, full, res, mem, q0 in rows:
        print("| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s |" % (
            key, kind, full[1], full[2], res[1], res[2], "%.0f B" % mem["rss"] if mem else "—",
            "%.0f" % q0[0] if q0 else "—", "%.0f" % q0[1] if q0 else "—"))
    print("\n%d client threads, %.0f s per figure, TLS 1.3, idle figure at %d connections; machine: %d cores, "
          "shared; clients on the same cores." % (a.threads, a.seconds, a.conns, os.cpu_count()))


if __name__ == "__main__":
    main()
