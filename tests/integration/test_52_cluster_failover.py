"""52 cluster failover: kill -9 of a broker. Its registry entry goes within a
few seconds; its persistent QoS 1 subscribers reconnect through haproxy to
the survivor and get every message published meanwhile (sequence numbers),
duplicates only flagged DUP. DESIGN.md "Clustering", issue 5."""

import threading
import time

import pytest

from cluster_stack import Cluster, check_sequence, seq_payload
from conftest import PahoClient, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0


@pytest.fixture
def cl(request):
    c = Cluster()
    try:
        c.start_redis()
        yield c
        assert not c.sanitizer_reports(), "\n".join(c.sanitizer_reports())
    except BaseException:
        print(c.logs())
        raise
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(c.logs())
        c.close()


def test_dead_broker_leaves_membership_within_seconds(cl):
    b1, b2, b3 = cl.start_broker("b1"), cl.start_broker("b2"), cl.start_broker("b3")
    cl.wait_mesh()
    assert set(cl.registry()) == {"b1", "b2", "b3"}
    endpoint = cl.registry()["b3"].split("\t")[0]
    assert endpoint.startswith("tcp://127.0.0.1:")
    t0 = time.monotonic()
    b3.kill9()
    assert wait_until(lambda: "b3" not in cl.registry(), timeout=8.0, interval=0.1), cl.registry()
    gone = time.monotonic() - t0
    assert gone < 6.0, "dead broker still registered %.1fs after kill -9" % gone
    assert wait_until(lambda: "b3" not in b1.peers_seen() and "b3" not in b2.peers_seen(), timeout=5.0), \
        (b1.peers_seen(), b2.peers_seen())
    assert set(cl.registry()) == {"b1", "b2"}

    # The survivors still carry traffic between them.
    t = uid("mem")
    s = PahoClient(b2.port)
    s.connect(timeout=T)
    s.subscribe(t, 1, timeout=T)
    p = PahoClient(b1.port)
    p.connect(timeout=T)
    try:
        deadline = time.monotonic() + T
        while True:
            p.publish(t, b"x", qos=1, timeout=T)
            try:
                s.get(timeout=0.3)
                break
            except AssertionError:
                assert time.monotonic() < deadline
    finally:
        p.disconnect()
        s.disconnect()

    # A broker started again under the same id joins again.
    b3b = cl.start_broker("b3")
    cl.wait_mesh([b1, b2, b3b])
    assert set(cl.registry()) == {"b1", "b2", "b3"}


def test_kill9_subscribers_resume_through_haproxy_without_loss(cl):
    b1, b2 = cl.start_broker("b1"), cl.start_broker("b2")
    cl.wait_mesh()
    lb = cl.start_haproxy([b1, b2])
    lb.wait_state("b1", "UP")
    lb.wait_state("b2", "UP")

    run = uid("fo")
    tag = run
    ndev = 6
    devs = [cl.device(lb.port, "%s-dev%d" % (run, i), clean=False,
                      subs=[("%s/dev/%d/#" % (run, i), 1), ("%s/all" % run, 1)]).start()
            for i in range(ndev)]
    for d in devs:
        d.wait_up(T)
    owners = {}
    assert wait_until(lambda: all(cl.lease(d.client_id) in ("b1", "b2") for d in devs), timeout=T)
    for d in devs:
        owners[d.client_id] = cl.lease(d.client_id)
    on = {bid: [d for d in devs if owners[d.client_id] == bid] for bid in ("b1", "b2")}
    victim_id = "b1" if len(on["b1"]) >= len(on["b2"]) else "b2"
    victim, survivor = cl.by_id(victim_id), cl.by_id("b2" if victim_id == "b1" else "b1")
    assert on[victim_id], "haproxy put no device on %s: %r" % (victim_id, owners)

    pub = PahoClient(survivor.port, client_id=uid("fo-pub"))
    pub.connect(timeout=T)

    # Every device's subscriptions are known cluster-wide before we count.
    deadline = time.monotonic() + T
    k = 0
    while not all(any(m[1].startswith(b"probe") for m in d.snapshot()) for d in devs):
        assert time.monotonic() < deadline, "probes never reached every device"
        k += 1
        pub.publish("%s/all" % run, b"probe-%d" % k, qos=1, timeout=T)
        time.sleep(0.05)

    # Publishers keep publishing through the survivor: one topic per device
    # plus a broadcast topic every device gets.
    acked = []
    errors = []
    stop = threading.Event()
    nmsg = 500

    def publisher():
        try:
            for n in range(nmsg):
                if stop.is_set():
                    return
                topic = "%s/all" % run if n % 2 else "%s/dev/%d/seq" % (run, n % ndev)
                pub.publish(topic, seq_payload(tag, n), qos=1, timeout=T)
                acked.append((n, topic))
                time.sleep(0.004)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    th = threading.Thread(target=publisher, daemon=True)
    th.start()
    assert wait_until(lambda: len(acked) >= nmsg // 4 or errors, timeout=30), errors
    victim.kill9()
    killed_at = time.monotonic()

    # Membership forgets it; haproxy marks it down.
    assert wait_until(lambda: victim_id not in cl.registry(), timeout=8.0, interval=0.1), cl.registry()
    lb.wait_state(victim_id, "DOWN", timeout=10.0)
    th.join(90)
    stop.set()
    assert not errors, "publisher through the survivor failed: %r" % errors
    assert len(acked) == nmsg

    def expected_for(i):
        return [n for (n, topic) in acked
                if topic == "%s/all" % run or topic == "%s/dev/%d/seq" % (run, i)]

    def complete():
        return all(set(expected_for(i)) <= {int(m[1].split(b":")[1]) for m in d.snapshot()
                                            if m[1].startswith(tag.encode() + b":")}
                   for i, d in enumerate(devs))
    wait_until(complete, timeout=30.0, interval=0.2)
    time.sleep(0.3)  # late duplicates, if any, are counted too

    problems = []
    for i, d in enumerate(devs):
        problems += check_sequence(d.snapshot(), tag, expected_for(i), d.client_id)
    moved = on[victim_id]
    for d in moved:
        with d.lock:
            connacks = list(d.connacks)
            losses = d.losses
        if losses < 1:
            problems.append("%s: was on the killed broker but never lost its connection" % d.client_id)
        resumed = [sp for (sp, rc) in connacks[1:] if rc == 0]
        if not resumed or not all(resumed):
            problems.append("%s: reconnected without its session (connacks %r)" % (d.client_id, connacks))
        owner = cl.lease(d.client_id)
        if owner != survivor.id:
            problems.append("%s: lease %r, expected the survivor %s" % (d.client_id, owner, survivor.id))
    for d in on[survivor.id]:
        if d.losses:
            problems.append("%s: on the survivor, yet lost its connection %d times" % (d.client_id, d.losses))
    dups = sum(len(d.snapshot()) for d in devs)
    print("failover: %d published, %d devices (%d moved), %d deliveries, %.1fs after kill" % (
        nmsg, ndev, len(moved), dups, time.monotonic() - killed_at))
    pub.disconnect()
    assert not problems, "\n".join(problems)
