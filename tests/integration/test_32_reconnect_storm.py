"""Reconnect storm (issue 3): N devices (2,000 by default, ROOST_STORM_CLIENTS)
with their own credentials connect through a broker backed by authd; the
broker is restarted; every device reconnects at once and must be
authenticated again (CONNACK 0, its ACL in force). The time the storm took and
authd's cache hit ratio over it are printed and written to
tests/integration/out/storm.json: figures for the note, not assertions on time.

The devices are raw MQTT sockets driven by one selectors (epoll) loop, not
threads. A device refused with CONNACK 3 (server unavailable) retries after a
short backoff, as a real device would; the refusals are counted and reported.
"""

import http.client
import json
import os
import resource
import selectors
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stack import AUTHD_BIN, BROKER_BIN, TOKEN, stack  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

N = int(os.environ.get("ROOST_STORM_CLIENTS", "2000"))
WINDOW = 256            # devices connecting at the same time (handshake in progress)
PHASE_TIMEOUT = 40.0    # seconds for one whole connect phase
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def enc_str(b):
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, username, password, keepalive=300):
    vh = enc_str(b"MQTT") + bytes([4, 0x02 | 0x80 | 0x40]) + struct.pack("!H", keepalive)
    body = vh + enc_str(client_id) + enc_str(username) + enc_str(password)
    n, rl = len(body), bytearray()
    while True:
        d, n = n % 128, n // 128
        rl.append(d | (0x80 if n else 0))
        if not n:
            break
    return bytes([0x10]) + bytes(rl) + body


class Device:
    __slots__ = ("i", "packet", "sock", "state", "buf", "retry_at", "attempts")

    def __init__(self, i):
        self.i = i
        u = ("storm-%04d" % i).encode()
        self.packet = connect_packet(u, u, b"pw-" + u)
        self.sock = None
        self.state = "idle"      # idle -> connecting -> waiting -> up | closed
        self.buf = b""
        self.retry_at = 0.0
        self.attempts = 0


class Fleet:
    """N devices, one event loop. connect_all() brings every device to CONNACK 0."""

    def __init__(self, port, n):
        self.port = port
        self.devices = [Device(i) for i in range(n)]
        self.sel = selectors.DefaultSelector()
        self.codes = {}          # CONNACK code -> count (this phase)
        self.errors = 0          # resets / closes before a CONNACK (this phase)

    def _open(self, d):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex(("127.0.0.1", self.port))
        if err not in (0, 115):  # EINPROGRESS
            s.close()
            self._failed(d, time.monotonic())
            return
        d.sock, d.state, d.buf = s, "connecting", b""
        d.attempts += 1
        self.sel.register(s, selectors.EVENT_WRITE, d)

    def _drop(self, d):
        if d.sock is not None:
            try:
                self.sel.unregister(d.sock)
            except (KeyError, ValueError):
                pass
            d.sock.close()
            d.sock = None

    def _failed(self, d, now):
        self._drop(d)
        d.state = "idle"
        d.retry_at = now + 0.05 * min(d.attempts, 10)

    def connect_all(self, timeout=PHASE_TIMEOUT):
        """Returns (seconds, attempts) once every device has CONNACK 0."""
        self.codes, self.errors = {}, 0
        for d in self.devices:
            d.state, d.retry_at, d.attempts = "idle", 0.0, 0
        start = time.monotonic()
        deadline = start + timeout
        up = 0
        pending = 0
        queue = list(self.devices)
        while up < len(self.devices):
            now = time.monotonic()
            assert now < deadline, "storm not done after %.0fs: %d up, codes %r, errors %d" % (
                timeout, up, self.codes, self.errors)
            # start devices while the window has room
            if pending < WINDOW:
                rest = []
                for d in queue:
                    if pending < WINDOW and d.state == "idle" and d.retry_at <= now:
                        self._open(d)
                        if d.state == "connecting":
                            pending += 1
                    if d.state == "idle":
                        rest.append(d)
                queue = rest
            for key, ev in self.sel.select(timeout=0.05):
                d = key.data
                if d.state == "connecting":
                    err = d.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        self.errors += 1
                        pending -= 1
                        self._failed(d, now)
                        queue.append(d)
                        continue
                    try:
                        d.sock.send(d.packet)   # < 100 bytes: goes out whole on a fresh socket
                    except OSError:
                        self.errors += 1
                        pending -= 1
                        self._failed(d, now)
                        queue.append(d)
                        continue
                    d.state = "waiting"
                    self.sel.modify(d.sock, selectors.EVENT_READ, d)
                elif d.state == "waiting":
                    try:
                        chunk = d.sock.recv(64)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self.errors += 1
                        pending -= 1
                        self._failed(d, now)
                        queue.append(d)
                        continue
                    d.buf += chunk
                    if len(d.buf) < 4:
                        continue
                    assert d.buf[:3] == b"\x20\x02\x00", "device %d: bad CONNACK %r" % (d.i, d.buf)
                    code = d.buf[3]
                    self.codes[code] = self.codes.get(code, 0) + 1
                    pending -= 1
                    if code == 0:
                        d.state = "up"
                        self.sel.modify(d.sock, selectors.EVENT_READ, d)
                        up += 1
                    else:
                        assert code == 3, "device %d refused with CONNACK %d" % (d.i, code)
                        self._failed(d, now)
                        queue.append(d)
                elif d.state == "up":
                    # an up device gets nothing unless the broker goes away
                    try:
                        chunk = d.sock.recv(64)
                    except OSError:
                        chunk = b""
                    assert not chunk, "device %d got unexpected bytes %r" % (d.i, chunk)
                    d.state = "closed"
                    self._drop(d)
                    up -= 1
                    queue.append(d)
                    d.state = "idle"
        return time.monotonic() - start, sum(d.attempts for d in self.devices)

    def wait_all_closed(self, timeout=20.0):
        """After the broker went away: every device sees its connection closed."""
        deadline = time.monotonic() + timeout
        open_ = sum(1 for d in self.devices if d.state == "up")
        while open_:
            assert time.monotonic() < deadline, "%d connections still open" % open_
            for key, _ in self.sel.select(timeout=0.1):
                d = key.data
                try:
                    chunk = d.sock.recv(64)
                except OSError:
                    chunk = b""
                if not chunk:
                    self._drop(d)
                    d.state = "idle"
                    open_ -= 1

    def close(self):
        for d in self.devices:
            self._drop(d)
        self.sel.close()


def seed(stack, n):
    """n clients storm-NNNN (password pw-storm-NNNN), one group, one rule."""
    g = stack.add_group("storm", [("allow", "publish", "storm/%u/#"), ("allow", "subscribe", "storm/%u/#")])
    stack.add_rule("mqtt_client_id", "storm-*", [g["id"]])

    def batch(idx):
        conn = http.client.HTTPConnection("127.0.0.1", stack.admin.http_port, timeout=30)
        try:
            for i in idx:
                u = "storm-%04d" % i
                body = json.dumps({"name": u, "username": u, "password": "pw-" + u})
                conn.request("POST", "/api/v1/clients", body,
                             {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                assert r.status == 201, (r.status, data)
        finally:
            conn.close()
    workers = 4
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(batch, [range(k, n, workers) for k in range(workers)]))


def test_reconnect_storm(stack):
    raise_nofile(N + 1024)      # before the broker starts: it inherits the limit
    t0 = time.monotonic()
    stack.start_redis()
    stack.start_admin()
    authd = stack.start_authd(changes=True)
    broker = stack.start_broker(authd=authd)
    seed(stack, N)
    seed_s = time.monotonic() - t0

    fleet = Fleet(broker.port, N)
    try:
        first_s, first_attempts = fleet.connect_all()
        first_codes = dict(fleet.codes)
        m0 = authd.metrics()
        assert m0['authd_requests_total{result="ok"}'] >= N
        assert m0["authd_cache_entries"] >= N, "every credential cached after the first round"

        broker.stop()
        fleet.wait_all_closed()
        # the devices hammer the port from the moment the broker is started again,
        # as devices behind a load balancer would (refused TCP connects and
        # CONNACK 3 while the broker's authd link comes up are retried)
        broker.start(wait=False)
        storm_s, attempts = fleet.connect_all()
        assert broker.alive()
        m1 = authd.metrics()

        hits = m1["authd_cache_hits_total"] - m0["authd_cache_hits_total"]
        misses = m1["authd_cache_misses_total"] - m0["authd_cache_misses_total"]
        verif = m1["authd_hash_verifications_total"] - m0["authd_hash_verifications_total"]
        ok = m1['authd_requests_total{result="ok"}'] - m0['authd_requests_total{result="ok"}']
        # every device authenticated again: one ok per device
        assert ok >= N, (ok, m1)
        ratio = hits / (hits + misses) if hits + misses else 0.0
        figures = {
            "clients": N,
            "window": WINDOW,
            "build": os.path.basename(os.environ.get("ROOST_BUILD_DIR", "build-test")),
            "seed_seconds": round(seed_s, 2),
            "first_connect_seconds": round(first_s, 2),
            "first_connect_codes": {str(k): v for k, v in sorted(first_codes.items())},
            "storm_seconds_from_restart": round(storm_s, 2),
            "storm_connects_per_second": round(N / storm_s, 1),
            "storm_attempts": attempts,
            "storm_connack_codes": {str(k): v for k, v in sorted(fleet.codes.items())},
            "storm_errors": fleet.errors,
            "authd_cache_hits": int(hits),
            "authd_cache_misses": int(misses),
            "authd_hash_verifications": int(verif),
            "authd_cache_hit_ratio": round(ratio, 4),
        }
        print("\nreconnect storm: " + json.dumps(figures, indent=1))
        os.makedirs(OUT_DIR, exist_ok=True)
        with open(os.path.join(OUT_DIR, "storm.json"), "w") as f:
            json.dump(figures, f, indent=1)
            f.write("\n")

        # the storm did not re-run argon2 for the devices: their credentials were cached
        assert hits >= N * 0.95, figures

        # the devices are authenticated with their own ACL (%u): spot-check a few
        for i in (0, N // 2, N - 1):
            d = fleet.devices[i]
            assert d.state == "up"
            d.sock.setblocking(True)
            d.sock.settimeout(5)
            u = b"storm-%04d" % i
            sub = struct.pack("!H", 1) + enc_str(b"storm/" + u + b"/#") + b"\x00" + \
                enc_str(b"storm/other/#") + b"\x00"
            d.sock.sendall(bytes([0x82, len(sub)]) + sub)
            ack = b""
            while len(ack) < 6:
                chunk = d.sock.recv(6 - len(ack))
                assert chunk, "closed"
                ack += chunk
            assert ack == b"\x90\x04\x00\x01\x00\x80", ack
    finally:
        fleet.close()
