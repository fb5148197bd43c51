"""92: how the broker drives a TLS handshake (xport_tls.c, lib/tls/tlsctx.c):
AES-128-GCM preferred for TLS 1.3 as for 1.2; the TLS 1.3 session ticket,
held to go out in one write with the CONNACK, still reaches a client that
sends nothing after the handshake; a client's close_notify is answered, a
bare TCP close is not (no alert written into a socket the peer closed); the
certificate chain, built once per context instead of in every handshake, is
the one OpenSSL sent before (seen by `openssl s_client -showcerts`)."""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
import types

import pytest

from conftest import IS_MOSQUITTO, connect_pkt, uid
from test_26_tls import TlsBroker, certs  # noqa: F401 (certs: the module's certificates fixture)
from tlscerts import _run, client_ctx, make_cert, tls_raw

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


@pytest.fixture(scope="module")
def broker(certs):  # noqa: F811
    b = TlsBroker(certs, "optional")
    yield b
    b.stop()


def handshake(port, ctx, session=None):
    s = socket.create_connection(("127.0.0.1", port), 5)
    return ctx.wrap_socket(s, server_hostname="localhost", session=session)


@pytest.mark.parametrize("version, suite", [("TLSv1_3", "TLS_AES_128_GCM_SHA256"),
                                            ("TLSv1_2", "ECDHE-ECDSA-AES128-GCM-SHA256")])
def test_aes128_gcm_preferred(broker, certs, version, suite):  # noqa: F811
    """The client offers OpenSSL's default list (AES-256-GCM first for 1.3);
    the server's preference picks AES-128-GCM."""
    v = getattr(ssl.TLSVersion, version)
    c = tls_raw(broker.tls_port, client_ctx(certs, minimum_version=v, maximum_version=v))
    try:
        assert c.sock.cipher()[0] == suite
        c.connect(uid("suite"))
    finally:
        c.close()


def test_ticket_reaches_a_client_that_sends_nothing(broker, certs):  # noqa: F811
    """The ticket waits for the answer to what came with the client's
    Finished; when nothing came, it goes at once: a client that completes the
    handshake and only reads gets it, and resumes with it."""
    ctx = client_ctx(certs, minimum_version=ssl.TLSVersion.TLSv1_3)
    t = handshake(broker.tls_port, ctx)
    try:
        t.settimeout(1.0)
        with pytest.raises(socket.timeout):
            t.recv(1)          # no MQTT data comes; the ticket is read on the way
        assert t.session is not None and t.session.has_ticket
        session = t.session
    finally:
        t.close()
    t2 = handshake(broker.tls_port, ctx, session=session)
    try:
        assert t2.session_reused
    finally:
        t2.close()


def test_ticket_and_connack_after_resumption(broker, certs):  # noqa: F811
    """A resumed handshake issues a fresh ticket too; CONNACK and ticket both
    arrive, and the new ticket resumes again."""
    ctx = client_ctx(certs, minimum_version=ssl.TLSVersion.TLSv1_3)
    c = tls_raw(broker.tls_port, ctx)
    c.connect(uid("res"))
    session = c.sock.session
    c.close()
    for _ in range(3):
        c = tls_raw(broker.tls_port, ctx, session=session)
        try:
            assert c.sock.session_reused
            c.connect(uid("res"))
            assert c.sock.session.has_ticket
            session = c.sock.session
        finally:
            c.close()


def test_bare_close_gets_no_alert(broker, certs):  # noqa: F811
    """A device that closes its socket without close_notify (most do) is not
    sent one: after our FIN the broker closes without writing anything."""
    ctx = client_ctx(certs, minimum_version=ssl.TLSVersion.TLSv1_3)
    t = handshake(broker.tls_port, ctx)
    cid = uid("bare")
    t.sendall(connect_pkt(cid))
    t.settimeout(5)
    assert t.recv(4)[0] == 0x20
    assert broker.wait_log(r"conn_accepted peer=\S+ client_id=\"?%s\"? " % cid)
    t.shutdown(socket.SHUT_WR)  # SSLSocket.shutdown: a TCP FIN, no close_notify
    got = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        chunk = t.recv(4096)    # the plain socket now (shutdown dropped the TLS object)
        if not chunk:
            break
        got += chunk
    t.close()
    assert got == b"", "the broker wrote %r after the peer's bare close" % got


def test_close_notify_is_answered(broker, certs):  # noqa: F811
    """A client's close_notify gets the broker's in reply (TLS 1.3 and 1.2)."""
    for v in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = client_ctx(certs, minimum_version=v, maximum_version=v)
        c = tls_raw(broker.tls_port, ctx)
        c.connect(uid("notify"))
        c.sock.settimeout(5)
        plain = c.sock.unwrap()  # sends close_notify, returns once the broker's arrives
        plain.close()


def served_chain(port, cafile, version):
    """The subjects of the certificates the server sends, and whether
    openssl verified the chain against cafile."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                          version, "-showcerts", "-CAfile", cafile], input=b"", capture_output=True,
                         timeout=20).stdout.decode(errors="replace")
    subjects = re.findall(r"^ *\d+ s:(.*)$", out, re.M)
    return [x.strip() for x in subjects], "Verify return code: 0 (ok)" in out


def make_intermediate(d, ca, name):
    crt, key, csr, ext = (os.path.join(d, name + e) for e in (".crt", ".key", ".csr", ".ext"))
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
          "-out", csr, "-subj", "/CN=%s" % name])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", "7", "-days", "30",
          "-out", crt, "-extfile", ext])
    return crt, key


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_chain_from_the_ca_bundle(broker, certs, version):  # noqa: F811
    """Leaf only in --tls-cert, its CA in --tls-ca: the leaf and the CA are
    sent (the chain OpenSSL completed from the verify store per handshake)."""
    subjects, ok = served_chain(broker.tls_port, certs.ca[0], version)
    assert subjects == ["CN = localhost", "CN = Roost Test CA"] and ok


def test_chain_as_given(certs):  # noqa: F811
    """Intermediates in --tls-cert are sent as given, nothing added from the
    CA bundle; with the leaf alone and a CA bundle that did not sign it, the
    leaf goes alone."""
    d = certs.dir
    inter = make_intermediate(d, certs.ca, "Roost Test Intermediate")
    leaf = make_cert(d, inter, "leaf92", "localhost", san="DNS:localhost,IP:127.0.0.1")
    bundle = os.path.join(d, "leaf92-chain.crt")
    with open(bundle, "w") as f:
        f.write(open(leaf[0]).read() + open(inter[0]).read())
    given = TlsBroker(types.SimpleNamespace(server=(bundle, leaf[1]), ca=certs.ca), "optional")
    try:
        subjects, ok = served_chain(given.tls_port, certs.ca[0], "-tls1_3")
        assert subjects == ["CN = localhost", "CN = Roost Test Intermediate"] and ok
    finally:
        given.stop()
    alone = TlsBroker(types.SimpleNamespace(server=certs.server, ca=certs.other_ca), "optional")
    try:
        subjects, ok = served_chain(alone.tls_port, certs.ca[0], "-tls1_3")
        assert subjects == ["CN = localhost"] and ok
    finally:
        alone.stop()


def test_chain_rebuilt_on_reload(certs):  # noqa: F811
    """The chain is built once per context: a reload (SIGHUP) to a leaf
    signed by another CA, with that CA as --tls-ca, sends the new leaf with
    the new CA, not the chain built for the certificate before."""
    d = certs.dir
    cert, key, ca = (os.path.join(d, "reload92" + ext) for ext in (".crt", ".key", "-ca.crt"))
    for src, dst in ((certs.server[0], cert), (certs.server[1], key), (certs.ca[0], ca)):
        with open(src) as f, open(dst, "w") as g:
            g.write(f.read())
    b = TlsBroker(types.SimpleNamespace(server=(cert, key), ca=(ca, None)), "optional")
    try:
        subjects, ok = served_chain(b.tls_port, certs.ca[0], "-tls1_3")
        assert subjects == ["CN = localhost", "CN = Roost Test CA"] and ok
        leaf = make_cert(d, certs.other_ca, "reload92b", "localhost", san="DNS:localhost,IP:127.0.0.1")
        for src, dst in ((leaf[0], cert), (leaf[1], key), (certs.other_ca[0], ca)):
            with open(src) as f, open(dst + ".new", "w") as g:
                g.write(f.read())
            os.replace(dst + ".new", dst)
        b.proc.send_signal(signal.SIGHUP)
        assert b.wait_log(r"event=tls_reloaded"), b.log()
        subjects, ok = served_chain(b.tls_port, certs.other_ca[0], "-tls1_3")
        assert subjects == ["CN = localhost", "CN = Some Other CA"] and ok
    finally:
        b.stop()
