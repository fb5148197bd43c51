"""Helpers for the shared-subscription cluster tests (test_81, test_82):
members and publishers are mosquitto_sub / mosquitto_pub processes (real
C clients that keep up with tens of thousands of QoS 1 messages, where
paho threads in one Python process fall behind), each stopped by PID.
A member writes one payload per line to its own file."""

import collections
import os
import re
import subprocess
import threading
import time
import urllib.request

from conftest import stop_process, uid

SUB = "/usr/bin/mosquitto_sub"
PUB = "/usr/bin/mosquitto_pub"


class Member:
    """mosquitto_sub in shared group `group` on filter `flt` at `qos`."""

    def __init__(self, dirpath, port, group, flt, qos=1, version="mqttv311", client_id=None):
        self.client_id = client_id or uid("member")
        self.path = os.path.join(dirpath, self.client_id + ".out")
        self.out = open(self.path, "wb")
        topic = "$share/%s/%s" % (group, flt) if group else flt
        # line-buffered: a payload is in the file as soon as it is received
        self.proc = subprocess.Popen(["stdbuf", "-oL", SUB, "-h", "127.0.0.1", "-p", str(port), "-i", self.client_id,
                                      "-q", str(qos), "-V", version, "-t", topic, "-k", "30"],
                                     stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def payloads(self):
        self.out.flush()
        with open(self.path, "rb") as f:
            return f.read().splitlines()

    def count(self):
        return len(self.payloads())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        stop_process(self.proc)
        self.out.close()


class Publisher:
    """mosquitto_pub -l: n lines "tag-i" as QoS `qos` messages on `topic`,
    with up to `window` in flight, fed at about `rate` messages a second
    (0: as fast as it takes them) from a thread."""

    def __init__(self, port, topic, tag, n, qos=1, window=10, rate=0):
        self.tag, self.n, self.rate = tag, n, rate
        self.proc = subprocess.Popen([PUB, "-h", "127.0.0.1", "-p", str(port), "-i", uid("pub"),
                                      "-q", str(qos), "-M", str(window), "-t", topic, "-l"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.t = threading.Thread(target=self._feed, daemon=True)
        self.t.start()

    def payload(self, i):
        return b"%s-%d" % (self.tag.encode(), i)

    def _feed(self):
        chunk = max(1, self.rate // 20) if self.rate else self.n
        t0 = time.monotonic()
        try:
            for start in range(0, self.n, chunk):
                self.proc.stdin.write(b"".join(self.payload(i) + b"\n"
                                               for i in range(start, min(self.n, start + chunk))))
                self.proc.stdin.flush()
                if self.rate:
                    ahead = t0 + (start + chunk) / self.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the process was stopped

    def wait(self, timeout=120):
        self.t.join(timeout)
        self.proc.wait(timeout)
        out = self.proc.stdout.read()
        assert self.proc.returncode == 0, "mosquitto_pub %s exited %r: %r" % (self.tag, self.proc.returncode, out)

    def stop(self):
        stop_process(self.proc)


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def members_seen(http_port, group, flt):
    """Connected members of (group, flt) that a broker's /metrics shows."""
    m = re.search(r'roost_broker_shared_members\{group="%s",filter="%s"\} (\d+)'
                  % (re.escape(group), re.escape(flt)), metrics(http_port))
    return int(m.group(1)) if m else 0


def wait_members(brokers, group, flt, want, timeout=15.0):
    """Every broker's /metrics shows want[i] members here (subscribed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [members_seen(b.http_port, group, flt) for b in brokers] == list(want):
            return
        time.sleep(0.05)
    raise AssertionError("members per broker %r, want %r" %
                         ([members_seen(b.http_port, group, flt) for b in brokers], want))


def wait_total(members, want, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(m.count() for m in members) >= want:
            return True
        time.sleep(0.1)
    return False


def tally(members):
    """(Counter of payloads over the group, per-member counts)."""
    c = collections.Counter()
    per = []
    for m in members:
        p = m.payloads()
        c.update(p)
        per.append(len(p))
    return c, per


def with_http(b):
    """Cluster broker b with a /metrics endpoint of its own."""
    from conftest import free_port
    b.http_port = free_port()
    argv = b.argv
    b.argv = lambda port: argv(port) + ["--http-port", str(b.http_port)]
    return b
