"""14 (Roost-only, issue 13 item 6): what a socket can make the broker hold
before its CONNECT is accepted. A packet before acceptance may be only
--max-connect-size (64 KiB default) and all not-yet-accepted connections
share --max-preauth-memory; with --proxy-protocol, --proxy-trusted limits
who may send the header that names a device's address."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (IS_MOSQUITTO, RawClient, assert_closed_by_broker, connect_pkt, free_port,
                      publish_pkt, roost_binary, stop_process, uid, wait_until)

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


class Proc:
    def __init__(self, *extra):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="preauth-")
        self.log_path = os.path.join(self.dir, "broker.log")
        with open(self.log_path, "wb") as f:
            self.proc = subprocess.Popen([roost_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
                                          "--insecure-no-auth", "--log-level", "debug", *extra],
                                         stdout=f, stderr=f, stdin=subprocess.DEVNULL)
        assert wait_until(lambda: self.listening(), timeout=10), self.log()

    def listening(self):
        return "event=listening" in self.log() or "listening" in self.log()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def start():
    started = []

    def make(*extra):
        p = Proc(*extra)
        started.append(p)
        return p
    yield make
    for p in started:
        p.stop()


def connack(c):
    p = c.expect("CONNACK")
    return p.body[1]


def test_connect_larger_than_max_connect_size_is_closed(start):
    b = start("--max-connect-size", "1024")
    c = RawClient(b.port)
    c.send(connect_pkt(uid("big"), password=b"p" * 2000))
    assert_closed_by_broker(c)
    # a normal CONNECT, then a packet over 1 KiB once accepted: fine
    c = RawClient(b.port)
    c.send(connect_pkt(uid("ok")))
    assert connack(c) == 0
    c.send(publish_pkt("t/big", b"x" * 50000, qos=1, pid=1))
    assert c.expect("PUBACK").body == b"\x00\x01"
    c.close()


def test_default_connect_cap_is_64_kib(start):
    b = start()
    c = RawClient(b.port)
    c.send(connect_pkt(uid("will"), will=("w/t", b"w" * 65000, 0, False), password=b"p" * 2000))
    assert_closed_by_broker(c)
    c = RawClient(b.port)
    c.send(connect_pkt(uid("will"), will=("w/t", b"w" * 60000, 0, False)))
    assert connack(c) == 0
    c.close()


def test_preauth_budget_caps_connections_waiting_for_connect(start):
    b = start("--max-connect-size", "65536", "--max-preauth-memory", str(4 * 65536))
    # accepted connections do not count
    live = []
    for _ in range(6):
        c = RawClient(b.port)
        c.send(connect_pkt(uid("live")))
        assert connack(c) == 0
        live.append(c)
    idle = [socket.create_connection(("127.0.0.1", b.port), 5) for _ in range(4)]
    time.sleep(0.2)
    extra = RawClient(b.port)           # the 5th waiting one: closed at accept
    assert_closed_by_broker(extra)
    assert "pre-auth memory budget" in b.log()
    idle.pop().close()                  # one slot frees up
    assert wait_until(lambda: _connects(b.port), timeout=5)
    for s in idle + live:
        s.close()


def _connects(port):
    try:
        c = RawClient(port, 2)
        c.send(connect_pkt(uid("again")))
        ok = connack(c) == 0
        c.close()
        return ok
    except Exception:
        return False


def _from(src, port, data):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(data)
    return s


def test_proxy_header_only_from_trusted_addresses(start):
    b = start("--proxy-protocol", "--proxy-trusted", "127.0.0.2/32, 10.0.0.0/8")
    header = b"PROXY TCP4 192.0.2.7 10.0.0.1 51234 1883\r\n"
    cid = uid("lb")
    s = _from("127.0.0.2", b.port, header + connect_pkt(cid))
    assert s.recv(4)[:1] == b"\x20"                 # CONNACK: the balancer is trusted
    s.close()
    assert wait_until(lambda: "peer=192.0.2.7:51234 client_id=%s" % cid in b.log())
    forged = _from("127.0.0.3", b.port, header + connect_pkt(uid("forged")))
    try:
        assert forged.recv(4) == b""                 # closed, no CONNACK
    except ConnectionResetError:
        pass
    forged.close()
    assert "not in --proxy-trusted" in b.log()


def test_bad_flags_stop_the_broker():
    for args, text in ((["--proxy-protocol", "--proxy-trusted", "10.0.0.0/33"], "--proxy-trusted"),
                       (["--proxy-protocol", "--proxy-trusted", "10.0.0.1,"], "--proxy-trusted"),
                       (["--proxy-trusted", "10.0.0.1"], "needs --proxy-protocol")):
        out = subprocess.run([roost_binary(), "--insecure-no-auth", "--port", "0", *args],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 2 and text in out.stderr, (args, out.stderr)
