#!/usr/bin/python3
"""Redis cost of Roost's cluster state, measured by driving real MQTT
through a broker (docs/capacity.md takes its figures from here).

Starts its own stack (tests/integration/stack.py: redis-server, roost-admin,
roost-authd, one roost-broker in cluster mode; --cluster: a 3-primary +
3-replica Redis Cluster, redis_cluster.py, every service given
--redis-cluster), makes one client credential with a group that allows
everything under cap/#, then measures with INFO memory (used_memory,
summed over the primaries) and INFO commandstats deltas (calls summed over
every command, scripts' inner calls included, and the top-level calls
apart):

  conn        N devices connected (clean session): registry entry + lease
  sess1       N offline persistent sessions with 1 subscription
  sess10      N offline persistent sessions with 10 subscriptions
  queued      M QoS 1 messages queued to each of the N sess1 sessions
  retained    R retained messages
  ops/connect       a clean CONNECT (authd cache hit) and its DISCONNECT
  ops/resume        a persistent session resumed (1 subscription, empty queue)
  ops/publish       a QoS 1 PUBLISH to one online persistent subscriber (PUBACK'd)
  throughput        QoS 1 PUBLISHes/s (publisher window 100) fanned to S
                    online persistent sessions, for --seconds

Devices are raw sockets speaking MQTT 3.1.1 (no thread per device).
Payloads are 64 bytes, topics ~20 bytes, client ids 12 bytes.

  /usr/bin/python3 bench/redis_capacity.py [--n 2000] [--cluster] [--json]

Every process is stopped by PID at the end (also on SIGTERM / Ctrl-C).
The machine may be shared: say so next to any figure.
"""

import argparse
import json
import os
import signal
import socket
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("ROOST_BUILD_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("ROOST_TEST_LOG_LEVEL", "warn")

from stack import Stack  # noqa: E402

from benchlib import mstr, packet  # noqa: E402

USER, PASSWORD = "capuser", "cap-password-1"
PAYLOAD = b"x" * 64


# ------------------------------------------------------------------ MQTT
class Dev:
    def __init__(self, port, cid, clean=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        flags = 0xC0 | (0x02 if clean else 0)
        self.sock.sendall(packet(0x10, mstr("MQTT") + bytes([4, flags, 0, 120]) + mstr(cid) + mstr(USER) +
                                  mstr(PASSWORD)))
        t, b = self.read()
        if t != 0x20 or b[1] != 0:
            raise RuntimeError("CONNACK %r for %s" % (b, cid))
        self.present = b[0] & 1

    def parse(self):
        """One whole packet from what was read, or None."""
        n, mul, i = 0, 1, 1
        while i < len(self.buf):
            n += (self.buf[i] & 0x7F) * mul
            mul *= 128
            i += 1
            if not self.buf[i - 1] & 0x80:
                if len(self.buf) < i + n:
                    return None
                t, body = self.buf[0], self.buf[i:i + n]
                self.buf = self.buf[i + n:]
                return t & 0xF0, body
        return None

    def read(self):
        while True:
            p = self.parse()
            if p:
                return p
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk

    def drain_ack(self):
        """Without blocking: PUBACKs every PUBLISH received so far."""
        try:
            self.buf += self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            pass
        out = b""
        while True:
            p = self.parse()
            if not p:
                break
            if p[0] == 0x30:
                body = p[1]
                out += b"\x40\x02" + body[2 + int.from_bytes(body[:2], "big"):][:2]
        if out:
            self.sock.sendall(out)

    def subscribe(self, filters, pid=1):
        body = pid.to_bytes(2, "big") + b"".join(mstr(f) + b"\x01" for f in filters)
        self.sock.sendall(packet(0x82, body))
        while True:
            t, b = self.read()
            if t == 0x90:
                if any(x == 0x80 for x in b[2:]):
                    raise RuntimeError("SUBACK refused")
                return

    def publish(self, topic, pid, retain=False, payload=PAYLOAD):
        self.sock.sendall(packet(0x32 | (1 if retain else 0), mstr(topic) + pid.to_bytes(2, "big") + payload))

    def close(self):
        try:
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------------ Redis figures
class Meter:
    def __init__(self, st, rc):
        self.st, self.rc = st, rc

    def _nodes(self):
        if self.rc:
            return [n.port for n in self.rc.primaries()]
        return [self.st.redis.port]

    def _info(self, port, section):
        import subprocess
        out = subprocess.run(["redis-cli", "-p", str(port), "INFO", section], capture_output=True,
                             text=True, timeout=10).stdout
        return out

    def memory(self):
        total = 0
        for p in self._nodes():
            for line in self._info(p, "memory").splitlines():
                if line.startswith("used_memory:"):
                    total += int(line.split(":")[1])
        return total

    def cpu(self):
        """Seconds of CPU the Redis primaries used so far (user + sys)."""
        t = 0.0
        for p in self._nodes():
            for line in self._info(p, "cpu").splitlines():
                if line.startswith(("used_cpu_user:", "used_cpu_sys:")):
                    t += float(line.split(":")[1])
        return t

    def calls(self):
        """{command: calls} summed over the primaries (scripts' inner calls
        included), and under "usec:<command>" the microseconds Redis spent."""
        per = {}
        for p in self._nodes():
            for line in self._info(p, "commandstats").splitlines():
                if line.startswith("cmdstat_"):
                    name, rest = line[8:].split(":", 1)
                    f = dict(kv.split("=") for kv in rest.split(","))
                    per[name] = per.get(name, 0) + int(f["calls"])
                    per["usec:" + name] = per.get("usec:" + name, 0) + int(f["usec"])
        return per

    def settle(self):
        time.sleep(0.5)


def diff_calls(a, b):
    d = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
    return {k: v for k, v in d.items() if v}


def summarize(d, n, cpu_s=None):
    """Total per unit, script calls per unit, the biggest commands, and the
    Redis CPU per unit (microseconds; the whole phase's, idle included)."""
    skip = {"info", "ping", "cluster|slots", "cluster|info", "cluster|nodes", "role", "wait", "client|setinfo",
            "replconf", "psync", "command|docs"}
    scripts = sum(v for k, v in d.items() if k in ("evalsha", "eval"))
    script_us = sum(v for k, v in d.items() if k in ("usec:evalsha", "usec:eval"))
    calls = {k: v for k, v in d.items() if not k.startswith("usec:") and k not in skip}
    total = sum(calls.values())
    top = sorted(((k, v / n) for k, v in calls.items()), key=lambda kv: -kv[1])[:8]
    out = {"ops": round(total / n, 2), "scripts": round(scripts / n, 2),
           "script_us": round(script_us / n, 1), "by_command": {k: round(v, 2) for k, v in top}}
    if cpu_s is not None:
        out["redis_cpu_us"] = round(cpu_s * 1e6 / n, 1)
    return out


# ------------------------------------------------------------------ the run
def run(args):
    st = Stack(prefix="cap:", keep_dir=True)
    rc = None
    res = {"n": args.n, "cluster": args.cluster, "payload_bytes": len(PAYLOAD)}
    try:
        if args.cluster:
            from redis_cluster import RedisCluster
            rc = RedisCluster(st.dir, appendfsync="everysec").start()
            st.env_extra["ROOST_REDIS_CLUSTER"] = rc.seeds()

            class R:  # what Stack needs of its redis
                port = rc.primaries()[0].port
                addr = "127.0.0.1:%d" % port
            st.redis = R()
        else:
            st.start_redis(persist=False)
        st.start_admin()
        g = st.add_group("cap", [("allow", "publish", "cap/#"), ("allow", "subscribe", "cap/#")])
        st.add_client(USER, PASSWORD)
        st.add_rule("mqtt_client_id", "*", [g["id"]])
        a = st.start_authd()
        b = st.start_broker(authd=a, cluster=True, extra=["--max-queued", "100000", "--max-inflight", "100",
                                                          "--redis-min-replicas", str(args.min_replicas)])
        res["redis_min_replicas"] = args.min_replicas
        m = Meter(st, rc)
        port = b.port
        n = args.n
        Dev(port, "warmup").close()  # authd's cache holds the credential from now on
        m.settle()

        # -- connected devices: registry entry + lease
        m0 = m.memory()
        devs = [Dev(port, "c%011d" % i) for i in range(n)]
        m.settle()
        res["bytes_per_connection"] = round((m.memory() - m0) / n)
        for d in devs:
            d.close()
        m.settle()

        # -- offline persistent sessions, 1 and 10 subscriptions
        for subs, key in ((1, "bytes_per_session_1sub"), (10, "bytes_per_session_10sub")):
            m0 = m.memory()
            for i in range(n):
                d = Dev(port, "s%d-%09d" % (subs, i), clean=False)
                d.subscribe(["cap/f/%d/#" % k if subs > 1 else "cap/q/#" for k in range(subs)])
                d.close()
            m.settle()
            res[key] = round((m.memory() - m0) / n)

        # -- queued QoS 1: M messages to each of the N one-subscription sessions
        pub = Dev(port, "publisher")
        m0 = m.memory()
        for k in range(args.msgs):
            pub.publish("cap/q/t%d" % k, k + 1)
            t, _ = pub.read()
            assert t == 0x40
        m.settle()
        res["bytes_per_queued_msg"] = round((m.memory() - m0) / (n * args.msgs))

        # -- retained
        m0 = m.memory()
        for k in range(n):
            pub.publish("cap/r/dev%06d" % k, (k % 60000) + 1, retain=True)
            pub.read()
        m.settle()
        res["bytes_per_retained_msg"] = round((m.memory() - m0) / n)

        # -- operations
        k = args.ops_n
        c0, u0 = m.calls(), m.cpu()
        for i in range(k):
            Dev(port, "o%011d" % i).close()
        res["ops_per_connect"] = summarize(diff_calls(c0, m.calls()), k, m.cpu() - u0)

        for i in range(k):  # persistent sessions with one subscription, offline
            d = Dev(port, "r%011d" % i, clean=False)
            d.subscribe(["cap/r1/%d" % i])
            d.close()
        m.settle()
        c0, u0 = m.calls(), m.cpu()
        for i in range(k):
            d = Dev(port, "r%011d" % i, clean=False)
            assert d.present
            d.close()
        res["ops_per_resume"] = summarize(diff_calls(c0, m.calls()), k, m.cpu() - u0)

        sub = Dev(port, "onlinesub", clean=False)
        sub.subscribe(["cap/one"])
        c0, u0 = m.calls(), m.cpu()
        for i in range(k):
            pub.publish("cap/one", (i % 60000) + 1)
            t, _ = pub.read()
            assert t == 0x40
            t, body = sub.read()
            assert t == 0x30
            pid = body[2 + int.from_bytes(body[:2], "big"):][:2]
            sub.sock.sendall(b"\x40\x02" + pid)
        res["ops_per_qos1_publish_to_1_persistent"] = summarize(diff_calls(c0, m.calls()), k, m.cpu() - u0)
        sub.close()

        # -- throughput: QoS 1 to S online persistent sessions, window 100
        subs = []
        for i in range(args.fanout):
            d = Dev(port, "tp%06d" % i, clean=False)
            d.subscribe(["cap/tp"])
            subs.append(d)
        sent = acked = 0
        window = 100
        u1 = m.cpu()
        t0 = time.monotonic()
        pub.sock.settimeout(10)
        while time.monotonic() - t0 < args.seconds:
            while sent - acked < window:
                pub.publish("cap/tp", (sent % 60000) + 1)
                sent += 1
            t, _ = pub.read()
            if t == 0x40:
                acked += 1
            for d in subs:  # PUBACK what the subscribers got
                d.drain_ack()
        el = time.monotonic() - t0
        res["redis_cpu_share_during_throughput"] = round((m.cpu() - u1) / el, 2)
        res["qos1_publish_per_s_to_%d_persistent" % args.fanout] = round(acked / el)
        res["qos1_deliveries_per_s"] = round(acked * args.fanout / el)
        for d in subs:
            d.close()
        pub.close()
        res["redis_primaries"] = len(rc.primaries()) if rc else 1
    finally:
        st.close()
        if rc:
            rc.stop()
        import shutil
        shutil.rmtree(st.dir, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="devices / sessions / retained messages")
    ap.add_argument("--msgs", type=int, default=10, help="QoS 1 messages queued per offline session")
    ap.add_argument("--ops-n", type=int, default=200, help="CONNECTs, resumes, PUBLISHes counted")
    ap.add_argument("--fanout", type=int, default=10, help="online persistent subscribers (throughput)")
    ap.add_argument("--seconds", type=float, default=10.0, help="throughput run")
    ap.add_argument("--cluster", action="store_true", help="a 3-primary Redis Cluster instead of one Redis")
    ap.add_argument("--min-replicas", type=int, default=0,
                    help="the broker's --redis-min-replicas (WAIT before PUBACK; a single Redis has none)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))  # finally: stops every process
    res = run(args)
    print(json.dumps(res, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
