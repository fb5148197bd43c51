"""65: a clustered broker terminated while a durable write is still in
flight (Redis stopped with SIGSTOP: the link is up, nothing answers) exits
cleanly. The write fails as the store is destroyed, and its completion must
not reach routing state already freed: a will whose write was pending went
on to the retained store after route_fini (NULL topictree, SIGSEGV)."""

import signal
import socket
import struct

from stack import stack, wait_for  # noqa: F401  (stack: fixture)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_with_will(port, client_id, topic, payload):
    """A 3.1.1 CONNECT with a retained QoS 1 will; returns the socket once CONNACK 0 came."""
    flags = 0x02 | 0x04 | (1 << 3) | 0x20  # clean session, will, will QoS 1, will retain
    body = utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 60) + utf8(client_id) + utf8(topic) + \
        struct.pack("!H", len(payload)) + payload
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    return s


def test_sigterm_with_a_will_write_pending_exits_cleanly(stack):
    stack.start_redis()
    b = stack.start_broker(cluster=True, insecure=True)
    dev = connect_with_will(b.port, "willer", "w/t", b"bye")
    redis = stack.redis.proc
    redis.send_signal(signal.SIGSTOP)
    try:
        dev.close()  # no DISCONNECT: the will goes, its retained write waits on Redis
        assert wait_for(lambda: "client_id=willer reason=peer_closed" in b.log())
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(20)
    finally:
        redis.send_signal(signal.SIGCONT)
    log = b.log()
    assert "op=will" in log, log[-3000:]  # the pending write did fail at exit
    assert rc == 0 and "runtime error" not in log and "AddressSanitizer" not in log, log[-3000:]

