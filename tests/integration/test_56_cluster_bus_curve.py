"""56 cluster bus with CurveZMQ (--bus-curve-secret): brokers holding the
cluster's key mesh and carry traffic as on a plain bus; a plain ZeroMQ
socket, or a CURVE client with any other key, that connects to a broker's
bus endpoint gets nothing (the broker logs curve_client_refused service=bus), and a broker
started with another key is no member: nothing crosses to or from it.
Without the key anyone who can reach the bus port could read every message
crossing the cluster. Issue 5; DESIGN.md "Clustering"."""

import os
import tempfile
import time

import pytest
import zmq

from cluster_stack import Cluster, paho_clients, running, warm_up
from conftest import barrier, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0


def key_file(secret):
    """The key in a file (the broker reads a spec that is a path), so it
    appears in no command line and no log."""
    fd, path = tempfile.mkstemp(prefix="bus-key-")
    os.write(fd, b"# cluster bus key\n" + secret.encode() + b"\n")
    os.close(fd)
    return path


@pytest.fixture(scope="module")
def keys():
    pub, sec = zmq.curve_keypair()
    return pub.decode(), sec.decode()


@pytest.fixture(scope="module")
def cl(keys):
    path = key_file(keys[1])
    c = Cluster(broker_args=("--bus-curve-secret", path))
    try:
        with running(c):
            yield c
    finally:
        os.unlink(path)


@pytest.fixture
def clients(cl):
    with paho_clients(T) as make:
        yield make


def endpoint_of(cl, bid):
    return cl.registry()[bid].split("\t")[0]


def test_members_carry_traffic_encrypted(cl, clients, keys):
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    assert "curve=on" in b1.log() and "curve=on" in b2.log()
    assert keys[1] not in b1.log(), "the secret key was logged"
    root = uid("cz")
    sub = clients(b2)
    assert sub.subscribe("%s/#" % root, 1, timeout=T) == [1]
    pub = clients(b1)
    warm_up(pub, [sub], "%s/w" % root, 0)
    for i in range(20):
        pub.publish("%s/a" % root, b"enc-%d" % i, qos=i % 2, timeout=T)
    got = [m.payload for m in barrier(sub, pub, "%s/z" % root, timeout=T) if m.payload.startswith(b"enc-")]
    assert got == [b"enc-%d" % i for i in range(20)]


def eavesdrop(endpoint, curve_server_key=None):
    """A SUB on a broker's bus endpoint, subscribed to everything; with a
    server key it is a CURVE client holding a key pair of its own."""
    s = zmq.Context.instance().socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    if curve_server_key:
        pub, sec = zmq.curve_keypair()
        s.curve_serverkey = curve_server_key.encode()
        s.curve_publickey = pub
        s.curve_secretkey = sec
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    return s


def test_outsiders_read_nothing(cl, clients, keys):
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    root = uid("spy")
    sub = clients(b2)
    assert sub.subscribe("%s/#" % root, 0, timeout=T) == [0]
    pub = clients(b1)
    warm_up(pub, [sub], "%s/w" % root, 0)
    mark = len(b1.log())
    plain = eavesdrop(endpoint_of(cl, "b1"))
    other_key = eavesdrop(endpoint_of(cl, "b1"), curve_server_key=keys[0])
    time.sleep(0.5)  # their handshakes are over (or refused) before the traffic
    for i in range(30):
        pub.publish("%s/x" % root, b"secret-%d" % i, qos=0)
    got = [m.payload for m in barrier(sub, pub, "%s/z" % root, timeout=T) if m.payload.startswith(b"secret-")]
    assert len(got) == 30, "members still get the traffic"
    for s in (plain, other_key):
        assert s.poll(300) == 0, "an outsider read from the bus: %r" % s.recv()[:60]
        s.close()
    assert wait_until(lambda: "event=curve_client_refused service=bus" in b1.log()[mark:], timeout=T), \
        "the CURVE client with another key was not refused by the ZAP handler"


def test_broker_with_another_key_is_no_member(cl, clients):
    pub3, sec3 = zmq.curve_keypair()
    saved = cl.broker_args
    path3 = key_file(sec3.decode())
    cl.broker_args = ["--bus-curve-secret", path3]
    try:
        b3 = cl.start_broker("b3")
    finally:
        cl.broker_args = saved
        os.unlink(path3)
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    root = uid("nm")
    on_b3 = clients(b3)
    assert on_b3.subscribe("%s/#" % root, 0, timeout=T) == [0]
    on_b2 = clients(b2)
    assert on_b2.subscribe("%s/#" % root, 0, timeout=T) == [0]
    pub1 = clients(b1)
    warm_up(pub1, [on_b2], "%s/w" % root, 0)
    pub3 = clients(b3)
    for i in range(10):
        pub1.publish("%s/from1" % root, b"m1-%d" % i, qos=1, timeout=T)
        pub3.publish("%s/from3" % root, b"m3-%d" % i, qos=1, timeout=T)
    # b2 got b1's and none of b3's; b3's subscriber got only its own broker's
    got2 = [m.payload for m in barrier(on_b2, pub1, "%s/z" % root, timeout=T)]
    assert [p for p in got2 if p.startswith(b"m1-")] == [b"m1-%d" % i for i in range(10)]
    assert not [p for p in got2 if p.startswith(b"m3-")], "a non-member's messages crossed"
    got3 = [m.payload for m in barrier(on_b3, pub3, "%s/z" % root, timeout=T)]
    assert [p for p in got3 if p.startswith(b"m3-")] == [b"m3-%d" % i for i in range(10)]
    assert not [p for p in got3 if p.startswith(b"m1-")], "a non-member received cluster traffic"
    b3.term()
