"""43 admin with CurveZMQ (--curve-secret / ROOST_ADMIN_CURVE_SECRET): the
RPC and the change-event PUB are encrypted. roostctl with admin's public key
(ROOST_ADMIN_CURVE_PUBLIC) works, and without it gets no answer (exit 5);
authd and the broker subscribe with the key, so a credential change still
reaches authd and a kick still reaches the broker; a plain subscriber to the
PUB reads nothing. Operator tokens travel in the RPC, so without this anyone
on the path could read them."""

import os
import subprocess

import pytest
import zmq

from conftest import RawClient, assert_closed_by_broker, connect_pkt
from stack import ADMIN_BIN, ROOSTCTL_BIN, TOKEN, AUTHD_BIN, BROKER_BIN, free_port, stack, wait_for  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

PW = "device-pw-43"


def ctl(stack, *args, key=True, timeout_ms=15000):
    env = dict(os.environ)
    env.pop("ROOST_ADMIN_CURVE_PUBLIC", None)
    if key:
        env["ROOST_ADMIN_CURVE_PUBLIC"] = stack.admin_public
    p = subprocess.run([ROOSTCTL_BIN, "--admin", stack.admin.rpc, "--token", TOKEN, "--timeout-ms",
                        str(timeout_ms), "--json"] + list(args), capture_output=True, text=True, env=env,
                       timeout=timeout_ms / 1000 + 10)
    return p.returncode, p.stdout, p.stderr


def connect(port, cid, user):
    c = RawClient(port)
    c.send(connect_pkt(cid, username=user, password=PW.encode()))
    return c, c.expect("CONNACK").body[1]


@pytest.fixture
def curve_stack(stack):
    pub, sec = zmq.curve_keypair()
    stack.admin_public = pub.decode()
    stack.env_extra["ROOST_ADMIN_CURVE_SECRET"] = sec.decode()   # admin
    stack.env_extra["ROOST_ADMIN_CURVE_PUBLIC"] = pub.decode()   # authd, broker
    stack.start_redis()
    stack.start_admin()
    return stack


def test_roostctl_needs_the_key(curve_stack):
    st = curve_stack
    rc, out, err = ctl(st, "clients", "create", "--name", "c43", "--username", "u43", "--password", PW)
    assert rc == 0, err
    rc, out, err = ctl(st, "clients", "list")
    assert rc == 0 and "u43" in out, err
    rc, out, err = ctl(st, "clients", "list", key=False, timeout_ms=1500)
    assert rc == 5, (rc, out, err)  # a plain DEALER cannot talk to a CURVE ROUTER
    rc, out, err = ctl(st, "--admin-key", "not-a-key", "clients", "list")
    assert rc == 1 and "--admin-key" in err


def test_events_reach_authd_and_broker_but_not_outsiders(curve_stack):
    st = curve_stack
    a = st.start_authd(changes=True)
    b = st.start_broker("cb1", authd=a, cluster=True, admin_events=True)
    assert "curve=on" in b.log()
    spy = zmq.Context.instance().socket(zmq.SUB)
    spy.setsockopt(zmq.LINGER, 0)
    spy.setsockopt(zmq.SUBSCRIBE, b"")
    spy.connect(st.admin.pub)
    cl = st.add_client("dev43", PW)
    g = st.add_group("g43", [("allow", "subscribe", "k/#")])
    st.add_rule("client", cl["id"], [g["id"]])
    dev, rc = connect(b.port, "dev43-a", "dev43")
    assert rc == 0
    # authd learns of the password change by event (its cache would accept
    # the old password otherwise)
    st.edit_client(cl["id"], password="new-pw-43")
    assert wait_for(lambda: connect(b.port, "dev43-b", "dev43")[1] == 4, 10.0, 0.2), \
        "authd still accepts the old password: the change event did not arrive"
    # the broker gets the kick by event
    assert wait_for(lambda: "dev43-a" in st.connections(), 10.0, 0.1)
    status, doc = st.api("DELETE", "/api/v1/connections/dev43-a")
    assert status == 202, doc
    assert_closed_by_broker(dev, 10.0)
    # the plain subscriber read none of those events
    assert spy.poll(300) == 0, "a plain SUB read admin's events: %r" % spy.recv()[:60]
    spy.close()


@pytest.mark.parametrize("argv, flag, event", [
    ([ADMIN_BIN, "--redis", "127.0.0.1:1", "--http-port", "0", "--curve-secret", "bogus"],
     "--curve-secret", "event=curve_failed"),
    ([BROKER_BIN, "--insecure-no-auth", "--bind", "127.0.0.1", "--port", "0", "--redis", "127.0.0.1:1",
      "--admin-events", "tcp://127.0.0.1:1", "--admin-events-server-key", "bogus"],
     "--admin-events-server-key", "event=admin_events_failed"),
    ([BROKER_BIN, "--insecure-no-auth", "--bind", "127.0.0.1", "--port", "0", "--redis", "127.0.0.1:1",
      "--bus-curve-secret", "bogus"],
     "--bus-curve-secret", "event=bus_curve_key_invalid"),
])
def test_a_bad_key_stops_the_service_with_its_name(argv, flag, event, tmp_path):
    """A key that is not 40 Z85 characters (nor a file holding them) is a
    configuration error: exit 1 and a log line naming the option."""
    argv = [a if a != "0" else str(free_port()) for a in argv]
    if argv[0] == ADMIN_BIN:
        argv += ["--rpc-bind", "tcp://127.0.0.1:%d" % free_port(), "--pub-bind",
                 "tcp://127.0.0.1:%d" % free_port(), "--token-file", str(tmp_path / "token")]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    assert p.returncode == 1, (p.returncode, p.stderr[-500:])
    line = [ln for ln in p.stderr.splitlines() if event in ln]
    assert line and flag in line[0], p.stderr[-500:]
