"""87: MQTT over WebSockets over TLS (--wss-port), and WebSockets in a real
stack: credentials decided by authd, the group's ACL enforced, and the
Connections list naming each connection's transport (tcp, ws, wss)."""

import os
import shutil
import ssl
import tempfile
import uuid

import pytest

from conftest import IS_MOSQUITTO, PahoClient, connect_pkt, uid
from stack import stack, wait_for  # noqa: F401  (stack: fixture)
from tlscerts import make_ca, make_cert
from wsclient import RawWs, WsBroker, frame, upgrade_request, ws_paho

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")

PW = "password-123"


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="wss87-")
    ca = make_ca(d, "ca", "Roost WSS Test CA")
    server = make_cert(d, ca, "server", "localhost", san="DNS:localhost,IP:127.0.0.1")
    yield ca, server
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def wssb(certs):
    b = WsBroker(("--connect-timeout", "3"), tls=certs[1])
    yield b
    assert b.stop() == 0


def ca_ctx(certs):
    ctx = ssl.create_default_context(cafile=certs[0][0])
    ctx.check_hostname = False
    return ctx


def test_paho_over_wss(wssb, certs):
    """paho over wss both ways, a 100 kB payload among them; a ws client on
    the plain ws port of the same broker gets it too."""
    topic = "wss/" + uid()
    sub = ws_paho(wssb.wss_port, tls_ca=certs[0][0])
    plain = ws_paho(wssb.ws_port)
    pub = ws_paho(wssb.wss_port, tls_ca=certs[0][0])
    try:
        for c in (sub, plain, pub):
            c.connect()
        sub.subscribe(topic, 1)
        plain.subscribe(topic, 1)
        big = os.urandom(100_000)
        pub.publish(topic, big, qos=1)
        assert sub.get().payload == big
        assert plain.get().payload == big
    finally:
        for c in (sub, plain, pub):
            c.disconnect()


def test_raw_wss_and_refusals(wssb, certs):
    """A raw client over TLS: Upgrade, CONNECT, close handshake; an Upgrade
    refused over TLS gets its HTTP status and a transport=wss line; a plain
    HTTP Upgrade on the wss port fails the TLS handshake with a line."""
    ws = RawWs(wssb.wss_port, tls_ctx=ca_ctx(certs))
    try:
        ws.upgrade()
        ws.send(frame(0x2, connect_pkt(uid("wss"))))
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
        ws.send(frame(0x8, b"\x03\xe8"))
        assert ws.read_close()[0] == 1000
        assert ws.closed()
    finally:
        ws.close()
    ws = RawWs(wssb.wss_port, tls_ctx=ca_ctx(certs))
    try:
        ws.send(upgrade_request(path="/nope")[0])
        assert ws.http_response()[0] == 404
        port = ws.sock.getsockname()[1]
        assert wssb.wait_log(r"event=conn_refused peer=127\.0\.0\.1:%d transport=wss stage=handshake "
                             r"reason=\"HTTP 404: no WebSocket endpoint" % port)
    finally:
        ws.close()
    ws = RawWs(wssb.wss_port)
    try:
        ws.send(upgrade_request()[0])
        assert ws.closed()
        port = ws.sock.getsockname()[1]
        assert wssb.wait_log(r"event=conn_refused peer=127\.0\.0\.1:%d transport=wss stage=handshake reason=" % port)
    finally:
        ws.close()


def test_wss_needs_tls():
    """--wss-port without TLS stops the broker at start, naming the option."""
    import subprocess
    from conftest import free_port, roost_binary
    r = subprocess.run([roost_binary(), "--insecure-no-auth", "--bind", "127.0.0.1", "--port", str(free_port()),
                        "--wss-port", str(free_port())], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "--wss-port needs TLS" in r.stderr


def test_authd_acl_and_connections_list(stack, certs):
    """Over ws and wss, as over TCP: a wrong password is refused by authd,
    the group's ACL holds (a denied publish never arrives), and the
    Connections list says which transport each device came over."""
    stack.start_redis()
    stack.start_admin()
    stack.start_authd()
    ws_port, wss_port, tls_port = (stack_port() for _ in range(3))
    b = stack.start_broker(cluster=True, extra=("--ws-port", str(ws_port), "--wss-port", str(wss_port),
                                                 "--tls-port", str(tls_port), "--tls-cert", certs[1][0],
                                                 "--tls-key", certs[1][1]))
    user = "dev-" + uuid.uuid4().hex[:8]
    cl = stack.add_client(user, PW)
    g = stack.add_group("g-" + user, [("allow", "publish", "dev/%u/#"), ("allow", "subscribe", "dev/%u/#")])
    stack.add_rule("client", cl["id"], [g["id"]])

    def dev(kind, cid, password=PW):
        c = (ws_paho(ws_port, client_id=cid) if kind == "ws" else
             ws_paho(wss_port, client_id=cid, tls_ca=certs[0][0]) if kind == "wss" else PahoClient(b.port, client_id=cid))
        c.c.username_pw_set(user, password)
        return c

    bad = dev("ws", uid("bad"), password="wrong-password")
    try:
        bad.connect(expect_rc=4)  # bad user name or password
    finally:
        bad.disconnect()
    devs = {kind: dev(kind, "%s-%s" % (kind, uid())) for kind in ("ws", "wss", "tcp")}
    try:
        for c in devs.values():
            c.connect()
        mine = "dev/%s/t" % user
        devs["wss"].subscribe("dev/%s/#" % user, 1)
        devs["ws"].publish("dev/other/t", b"denied", qos=1)
        devs["ws"].publish(mine, b"allowed", qos=1)
        assert devs["wss"].get().payload == b"allowed"  # in order: the denied one would be first
        conns = wait_for(lambda: (lambda cs: cs if all(c.client_id in cs for c in devs.values()) else None)(
            stack.connections()), 10)
        assert conns, stack.connections()
        for kind, c in devs.items():
            assert conns[c.client_id]["transport"] == kind, conns[c.client_id]
            assert conns[c.client_id]["username"] == user
    finally:
        for c in devs.values():
            c.disconnect()


def stack_port():
    from stack import free_port
    return free_port()
