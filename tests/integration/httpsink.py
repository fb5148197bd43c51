"""A real HTTP receiver for the forwarder tests: python's http.server on
127.0.0.1 (a free port), recording every POST (headers and parsed JSON) and
answering with a programmable status: `sink.plan(lambda body: (status,
headers))` decides per request; `sink.down()` closes the listener (connection
refused) until `sink.up()` binds the same port again."""

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with self.server.sink.lock:
            self.server.sink.live.add(self.connection)

    def finish(self):
        with self.server.sink.lock:
            self.server.sink.live.discard(self.connection)
        super().finish()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        sink = self.server.sink
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        status, headers = sink.decide(self.path, body, self.headers)
        with sink.lock:
            sink.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                  "status": status, "t": time.time()})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Sink:
    def __init__(self, port=0, tls=None):
        self.tls = tls  # (certfile, keyfile): serve HTTPS
        self.lock = threading.Lock()
        self.requests = []
        self.live = set()  # open client connections (keep-alive), cut by down()
        self._plan = None
        self.port = port
        self.srv = None
        self.up()

    def up(self):
        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.srv.daemon_threads = True
        self.srv.sink = self
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def down(self):
        self.srv.shutdown()
        self.srv.server_close()
        with self.lock:
            for c in list(self.live):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def url(self, path="/in", host="127.0.0.1"):
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def plan(self, fn):
        self._plan = fn

    def decide(self, path, body, headers):
        if self._plan:
            return self._plan(path, body, headers)
        return 200, {}

    def accepted(self, path=None):
        """Every message (a dict) of 2xx answers, flattening batches, in arrival order."""
        out = []
        with self.lock:
            for r in self.requests:
                if 200 <= r["status"] < 300 and (path is None or r["path"] == path):
                    out += r["body"] if isinstance(r["body"], list) else [r["body"]]
        return out

    def close(self):
        self.down()
