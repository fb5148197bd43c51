"""bench/benchlib.py: what the Python bench scripts share, one copy each:
loopback ports (free_port, wait_port), stopping a process by PID (stop),
percentiles (pct), and a raw MQTT 3.1.1 client on a plain socket (packet
builders, a packet reader, CONNECT with its CONNACK checked): no thread
and no library per connection, so a script can hold thousands.

A script in bench/ imports it by name (Python puts the script's own
directory first on sys.path); standard library only."""

import signal
import socket
import struct
import subprocess
import time

HOST = "127.0.0.1"
MOSQUITTO = "/usr/sbin/mosquitto"  # Debian's package, the broker compared with


# ------------------------------------------------------------ processes

def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15.0):
    """True once something accepts on 127.0.0.1:port; False when proc (a
    Popen) exits first or nothing listens within timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc, timeout=10):
    """Stops proc (a Popen; None: nothing) by its PID: SIGTERM, SIGKILL
    after timeout s; waits for it and returns its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def pct(xs, p):
    """The p-th percentile of xs (nearest rank on the sorted values)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# ------------------------------------------------------------ MQTT 3.1.1

def remlen(n):
    """The Remaining Length encoding of n (1 to 4 bytes)."""
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def packet(first, body):
    """A packet: its first byte (type and flags), then body."""
    return bytes([first]) + remlen(len(body)) + body


def mstr(x):
    """A length-prefixed MQTT string (str is UTF-8 encoded)."""
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("!H", len(x)) + x


def connect_packet(cid, clean=True, keepalive=60):
    return packet(0x10, mstr("MQTT") + bytes([4, 2 if clean else 0]) + struct.pack("!H", keepalive) + mstr(cid))


def publish0(topic, payload, retain=False):
    """A QoS 0 PUBLISH."""
    return packet(0x31 if retain else 0x30, mstr(topic) + payload)


def subscribe_packet(pid, topic, qos=0):
    """A SUBSCRIBE of one filter."""
    return packet(0x82, struct.pack("!H", pid) + mstr(topic) + bytes([qos]))


def recv_exact(s, n):
    """Exactly n bytes from s; ConnectionError if the peer closes first."""
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise ConnectionError("connection closed by the broker")
        buf += c
    return buf


def read_packet(s):
    """The next packet from s: (first byte, body)."""
    first = recv_exact(s, 1)[0]
    mult, n = 1, 0
    while True:
        d = recv_exact(s, 1)[0]
        n += (d & 127) * mult
        mult *= 128
        if not d & 128:
            return first, recv_exact(s, n)


def connack(s):
    """Reads a CONNACK from s; RuntimeError unless it accepts."""
    first, body = read_packet(s)
    if first != 0x20 or len(body) != 2 or body[1] != 0:
        raise RuntimeError("CONNACK expected, got %#x %r" % (first, body))
    return body


def mqtt_connect(port, cid, clean=True, timeout=10.0):
    """A socket to 127.0.0.1:port (TCP_NODELAY, `timeout` s on reads) with
    CONNECT sent and its CONNACK read; RuntimeError if refused."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(connect_packet(cid, clean))
    connack(s)
    return s


def subscribe(s, pid, topic, qos=0):
    """SUBSCRIBEs s to topic and reads its SUBACK; RuntimeError if refused
    (any packet before the SUBACK is a protocol error here)."""
    s.sendall(subscribe_packet(pid, topic, qos))
    first, body = read_packet(s)
    if first != 0x90 or len(body) != 3 or body[2] > 2:
        raise RuntimeError("SUBACK expected, got %#x %r" % (first, body))
