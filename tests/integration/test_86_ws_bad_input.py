"""86: bad input on the WebSocket listener, from raw sockets: each bad
Upgrade request gets its HTTP status, each bad frame a close frame with its
status code, a slow Upgrade is closed at --connect-timeout; every one is
closed with a conn_refused line naming it (peer, transport=ws, stage,
reason), and a ws subscriber connected throughout keeps receiving."""

import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import IS_MOSQUITTO, connect_pkt, uid
from wsclient import RawWs, WsBroker, frame, upgrade_request, ws_paho

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")

ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def wsb():
    b = WsBroker(("--connect-timeout", "2", "--max-packet-size", "1000",
                  "--ws-allowed-origins", ORIGIN + ",http://localhost:8080"))
    yield b
    assert b.stop() == 0


@pytest.fixture(scope="module")
def witness(wsb):
    """A ws subscriber connected through every case of the module."""
    c = ws_paho(wsb.ws_port, headers={"Origin": ORIGIN})
    c.connect()
    topic = "alive/" + uid()
    c.subscribe(topic, 1)
    yield c, topic
    c.disconnect()


def refused_line(wsb, ws, reason):
    port = ws.sock.getsockname()[1]
    pat = r"event=conn_refused peer=127\.0\.0\.1:%d transport=ws stage=\w+ reason=\"[^\"]*%s" % (
        port, re.escape(reason))
    return wsb.wait_log(pat)


def still_serving(wsb, witness):
    c, topic = witness
    subprocess.run(["mosquitto_pub", "-p", str(wsb.port), "-t", topic, "-m", "ok", "-q", "1"],
                   check=True, timeout=10)
    assert c.get().payload == b"ok"


HTTP_CASES = [
    # (name, request bytes, status, reason in the log)
    ("plain_get", b"GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n", 426, "HTTP 426: not a WebSocket upgrade"),
    ("post", upgrade_request()[0].replace(b"GET ", b"POST ", 1), 400, "HTTP 400: not a GET request"),
    ("path", upgrade_request(path="/ws")[0], 404, "HTTP 404: no WebSocket endpoint"),
    ("no_key", upgrade_request(key="")[0], 400, "HTTP 400: no Sec-WebSocket-Key"),
    ("bad_key", upgrade_request(key="c2hvcnQ=")[0], 400, "HTTP 400: Sec-WebSocket-Key is not 16 bytes"),
    ("version_8", upgrade_request(version="8")[0], 426, "HTTP 426: unsupported Sec-WebSocket-Version"),
    ("no_version", upgrade_request(version=None)[0], 400, "HTTP 400: no Sec-WebSocket-Version"),
    ("subprotocol", upgrade_request(protocol="mqtt5, wamp")[0], 400,
     "HTTP 400: unsupported Sec-WebSocket-Protocol"),
    ("no_subprotocol", upgrade_request(protocol=None)[0], 400, "HTTP 400: no Sec-WebSocket-Protocol"),
    ("origin", upgrade_request(origin="https://evil.example.com")[0], 403, "HTTP 403: Origin not allowed"),
    ("mqtt_bytes", connect_pkt("x"), 400, "HTTP 400: malformed request line"),
    # exactly the 8192 bytes the broker reads: more would sit unread and its close would be a reset
    ("huge_head", (b"GET /mqtt HTTP/1.1\r\nX-Pad: " + b"a" * 8192)[:8192], 431, "HTTP 431: request head larger"),
]


@pytest.mark.parametrize("name,req,status,reason", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_bad_upgrade(wsb, witness, name, req, status, reason):
    ws = RawWs(wsb.ws_port)
    try:
        t0 = time.monotonic()
        ws.send(req)
        got, headers, body = ws.http_response()
        assert got == status, body
        assert time.monotonic() - t0 < 1.5, "answered only at --connect-timeout"
        assert headers["connection"] == "close"
        if status == 426:
            assert headers["sec-websocket-version"] == "13"
        assert ws.closed()
        assert refused_line(wsb, ws, reason), wsb.log()[-3000:]
    finally:
        ws.close()
    still_serving(wsb, witness)


def test_allowed_origin_and_none(wsb):
    for origin in (ORIGIN, "http://localhost:8080", None):
        ws = RawWs(wsb.ws_port)
        try:
            ws.upgrade(origin=origin)
        finally:
            ws.close()


FRAME_CASES = [
    # (name, frames after a good Upgrade and CONNECT, close code, reason in the log); each ends
    # where the broker stops reading, so its close is no reset that could drop the close frame
    ("text", frame(0x1, b"\x10\x00"), 1003, "close 1003: text frame"),
    ("unmasked", frame(0x2, b"\xc0\x00", mask=False), 1002, "close 1002: unmasked client frame"),
    ("rsv", frame(0x2, b"\xc0\x00", rsv=4), 1002, "close 1002: reserved bits set"),
    ("opcode", frame(0x3, b""), 1002, "close 1002: unknown opcode"),
    ("lone_continuation", frame(0x0, b"\xc0\x00"), 1002, "close 1002: continuation frame outside"),
    ("message_in_message", frame(0x2, b"\xc0", fin=False) + frame(0x2, b"\x00"), 1002,
     "close 1002: new message inside a fragmented one"),
    ("oversized_frame", frame(0x2, b"x" * 100, length=2_000_000), 1009,
     "close 1009: message larger than --max-packet-size"),
    ("oversized_fragments", b"".join(frame(0x2 if i == 0 else 0x0, b"\xc0\x00" * 200, fin=False)
                                     for i in range(3)), 1009,
     "close 1009: message larger than --max-packet-size"),
    ("fragmented_forever", frame(0x2, b"", fin=False) + frame(0x0, b"", fin=False) * 1024, 1009,
     "close 1009: message in too many frames"),
    ("big_ping", frame(0x9, b"p" * 126), 1002, "close 1002: malformed frame"),
    ("bad_close_code", frame(0x8, struct.pack(">H", 1005)), 1002, "close 1002: invalid close frame"),
]


@pytest.mark.parametrize("name,frames,code,reason", FRAME_CASES, ids=[c[0] for c in FRAME_CASES])
def test_bad_frames(wsb, witness, name, frames, code, reason):
    ws = RawWs(wsb.ws_port)
    try:
        ws.upgrade()
        ws.send(frame(0x2, connect_pkt(uid("bad"))))
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
        ws.send(frames)
        assert ws.read_close()[0] == code
        assert ws.closed()
        assert refused_line(wsb, ws, reason), wsb.log()[-3000:]
    finally:
        ws.close()
    still_serving(wsb, witness)


def test_slow_upgrade(wsb, witness):
    """Half an Upgrade request, then nothing: closed at --connect-timeout (2 s)
    with a line; a socket that sent nothing is closed too, without one."""
    ws = RawWs(wsb.ws_port)
    silent = socket.create_connection(("127.0.0.1", wsb.ws_port))
    try:
        t0 = time.monotonic()
        ws.send(upgrade_request()[0][:40])
        assert ws.closed(timeout=6)
        assert 1.5 < time.monotonic() - t0 < 5
        assert refused_line(wsb, ws, "handshake not finished within --connect-timeout")
        silent.settimeout(5)
        assert silent.recv(100) == b""
        port = silent.getsockname()[1]
        assert not re.search(r"event=conn_refused peer=127\.0\.0\.1:%d " % port, wsb.log())
    finally:
        ws.close()
        silent.close()
    still_serving(wsb, witness)


def test_slow_connect_after_upgrade(wsb):
    """An Upgrade answered but no CONNECT: closed at --connect-timeout like TCP."""
    ws = RawWs(wsb.ws_port)
    try:
        ws.upgrade()
        t0 = time.monotonic()
        assert ws.read_close()[0] == 1000
        assert ws.closed()
        assert 1.5 < time.monotonic() - t0 < 5
    finally:
        ws.close()
