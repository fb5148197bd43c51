"""26: MQTT over TLS (Roost-only flags): a second listener (--tls-port) with
--tls-cert/--tls-key, client certificates verified against --tls-ca when
--tls-client-cert is optional or required. Real clients: mosquitto_pub/sub
with --cafile/--cert/--key, paho-mqtt with TLS, Python ssl sockets for
session resumption and the malformed cases. Every bad input closes that one
connection with a log line naming the reason; a subscriber connected
throughout keeps receiving."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import (IS_MOSQUITTO, PahoClient, RawClient, assert_closed_by_broker, connect_pkt,
                      free_port, roost_binary, stop_process, uid, wait_until)
from tlscerts import client_ctx, make_ca, make_cert, serial_of, tls_raw

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


class Certs:
    pass


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="tls60-")
    c = Certs()
    c.dir = d
    c.ca = make_ca(d, "ca", "Roost Test CA")
    c.server = make_cert(d, c.ca, "server", "localhost", san="DNS:localhost,IP:127.0.0.1")
    c.device = make_cert(d, c.ca, "device", "device-1")
    c.other_ca = make_ca(d, "otherca", "Some Other CA")
    c.foreign = make_cert(d, c.other_ca, "foreign", "device-1")
    c.expired = make_cert(d, c.ca, "expired", "device-1", expired=True)
    yield c
    shutil.rmtree(d, ignore_errors=True)


class TlsBroker:
    def __init__(self, certs, client_cert, extra=()):
        self.port, self.tls_port = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix="tls60b-")
        self.log_path = os.path.join(self.dir, "broker.log")
        argv = [roost_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--insecure-no-auth",
                "--tls-port", str(self.tls_port), "--tls-cert", certs.server[0], "--tls-key",
                certs.server[1], "--tls-ca", certs.ca[0], "--tls-client-cert", client_cert,
                "--log-level", "debug", *extra]
        with open(self.log_path, "wb") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=f, stdin=subprocess.DEVNULL)
        assert wait_until(lambda: "event=listening" in self.log() or self.proc.poll() is not None, 10)
        assert self.proc.poll() is None, self.log()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=5):
        return wait_until(lambda: re.search(pattern, self.log()), timeout)

    def stop(self):
        stop_process(self.proc)
        if not os.environ.get("ROOST_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def optional(certs):
    b = TlsBroker(certs, "optional", ("--connect-timeout", "2"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def required(certs):
    b = TlsBroker(certs, "required")
    yield b
    b.stop()


def tls_paho(port, ctx=None, certs=None):
    """A PahoClient over TLS. Its network loop runs in PahoClient's thread,
    and paho writes a publish from the caller's thread unless a socket-write
    hook is registered: two threads on one ssl socket corrupt records (a plain
    socket survives it), so the hook routes every write through the loop."""
    c = PahoClient(port)
    if ctx is None:
        c.c.tls_set(ca_certs=certs.ca[0])
    else:
        c.c.tls_set_context(ctx)
    c.c.on_socket_register_write = lambda *a: None
    return c


def mosq(tool, port, certs, *args, cert=None):
    argv = [tool, "-h", "localhost", "-p", str(port), "--cafile", certs.ca[0]]
    if cert:
        argv += ["--cert", cert[0], "--key", cert[1]]
    return argv + list(args)


def sub_pub_roundtrip(port, certs, cert=None, pub_cert=None):
    topic = "tls/" + uid()
    sub = subprocess.Popen(mosq("mosquitto_sub", port, certs, "-t", topic, "-C", "1", "-W", "10", cert=cert),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # mosquitto_sub has no "subscribed" signal; retry the publish instead
        deadline = time.monotonic() + 8
        while sub.poll() is None and time.monotonic() < deadline:
            subprocess.run(mosq("mosquitto_pub", port, certs, "-t", topic, "-m", "over-tls",
                                cert=pub_cert or cert), check=True, timeout=10)
            try:
                sub.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=5)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    assert out.strip() == "over-tls"


# ---------------------------------------------------------------- working clients

def test_mosquitto_clients_server_auth(optional, certs):
    sub_pub_roundtrip(optional.tls_port, certs)


def test_mosquitto_clients_with_certificate_optional_and_required(optional, required, certs):
    sub_pub_roundtrip(optional.tls_port, certs, cert=certs.device)
    sub_pub_roundtrip(required.tls_port, certs, cert=certs.device)


def test_plain_listener_still_serves_and_shares_topics(optional, certs):
    """TLS and plain clients are one broker: a plain publish reaches a TLS subscriber."""
    topic = "mix/" + uid()
    s = tls_paho(optional.tls_port, certs=certs)
    s.connect()
    try:
        s.subscribe(topic, 1)
        p = PahoClient(optional.port)
        p.connect()
        p.publish(topic, b"from-plain", 1)
        p.disconnect()
        assert s.get().payload == b"from-plain"
    finally:
        s.disconnect()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_paho_tls_versions_and_large_payloads(optional, certs, version):
    """paho over TLS 1.2 and 1.3; a 300 KB message spans many TLS records and
    a burst of small ones arrives in order (records buffered inside OpenSSL
    are read without waiting for the socket)."""
    v = getattr(ssl.TLSVersion, version)
    topic = "big/" + uid()
    ctx = client_ctx(certs, cert=certs.device, minimum_version=v, maximum_version=v)
    c = tls_paho(optional.tls_port, ctx)
    c.connect()
    try:
        c.subscribe(topic, 1)
        big = os.urandom(300 * 1024)
        c.publish(topic, big, 1)
        assert c.get().payload == big
        for i in range(200):
            c.c.publish(topic, b"%d" % i, 0)
        got = [m.payload for m in c.get_n(200)]
        assert got == [b"%d" % i for i in range(200)]
    finally:
        c.disconnect()
    assert optional.wait_log(r"conn_accepted peer=\S+ client_id=\"?%s\"? " % c.client_id)


def test_old_protocol_versions_refused(optional, certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.ca[0])
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_raw(optional.tls_port, ctx)
    assert optional.wait_log(r"conn_refused peer=\S+ transport=tls stage=handshake "
                             r"reason=\"(unsupported protocol|no protocols available)\"")


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_session_resumption(optional, certs, version):
    """A reconnect presenting the ticket of the last session skips the full
    handshake (with a client certificate too: the session id context is set)."""
    v = getattr(ssl.TLSVersion, version)
    ctx = client_ctx(certs, cert=certs.device, minimum_version=v, maximum_version=v)
    c = tls_raw(optional.tls_port, ctx)
    c.connect(uid("res"))      # a round trip: the TLS 1.3 ticket arrives with the CONNACK
    session = c.sock.session
    assert not c.sock.session_reused
    c.close()
    assert session is not None
    c2 = tls_raw(optional.tls_port, ctx, session=session)
    c2.connect(uid("res"))
    assert c2.sock.session_reused
    c2.close()


def test_server_certificate_served(optional, certs):
    ctx = client_ctx(certs)
    with socket.create_connection(("127.0.0.1", optional.tls_port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    p = os.path.join(certs.dir, "served.pem")
    with open(p, "w") as f:
        f.write(pem)
    assert serial_of(p) == serial_of(certs.server[0])
    assert re.search(r"event=tls_certificate source=files reason=start subject=\"/CN=localhost\" serial=%s " %
                     serial_of(certs.server[0]), optional.log())


def test_proxy_header_before_tls(certs):
    """Behind haproxy (send-proxy-v2 in TCP mode) the PROXY header comes in
    clear before the ClientHello; the device's own address is logged."""
    b = TlsBroker(certs, "none", ("--proxy-protocol",))
    try:
        c = RawClient(b.tls_port)
        c.send(b"PROXY TCP4 192.0.2.9 10.0.0.1 40001 8883\r\n")
        c.sock = client_ctx(certs).wrap_socket(c.sock, server_hostname="localhost")
        cid = uid("pp")
        c.connect(cid)
        c.ping()
        c.close()
        assert b.wait_log(r"conn_accepted peer=192\.0\.2\.9:40001 client_id=\"?%s\"? " % cid)
    finally:
        b.stop()


# ---------------------------------------------------------------- client certificates

def expect_refused(broker, certs, cert, reason):
    r = subprocess.run(mosq("mosquitto_pub", broker.tls_port, certs, "-t", "x", "-m", "x", cert=cert),
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert broker.wait_log(r"conn_refused peer=\S+ transport=tls stage=handshake reason=\"%s\"" % reason), \
        broker.log()[-2000:]


def test_required_refuses_no_certificate(required, certs):
    expect_refused(required, certs, None, "peer did not return a certificate")


def test_certificate_from_another_ca_refused(optional, required, certs):
    expect_refused(optional, certs, certs.foreign, "unable to get local issuer certificate")
    expect_refused(required, certs, certs.foreign, "unable to get local issuer certificate")


def test_expired_certificate_refused(optional, certs):
    expect_refused(optional, certs, certs.expired, "certificate has expired")


# ---------------------------------------------------------------- bad input

@pytest.fixture
def watcher(optional, certs):
    """A TLS subscriber connected through every bad input; it must keep receiving."""
    topic = "watch/" + uid()
    w = tls_paho(optional.tls_port, certs=certs)
    w.connect()
    w.subscribe(topic, 1)
    yield w
    p = tls_paho(optional.tls_port, certs=certs)
    p.connect()
    p.publish(topic, b"still-here", 1)
    p.disconnect()
    assert w.get().payload == b"still-here"
    w.disconnect()


def raw_tcp(port):
    return RawClient(port)


def client_hello(certs):
    """The bytes of a real ClientHello (from a memory BIO, never sent)."""
    ctx = client_ctx(certs)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_plain_mqtt_on_tls_port(optional, watcher):
    c = raw_tcp(optional.tls_port)
    c.send(connect_pkt(uid("plain")))
    assert_closed_by_broker(c)
    assert optional.wait_log(r"transport=tls stage=handshake reason=\"wrong version number\"")


def test_tls_on_plain_port(optional, certs, watcher):
    c = raw_tcp(optional.port)
    c.send(client_hello(certs))
    assert_closed_by_broker(c)
    assert optional.wait_log(r"conn_refused peer=\S+ client_id=(?:\"\"|) packet=CONNECT rc=-?\d+ reason=\"malformed packet\"")


def test_garbage_handshake(optional, watcher):
    """A handshake record whose body is random bytes: the broker may answer
    with a TLS alert, then closes."""
    c = raw_tcp(optional.tls_port)
    port = c.sock.getsockname()[1]
    c.send(b"\x16\x03\x01\x00\x20" + bytes(range(32)))
    assert_closed_by_broker(c, allow=lambda p: True)
    assert optional.wait_log(r"conn_refused peer=127\.0\.0\.1:%d transport=tls stage=handshake "
                             r"reason=\"[a-z][^\"]+\"" % port)


def test_truncated_handshake(optional, certs, watcher):
    c = raw_tcp(optional.tls_port)
    port = c.sock.getsockname()[1]
    hello = client_hello(certs)
    c.send(hello[: len(hello) // 2])
    time.sleep(0.2)
    c.sock.shutdown(socket.SHUT_WR)
    assert_closed_by_broker(c)
    assert optional.wait_log(r"conn_refused peer=127\.0\.0\.1:%d transport=tls stage=handshake "
                             r"reason=\"the peer closed during the TLS handshake\"" % port)


def test_stalled_handshake_closed_at_connect_timeout(optional, certs, watcher):
    c = raw_tcp(optional.tls_port)
    port = c.sock.getsockname()[1]
    hello = client_hello(certs)
    c.send(hello[:10])
    elapsed, _ = assert_closed_by_broker(c, timeout=6)
    assert 1.5 <= elapsed <= 4.5, elapsed   # --connect-timeout 2 (checked every 250 ms)
    assert optional.wait_log(r"conn_refused peer=127\.0\.0\.1:%d transport=tls stage=handshake "
                             r"reason=\"handshake not finished within --connect-timeout\"" % port)


def test_silent_socket_closed_at_connect_timeout_quietly(optional):
    """A TCP check that sends nothing (a load balancer probe) is closed at the
    timeout without a TLS failure line."""
    c = raw_tcp(optional.tls_port)
    port = c.sock.getsockname()[1]
    assert_closed_by_broker(c, timeout=6)
    assert optional.wait_log(r"conn_closed peer=127\.0\.0\.1:%d client_id=(?:\"\"|) reason=connect_timeout" % port)
    assert not re.search(r"conn_refused peer=127\.0\.0\.1:%d " % port, optional.log())


def test_renegotiation_closes_the_connection(optional, certs, watcher):
    """TLS 1.2 renegotiation ('R' in s_client) fails that connection."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % optional.tls_port,
                          "-tls1_2", "-CAfile", certs.ca[0]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)
        p.stdin.write(b"R\n")
        p.stdin.flush()
        assert optional.wait_log(r"conn_refused peer=\S+ transport=tls stage=established "
                                 r"reason=\"renegotiation attempted\"")
        p.wait(5)   # the broker closed the connection: s_client exits
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


# ---------------------------------------------------------------- refusing to start

def start_fails(certs, *args):
    r = subprocess.run([roost_binary(), "--bind", "127.0.0.1", "--port", str(free_port()),
                        "--insecure-no-auth", "--tls-port", str(free_port()), *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    return r.stderr


def test_unreadable_key_refuses_to_start(certs):
    err = start_fails(certs, "--tls-cert", certs.server[0], "--tls-key", os.path.join(certs.dir, "nope.key"))
    assert re.search(r"event=startup_failed reason=\"--tls-key: \S+nope.key: No such file", err), err


def test_mismatched_key_refuses_to_start(certs):
    err = start_fails(certs, "--tls-cert", certs.server[0], "--tls-key", certs.device[1])
    assert "reason=\"--tls-key does not match --tls-cert\"" in err, err


def test_not_a_certificate_refuses_to_start(certs):
    err = start_fails(certs, "--tls-cert", certs.server[1], "--tls-key", certs.server[1])
    assert "reason=\"--tls-cert: no PEM certificate found\"" in err, err


def test_client_cert_mode_needs_ca(certs):
    err = start_fails(certs, "--tls-cert", certs.server[0], "--tls-key", certs.server[1],
                      "--tls-client-cert", "required")
    assert "--tls-client-cert required needs --tls-ca" in err, err
    err = start_fails(certs, "--tls-cert", certs.server[0], "--tls-key", certs.server[1],
                      "--tls-client-cert", "sometimes")
    assert "--tls-client-cert: expected none, optional or required, got 'sometimes'" in err, err


def test_help_names_every_tls_option():
    out = subprocess.run([roost_binary(), "--help"], capture_output=True, text=True, timeout=10).stdout
    for flag, var in [("--tls-port", "ROOST_TLS_PORT"), ("--tls-cert", "ROOST_TLS_CERT"),
                      ("--tls-key", "ROOST_TLS_KEY"), ("--tls-ca", "ROOST_TLS_CA"),
                      ("--tls-client-cert", "ROOST_TLS_CLIENT_CERT")]:
        assert flag in out and var in out, flag
