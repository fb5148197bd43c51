"""script/server is secure by default (issue 13): Redis refuses commands
without AUTH and the services' ACL user cannot run dangerous commands; the
cluster bus, authd and admin's RPC and change events complete no ZeroMQ
handshake with a stranger (a plain socket, as an attacker on the host
would open); devices still work end to end (test_58 does the round trips).
Real script/server (ROOST_BUILD=0), real pyzmq sockets with a monitor."""

import os
import re
import socket

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from cluster_stack import read_text
from conftest import wait_until
from test_58_server_supervise import T, round_trip, server  # noqa: F401 (fixture)

pytestmark = pytest.mark.roost_only


def redis_cmd(port, *cmds):
    """Sends each command (a list of str) on one connection; returns each reply's first line."""
    out = []
    with socket.create_connection(("127.0.0.1", port), T) as s:
        f = s.makefile("rb")
        for c in cmds:
            s.sendall(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in c))
            line = f.readline().decode().strip()
            if line.startswith("*") or line.startswith("$"):   # skip a bulk/array body
                for _ in range(max(int(line[1:]), 0) * (2 if line.startswith("*") else 1)):
                    f.readline()
            out.append(line)
    return out


def handshake(endpoint, kind, seconds=2.0, **curve):
    """Connects a socket of `kind` (no key: plain; or curve client options) and
    returns the set of monitor events seen within `seconds`."""
    ctx = zmq.Context.instance()
    s = ctx.socket(kind)
    s.linger = 0
    for k, v in curve.items():
        setattr(s, k, v)
    mon = s.get_monitor_socket()
    s.connect(endpoint)
    seen = set()
    poller = zmq.Poller()
    poller.register(mon, zmq.POLLIN)
    end = seconds * 1000
    while end > 0 and zmq.EVENT_HANDSHAKE_SUCCEEDED not in seen:
        if poller.poll(100):
            seen.add(recv_monitor_message(mon)["event"])
        end -= 100
    s.disable_monitor()
    mon.close(0)
    s.close(0)
    return seen


def test_server_needs_keys_for_redis_bus_authd_and_admin(server):
    s = server
    assert wait_until(lambda: "Roost is running" in s.out() or s.proc.poll() is not None, timeout=90), s.out()
    assert s.proc.poll() is None, s.out()
    keys = os.path.join(s.var, "keys")
    assert os.stat(keys).st_mode & 0o077 == 0o011          # traverse only, for Redis
    assert os.stat(os.path.join(keys, "bus.secret")).st_mode & 0o077 == 0

    # Redis: nothing without AUTH; the services' user has no dangerous commands
    redis = s.ports["REDIS"]
    assert redis_cmd(redis, ["PING"])[0].startswith("-NOAUTH")
    pw = read_text(os.path.join(keys, "redis-roost.password")).strip()
    r = redis_cmd(redis, ["AUTH", "roost", pw], ["PING"], ["CONFIG", "GET", "dir"], ["FLUSHALL"],
                  ["SET", "elsewhere:x", "1"])
    assert r[0] == "+OK" and r[1] == "+PONG", r
    assert all(x.startswith("-NOPERM") for x in r[2:]), r

    # every ZeroMQ port: a plain socket never completes a handshake
    log = read_text(os.path.join(s.var, "log", "broker1.log"))
    m = re.search(r"bus_listening endpoint=(\S+) curve=(\w+)", log)
    assert m and m.group(2) == "on", log
    authd = "tcp://127.0.0.1:%d" % s.ports["AUTHD"]
    rpc = "tcp://127.0.0.1:%d" % s.ports["ADMIN_RPC"]
    pub = "tcp://127.0.0.1:%d" % s.ports["ADMIN_PUB"]
    for ep, kind in ((m.group(1), zmq.SUB), (authd, zmq.DEALER), (rpc, zmq.DEALER), (pub, zmq.SUB)):
        seen = handshake(ep, kind)
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in seen, (ep, seen)
        assert seen & {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                       zmq.EVENT_DISCONNECTED}, (ep, seen)
    # authd: even a CurveZMQ client with the right server key but its own pair
    pub_key, sec_key = zmq.curve_keypair()
    seen = handshake(authd, zmq.DEALER, curve_serverkey=read_text(os.path.join(keys, "authd.public")).strip().encode(),
                     curve_publickey=pub_key, curve_secretkey=sec_key)
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in seen, seen
    assert "curve_client_refused" in read_text(os.path.join(s.var, "log", "authd.log"))

    # and the cluster still serves devices through haproxy
    g = s.api("POST", "/api/v1/groups", {"name": "sec", "description": "",
                                         "acl": [{"permission": "allow", "action": "publish", "topic": "sec/#"},
                                                 {"permission": "allow", "action": "subscribe", "topic": "sec/#"}]})
    s.api("POST", "/api/v1/group-rules", {"match_by": "mqtt_client_id", "value": "sup-*", "groups": [g["id"]]})
    round_trip(s.ports["MQTT"], "sec/ok")
