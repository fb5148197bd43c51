"""MQTT over WebSockets helpers for tests 85-87: a broker with --ws-port (and
--wss-port), paho-mqtt with transport="websockets", and a raw WebSocket
client written here from RFC 6455 (so a test can send what no library would:
unmasked or text frames, bad opcodes, endless fragments, a slow Upgrade)."""

import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile

from conftest import PahoClient, T, free_port, mqtt, roost_binary, stop_process, wait_until

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsBroker:
    """roost-broker --insecure-no-auth with a plain port, --ws-port and, given
    certs (crt, key), --wss-port with --tls-port."""

    def __init__(self, extra=(), tls=None):
        self.port, self.ws_port = free_port(), free_port()
        self.tls_port = self.wss_port = None
        self.dir = tempfile.mkdtemp(prefix="ws-")
        self.log_path = os.path.join(self.dir, "broker.log")
        argv = [roost_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--insecure-no-auth",
                "--ws-port", str(self.ws_port), "--log-level", "debug"]
        if tls:
            self.tls_port, self.wss_port = free_port(), free_port()
            argv += ["--tls-port", str(self.tls_port), "--tls-cert", tls[0], "--tls-key", tls[1],
                     "--wss-port", str(self.wss_port)]
        argv += list(extra)
        with open(self.log_path, "wb") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=f, stdin=subprocess.DEVNULL)
        assert wait_until(lambda: "event=listening " in self.log() or self.proc.poll() is not None, 10)
        assert self.proc.poll() is None, self.log()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=T):
        return wait_until(lambda: re.search(pattern, self.log()), timeout)

    def stop(self):
        code = stop_process(self.proc)
        if not os.environ.get("ROOST_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return code


def ws_paho(port, path="/mqtt", tls_ca=None, headers=None, **kw):
    """A PahoClient (conftest) whose paho client speaks MQTT over WebSockets
    (paho sends Origin: https://HOST:PORT unless headers say otherwise)."""
    pc = PahoClient(port, **kw)
    old = pc.c
    pc.c = mqtt.Client(client_id=pc.client_id, clean_session=old._clean_session, protocol=mqtt.MQTTv311,
                       transport="websockets")
    pc.c.ws_set_options(path=path, headers=headers)
    if old._will:
        pc.c._will, pc.c._will_topic, pc.c._will_payload = True, old._will_topic, old._will_payload
        pc.c._will_qos, pc.c._will_retain = old._will_qos, old._will_retain
    for cb in ("on_connect", "on_disconnect", "on_message", "on_subscribe", "on_unsubscribe"):
        setattr(pc.c, cb, getattr(old, cb))
    if tls_ca:
        pc.c.tls_set(ca_certs=tls_ca)
        pc.c.on_socket_register_write = lambda *a: None  # writes from the loop thread only (test_26)
    return pc


def upgrade_request(path="/mqtt", host="127.0.0.1", key=None, version="13", protocol="mqtt",
                    origin=None, extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Upgrade: websocket", "Connection: Upgrade"]
    if key != "":
        lines.append("Sec-WebSocket-Key: %s" % key)
    if version is not None:
        lines.append("Sec-WebSocket-Version: %s" % version)
    if protocol is not None:
        lines.append("Sec-WebSocket-Protocol: %s" % protocol)
    if origin is not None:
        lines.append("Origin: %s" % origin)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One client frame; length overrides the announced payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawWs:
    """A WebSocket client on a plain (or TLS) socket, frame by frame."""

    def __init__(self, port, tls_ctx=None, timeout=T):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = tls_ctx.wrap_socket(s, server_hostname="localhost") if tls_ctx else s
        self.buf = b""
        self.mbuf = b""  # MQTT bytes of frames read but not yet asked for

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed by the broker")
        self.buf += chunk

    def http_response(self):
        """(status, headers dict lower-case, body) of the broker's answer."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        n = int(headers.get("content-length", 0))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def upgrade(self, **kw):
        req, key = upgrade_request(**kw)
        self.send(req)
        status, headers, body = self.http_response()
        assert status == 101, (status, body)
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert headers["sec-websocket-accept"] == want
        return headers

    def read_frame(self):
        """(fin, opcode, payload) of the next server frame (never masked)."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a server frame is masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        while len(self.buf) < off + n:
            self._fill()
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def read_mqtt(self, n):
        """n bytes of the MQTT stream, across binary frames however the
        broker framed them."""
        while len(self.mbuf) < n:
            fin, op, payload = self.read_frame()
            assert op in (0x2, 0x0), "frame opcode %d" % op
            self.mbuf += payload
        out, self.mbuf = self.mbuf[:n], self.mbuf[n:]
        return out

    def read_close(self):
        """The close frame's (code, reason), skipping data frames before it."""
        while True:
            fin, op, payload = self.read_frame()
            if op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace")

    def closed(self, timeout=T):
        """True once the broker closed the TCP connection (EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
