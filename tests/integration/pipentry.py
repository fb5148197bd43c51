"""The packed pipeline queue entry (lib/store/pipentry.h) for tests and
bench/forwarder.py: encode/decode of the one field "m" a broker writes per
stream entry, and a binary-safe Redis command (the entries hold NULs and
any bytes, which redis-cli's arguments and text output cannot carry).

    command(port, "XADD", key, "*", "m", encode("a/b", b"x", qos=1))
    for eid, fields in xrange(port, key):
        msg = message(fields)     # dict of the message, packed or older layout

Layout (version 1, big-endian): version u8, flags u8 (qos bits 0-1, retain
bit 2), received_ms u64, then topic, client_id, username, broker each as
u16 length + bytes, then the payload (the rest)."""

import socket
import struct

FIELD = b"m"


def encode(topic, payload=b"", qos=0, retain=False, client_id="", username="", broker="", received_ms=0):
    def s(v):
        v = v.encode() if isinstance(v, str) else v
        return struct.pack(">H", len(v)) + v
    payload = payload.encode() if isinstance(payload, str) else payload
    return (struct.pack(">BBQ", 1, qos | (4 if retain else 0), received_ms) + s(topic) + s(client_id) +
            s(username) + s(broker) + payload)


def decode(b):
    """The message in b as a dict (bytes values), or ValueError."""
    if len(b) < 18 or b[0] != 1 or b[1] & ~7 or b[1] & 3 == 3:
        raise ValueError("not a packed entry")
    out = {"qos": b[1] & 3, "retain": bool(b[1] & 4), "received_ms": struct.unpack(">Q", b[2:10])[0]}
    at = 10
    for name in ("topic", "client_id", "username", "broker"):
        if len(b) - at < 2:
            raise ValueError("cut short")
        n = struct.unpack(">H", b[at:at + 2])[0]
        if len(b) - at - 2 < n:
            raise ValueError(name + " past the end")
        out[name] = b[at + 2:at + 2 + n]
        at += 2 + n
    if not out["topic"]:
        raise ValueError("empty topic")
    out["payload"] = b[at:]
    return out


def message(fields):
    """The message of a stream entry's fields ({bytes: bytes}): the packed
    field decoded (a dead-letter entry has eid, reason and attempts besides),
    or the older layout's t p q r c u b ts."""
    if FIELD in fields and b"t" not in fields:
        return decode(fields[FIELD])
    return {"topic": fields.get(b"t"), "payload": fields.get(b"p", b""), "qos": int(fields.get(b"q", b"0")),
            "retain": fields.get(b"r") == b"1", "client_id": fields.get(b"c", b""),
            "username": fields.get(b"u", b""), "broker": fields.get(b"b", b""),
            "received_ms": int(fields.get(b"ts", b"0"))}


def _read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise ValueError("unknown reply " + repr(line))


def command(port, *args, password=None, timeout=10.0):
    """One command over a fresh connection (AUTH first when password); the
    reply as bytes, int, list or None; an error reply raises RuntimeError."""
    def frame(argv):
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        f = s.makefile("rb")
        if password:
            s.sendall(frame(["AUTH", password]))
            _read(f)
        s.sendall(frame(args))
        return _read(f)


def xrange(port, key, password=None):
    """[(entry id str, {field bytes: value bytes})] of the whole stream."""
    out = []
    for eid, flat in command(port, "XRANGE", key, "-", "+", password=password) or []:
        out.append((eid.decode(), dict(zip(flat[0::2], flat[1::2]))))
    return out
