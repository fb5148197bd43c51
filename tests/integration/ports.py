"""Free TCP ports on 127.0.0.1 for the servers a test starts.

A port the kernel picks for bind(0) lies in its ephemeral range, the range
every outgoing connection takes its local port from: between the moment a
test finds it free and the moment its server binds it, a connection of any
process (a storm of test devices, a broker's link to Redis, a test running
beside it under ctest -j) may take it, and the server fails with "Address
already in use". These ports come from below that range instead, so only
another server can take one, each process starts at its own random point of
the range, and no process hands out a port twice.
"""
import random
import socket
import threading

_LOW = 10000


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_HIGH = max(_LOW + 1000, min(_ephemeral_low(), 65536))
_lock = threading.Lock()
_given = set()
_next = random.randrange(_LOW, _HIGH)


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A port on 127.0.0.1 that was free a moment ago and that this process
    has not handed out before."""
    global _next
    with _lock:
        for _ in range(_HIGH - _LOW):
            port = _next
            _next = _LOW if _next + 1 >= _HIGH else _next + 1
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    raise RuntimeError("no free port in %d-%d" % (_LOW, _HIGH - 1))
