"""MQTT 5.0 access decisions and server-sent DISCONNECTs across the whole
stack (issue 15): redis-server, roost-admin, roost-authd and clustered
roost-brokers. CONNACK 0x86 / 0x87 / 0x88 / 0x8C, DISCONNECT 0x98 (admin
kick), 0x8E (takeover from another broker), 0x8B (SIGTERM), and the
Connections list showing the protocol level. Normative statements of MQTT
5.0 are cited as [MQTT-x.x.x-y]."""

import os
import signal
import socket

import pytest

from conftest import assert_closed_by_broker, uid
from mqtt5 import REASON_STRING, Raw5, connack5, connect5_pkt, disconnect5_pkt
from stack import AUTHD_BIN, BROKER_BIN, stack, wait_for  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

PW = "password-123"
T = 10.0


def refused5(port, want, **kw):
    """A level-5 CONNECT refused with CONNACK `want`, then closed
    [MQTT-3.2.2-7]; returns the CONNACK properties."""
    with Raw5(port, T) as c:
        c.send(connect5_pkt(kw.pop("client_id", uid("r5")), **kw))
        sp, rc, pr = connack5(c.expect("CONNACK", T))
        assert (sp, rc) == (0, want), pr
        assert_closed_by_broker(c, T)
        return pr


def connected5(port, client_id, username, password=PW, **kw):
    c = Raw5(port, T)
    c.connect5(client_id, username=username, password=password.encode(), **kw)
    return c


def full_stack(stack, brokers=1):
    stack.start_redis()
    stack.start_admin()
    a = stack.start_authd(changes=True)
    bs = [stack.start_broker("b%d" % (i + 1), authd=a, cluster=True, admin_events=True)
          for i in range(brokers)]
    cl = stack.add_client("dev5", PW)
    g = stack.add_group("g5", [("allow", "subscribe", "v5/#"), ("allow", "publish", "v5/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    return a, bs


def test_connack_reason_codes_and_connections_list(stack):
    """0x86 Bad User Name or Password (wrong password, unknown user), 0x87
    Not authorized (anonymous refused by default), 0x8C for an
    Authentication Method (decided before authd is asked) [MQTT-4.12.0-1];
    an accepted 5.0 device is listed with protocol 5 beside a 3.1.1 one."""
    a, (b,) = full_stack(stack)
    pr = refused5(b.port, 0x86, username="dev5", password=b"wrong-password")
    assert pr.get(REASON_STRING) == "bad username or password"
    refused5(b.port, 0x86, username="nobody", password=PW.encode())
    refused5(b.port, 0x87)
    refused5(b.port, 0x8C, username="dev5", password=PW.encode(),
             properties=b"\x0e\x15\x00\x0bSCRAM-SHA-1")
    c = connected5(b.port, "list-v5", "dev5")
    c.ping()
    conns = wait_for(lambda: (lambda x: x if "list-v5" in x else None)(stack.connections()), T, 0.1)
    assert conns and conns["list-v5"]["protocol"] == "5.0", conns
    c.send(disconnect5_pkt())
    c.close()
    assert "wrong-password" not in b.log() + a.log()


def test_connack_0x88_when_authd_is_down(stack):
    """No authd answer within the deadline: CONNACK 0x88 Server unavailable
    (DESIGN "CONNECT")."""
    stack.start_redis()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: an authd that is not there
    try:
        class Stub:
            endpoint = "tcp://127.0.0.1:%d" % dead.getsockname()[1]
        b = stack.start_broker(authd=Stub(), auth_timeout_ms=500)
        pr = refused5(b.port, 0x88, username="dev5", password=PW.encode())
        assert pr.get(REASON_STRING)
    finally:
        dead.close()


def test_admin_kick_sends_0x98(stack):
    """The admin kick closes a 5.0 device with DISCONNECT 0x98
    (Administrative action) [MQTT-4.13.2-1 style: a reason before the close]."""
    a, (b,) = full_stack(stack)
    c = connected5(b.port, "kick-v5", "dev5")
    assert wait_for(lambda: "kick-v5" in stack.connections(), T, 0.1)
    status, doc = stack.api("DELETE", "/api/v1/connections/kick-v5")
    assert status == 202, doc
    c.expect_disconnect(0x98, T)
    c.close()


def test_takeover_from_another_broker_sends_0x8e(stack):
    """A CONNECT on broker 2 for a client id connected on broker 1: broker 1
    sends its 5.0 device DISCONNECT 0x8E (Session taken over) and closes it
    [MQTT-3.1.4-3]; the new connection goes on."""
    a, (b1, b2) = full_stack(stack, brokers=2)
    # the bus mesh is up once each broker logged the other joining
    assert wait_for(lambda: "event=peer_joined peer=b2" in b1.log()
                    and "event=peer_joined peer=b1" in b2.log(), T, 0.05)
    old = connected5(b1.port, "roam-v5", "dev5")
    new = connected5(b2.port, "roam-v5", "dev5")
    old.expect_disconnect(0x8E, T)
    new.ping()
    old.close()
    new.close()


def test_sigterm_sends_0x8b(stack):
    """SIGTERM: the broker drains and closes its 5.0 devices with DISCONNECT
    0x8B (Server shutting down)."""
    a, (b,) = full_stack(stack)
    c = connected5(b.port, "drain-v5", "dev5")
    c.ping()
    b.proc.send_signal(signal.SIGTERM)
    c.expect_disconnect(0x8B, T)
    c.close()
    assert b.proc.wait(T) == 0
