"""13: --proxy-protocol (Roost-only): behind a TCP load balancer the broker
learns each device's real address from the PROXY protocol header, so logs,
authd's per-address throttling and the connection registry see devices, not
the balancer. Without a header the connection is closed; with one, MQTT goes
on as usual."""

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile

import pytest

from conftest import (IS_MOSQUITTO, RawClient, assert_closed_by_broker, connect_pkt, free_port,
                      roost_binary, stop_process, uid, wait_until)

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only option")


@pytest.fixture
def broker():
    port = free_port()
    d = tempfile.mkdtemp(prefix="proxyproto-")
    log = os.path.join(d, "broker.log")
    with open(log, "wb") as f:
        proc = subprocess.Popen([roost_binary(), "--bind", "127.0.0.1", "--port", str(port),
                                 "--insecure-no-auth", "--proxy-protocol"],
                                stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    assert wait_until(lambda: _can_connect(port), timeout=10)
    b = type("B", (), {"port": port, "log": lambda self=None: open(log).read()})()
    yield b
    stop_process(proc)
    shutil.rmtree(d, ignore_errors=True)


def _can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _accepted(b, client_id):
    return wait_until(lambda: re.search(r"event=conn_accepted peer=(\S+) client_id=%s " % re.escape(client_id),
                                        b.log()), timeout=5)


def _peer_of(b, client_id):
    m = re.search(r"event=conn_accepted peer=(\S+) client_id=%s " % re.escape(client_id), b.log())
    return m.group(1) if m else None


def test_v1_header_names_the_client(broker):
    c = RawClient(broker.port)
    cid = uid("v1")
    c.send(b"PROXY TCP4 192.0.2.7 10.0.0.1 51234 1883\r\n")
    c.connect(cid)
    assert c.subscribe([("pp/" + cid, 1)]) == [1]
    c.publish("pp/" + cid, b"hi", qos=1)
    assert c.expect("PUBLISH").payload == b"hi"
    assert _accepted(broker, cid)
    assert _peer_of(broker, cid) == "192.0.2.7:51234"
    c.close()


def test_v2_header_split_across_writes(broker):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    hdr = sig + bytes([0x21, 0x21]) + struct.pack(">H", 36) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::7") + socket.inet_pton(socket.AF_INET6, "2001:db8::1") + \
        struct.pack(">HH", 40000, 1883)
    c = RawClient(broker.port)
    cid = uid("v2")
    c.send(hdr[:5])
    c.no_packet(0.2)
    c.send(hdr[5:] + connect_pkt(cid)[:3])   # the rest of the header and the start of CONNECT
    c.no_packet(0.2)
    c.send(connect_pkt(cid)[3:])
    assert c.expect("CONNACK").body == b"\x00\x00"
    assert _accepted(broker, cid)
    assert _peer_of(broker, cid) == "2001:db8::7:40000"
    c.close()


def test_no_header_is_closed(broker):
    c = RawClient(broker.port)
    c.send(connect_pkt(uid("plain")))
    assert_closed_by_broker(c)
    assert wait_until(lambda: "no valid PROXY protocol header" in broker.log(), timeout=5)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_through_haproxy_send_proxy_v2(broker, tmp_path):
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""
defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
frontend mqtt
    bind 127.0.0.1:%d
    default_backend brokers
backend brokers
    server b1 127.0.0.1:%d send-proxy-v2
""" % (front, broker.port))
    hp = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _can_connect(front), timeout=10)
        c = RawClient(front)
        cid = uid("hap")
        c.connect(cid)
        local_port = c.sock.getsockname()[1]
        assert _accepted(broker, cid)
        # the device's own source port, not haproxy's outgoing one
        assert _peer_of(broker, cid) == "127.0.0.1:%d" % local_port
        c.close()
    finally:
        stop_process(hp)
