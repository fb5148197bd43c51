"""The packed pipeline queue entries for tests and bench/forwarder.py:
encode/decode of the field "m" (one message, lib/store/pipentry.h) and "b"
(several, lib/store/pipebundle.h) a broker writes per stream entry, and a
binary-safe Redis command (the entries hold NULs and any bytes, which
redis-cli's arguments and text output cannot carry).

    command(port, "XADD", key, "*", "m", encode("a/b", b"x", qos=1))
    command(port, "XADD", key, "*", "b", bundle([encode(...), encode(...)]))
    for eid, fields in xrange(port, key):
        msgs = messages(fields)   # [dict of each message], any layout

Layout (version 1, big-endian): version u8, flags u8 (qos bits 0-1, retain
bit 2), received_ms u64, then topic, client_id, username, broker each as
u16 length + bytes, then the payload (the rest)."""

import socket
import struct

FIELD = b"m"
BUNDLE = b"b"


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


def bundle(members, count=None):
    """A "b" field of the packed members (bytes each): version 1, u16
    count (given to make a bad one), then u32 length + bytes per member."""
    return struct.pack(">BH", 1, len(members) if count is None else count) + b"".join(
        struct.pack(">I", len(m)) + m for m in members)


def unbundle(b):
    """The members (bytes) of a "b" field, or ValueError."""
    if len(b) < 3 or b[0] != 1:
        raise ValueError("not a bundle")
    n, at, out = struct.unpack(">H", b[1:3])[0], 3, []
    for _ in range(n):
        if len(b) - at < 4 or len(b) - at - 4 < struct.unpack(">I", b[at:at + 4])[0]:
            raise ValueError("member past the end")
        ln = struct.unpack(">I", b[at:at + 4])[0]
        out.append(b[at + 4:at + 4 + ln])
        at += 4 + ln
    if at != len(b) or not out:
        raise ValueError("bytes left over or no member")
    return out


def messages(fields):
    """The messages of a stream entry's fields: a bundle's members decoded,
    else [message(fields)]."""
    if BUNDLE in fields and len(fields) == 1:
        return [decode(m) for m in unbundle(fields[BUNDLE])]
    return [message(fields)]


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
