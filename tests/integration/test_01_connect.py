"""01 connect: CONNECT / CONNACK return codes, session present, PING, DISCONNECT,
and the roost-broker process contract (CLI, signals, logs)."""

import os
import re
import socket
import subprocess
import time

import pytest

from conftest import (DISCONNECT, ack_pkt, IS_MOSQUITTO, PINGREQ, PINGRESP, Broker, RawClient,
                      assert_closed_by_broker, check_healthy, connect_pkt, roost_binary,
                      stop_process, uid, wait_until)


def test_connect_accepted_clean_session_present_0(raw):
    """[MQTT-3.2.0-1] CONNACK is the first packet; [MQTT-3.2.2-1] session present
    is 0 with clean session 1; return code 0."""
    c = raw()
    c.send(connect_pkt(uid(), clean=True))
    c.expect_bytes("20 02 00 00")
    c.ping()


def test_unacceptable_protocol_level_connack_1_then_close(raw):
    """[MQTT-3.1.2-2] unsupported level: CONNACK return code 1, then close."""
    for level in (6, 2):
        c = raw()
        c.send(connect_pkt(uid(), proto_level=level))
        c.expect_bytes("20 02 00 01")
        assert_closed_by_broker(c)


def test_empty_client_id_with_persistent_session_rejected_rc_2(raw):
    """[MQTT-3.1.3-8] zero-length client id with clean session 0: CONNACK 2, close."""
    c = raw()
    c.send(connect_pkt("", clean=False))
    c.expect_bytes("20 02 00 02")
    assert_closed_by_broker(c)


def test_empty_client_id_clean_session_gets_unique_assigned_id(raw):
    """[MQTT-3.1.3-6] zero-length id + clean session 1 is accepted and the
    server assigns a unique id [MQTT-3.1.3-7]: two such clients coexist
    (neither takes the other over) and both get their messages."""
    a, b = raw(), raw()
    for c in (a, b):
        c.send(connect_pkt("", clean=True))
        c.expect_bytes("20 02 00 00")
    ta, tb = uid("a"), uid("b")
    assert a.subscribe([(ta, 1)]) == [1]
    assert b.subscribe([(tb, 1)]) == [1]
    a.publish(tb, b"to-b", qos=1, pid=3)
    pb = b.expect("PUBLISH")
    b.send(ack_pkt("PUBACK", pb.pid))
    b.publish(ta, b"to-a", qos=1, pid=4)
    pa = a.expect("PUBLISH")
    assert (pa.topic, pa.payload) == (ta, b"to-a")
    assert (pb.topic, pb.payload) == (tb, b"to-b")


def test_session_present_flag_for_persistent_session(raw):
    """[MQTT-3.2.2-3] first persistent connect: session present 0;
    [MQTT-3.2.2-2] resuming it: session present 1; [MQTT-3.2.2-1] a clean
    session connect for the same id: session present 0."""
    cid = uid("sp")
    c = raw()
    assert c.connect(cid, clean=False) == 0
    c.subscribe([(uid("sp-t"), 1)])
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c = raw()
    assert c.connect(cid, clean=False) == 1
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    c = raw()
    c.send(connect_pkt(cid, clean=True))
    c.expect_bytes("20 02 00 00")
    c.send(DISCONNECT)


def test_username_password_accepted_without_auth(raw):
    """With --insecure-no-auth any credentials are accepted."""
    c = raw()
    c.send(connect_pkt(uid(), username="someone", password="whatever"))
    c.expect_bytes("20 02 00 00")


def test_client_id_23_chars_accepted(raw):
    """[MQTT-3.1.3-5] 1..23 bytes of [0-9a-zA-Z] MUST be allowed."""
    c = raw()
    c.send(connect_pkt("aZ09" * 5 + "xyz"))
    c.expect_bytes("20 02 00 00")


def test_pingreq_pingresp(raw):
    """[MQTT-3.12.4-1] the server answers PINGREQ with PINGRESP."""
    c = raw()
    c.connect()
    for _ in range(3):
        c.send(PINGREQ)
        c.expect_bytes(PINGRESP)


def test_disconnect_closes_connection(raw):
    """[MQTT-3.14.4-1] after DISCONNECT nothing more is sent; the server closes."""
    c = raw()
    c.connect()
    c.send(DISCONNECT)
    assert_closed_by_broker(c)
    check_healthy(c.port)


def test_sigterm_closes_connections_and_exits_0(broker_factory):
    """SIGTERM: stop accepting, close connections, exit 0."""
    b = broker_factory()
    c = RawClient(b.port)
    c.connect()
    rc = b.stop(timeout=10)
    assert rc == 0, b.log()
    assert_closed_by_broker(c, timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", b.port), timeout=1).close()


@pytest.mark.roost_only
def test_help_lists_every_option():
    exe = roost_binary()
    if not os.access(exe, os.X_OK):
        pytest.skip("roost-broker not built")
    r = subprocess.run([exe, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0
    text = (r.stdout + r.stderr).decode()
    for opt in ("--bind", "--port", "--insecure-no-auth", "--max-packet-size", "--max-inflight",
                "--max-queued", "--max-connections", "--connect-timeout", "--log-level", "--help"):
        assert opt in text, "--help does not mention %s:\n%s" % (opt, text)


@pytest.mark.roost_only
def test_listening_log_line_and_insecure_warning(broker):
    """One info line names the bound address and port; --insecure-no-auth is
    announced by exactly one warn line saying what it means (both matched
    whole, timestamp aside)."""
    listening = re.compile(r"\S+ level=info svc=broker event=listening broker_id=\S+ bind=127\.0\.0\.1 "
                           r"port=%d" % broker.port)
    assert wait_until(lambda: [l for l in broker.log().splitlines() if listening.fullmatch(l)], 5), broker.log()
    lines = [l for l in broker.log().splitlines() if "event=insecure_no_auth" in l]
    assert len(lines) == 1, "insecure_no_auth lines:\n" + broker.log()
    assert re.fullmatch(r'\S+ level=warn svc=broker event=insecure_no_auth detail="every CONNECT is accepted '
                        r'without authd; development only"', lines[0]), lines[0]


@pytest.mark.roost_only
def test_env_vars_configure_the_broker(tmpdir_path):
    """Every flag has an env var ROOST_<NAME>: start with env only."""
    exe = roost_binary()
    if not os.access(exe, os.X_OK):
        pytest.skip("roost-broker not built")
    from conftest import free_port
    port = free_port()
    env = dict(os.environ, ROOST_BIND="127.0.0.1", ROOST_PORT=str(port),
               ROOST_INSECURE_NO_AUTH="1", ROOST_MAX_PACKET_SIZE="1024")
    log = open(os.path.join(tmpdir_path, "env.log"), "wb")
    p = subprocess.Popen([exe], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return p.poll() is not None and "exited"
        assert wait_until(up, 10) is True, open(log.name, "rb").read()
        c = RawClient(port)
        c.connect()
        # ROOST_MAX_PACKET_SIZE=1024 applies: an oversized packet is refused
        from conftest import publish_pkt
        c.send(publish_pkt("big", b"x" * 4000))
        assert_closed_by_broker(c)
        c.close()
    finally:
        assert stop_process(p) == 0
        log.close()
