"""53 cluster scale: a third broker started at runtime joins (haproxy has it
pre-declared, down until it listens), takes new connections and carries
cross-broker traffic both ways; SIGTERM on it moves its devices to the
others without loss for persistent QoS 1 sessions. DESIGN.md "Clustering",
issue 5."""

import threading
import signal
import time

import pytest

from cluster_stack import check_sequence, cluster, seq_payload  # noqa: F401 (cluster: fixture)
from conftest import PahoClient, free_port, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0


@pytest.fixture
def cl(cluster):
    """cluster_stack's Cluster fixture (Redis started, sanitizer reports
    checked, logs printed when the test failed)."""
    return cluster


def probe_until(pub, topic, devs, timeout=T):
    deadline = time.monotonic() + timeout
    k = 0
    while not all(any(m[1].startswith(b"probe") for m in d.snapshot()) for d in devs):
        assert time.monotonic() < deadline, "probes on %s never reached %r" % (
            topic, [d.client_id for d in devs if not any(m[1].startswith(b"probe") for m in d.snapshot())])
        k += 1
        pub.publish(topic, b"probe-%d" % k, qos=1, timeout=T)
        time.sleep(0.05)


def test_third_broker_joins_takes_connections_and_drains_on_sigterm(cl):
    b1, b2 = cl.start_broker("b1"), cl.start_broker("b2")
    cl.wait_mesh()
    p3 = free_port()
    lb = cl.start_haproxy([b1, b2, ("b3", p3)])
    lb.wait_state("b1", "UP")
    lb.wait_state("b2", "UP")
    lb.wait_state("b3", "DOWN")

    run = uid("sc")
    tag = run
    # Devices connected before the third broker exists: spread over b1, b2.
    early = [cl.device(lb.port, "%s-e%d" % (run, i), clean=False,
                       subs=[("%s/all" % run, 1), ("%s/d/e%d" % (run, i), 1)]).start() for i in range(4)]
    for d in early:
        d.wait_up(T)
    assert wait_until(lambda: {cl.lease(d.client_id) for d in early} == {"b1", "b2"}, timeout=T), \
        [cl.lease(d.client_id) for d in early]

    # Scale out at runtime.
    b3 = cl.start_broker("b3", port=p3)
    cl.wait_mesh()
    assert set(cl.registry()) == {"b1", "b2", "b3"}
    lb.wait_state("b3", "UP")

    # New connections: haproxy's roundrobin (deploy/local/haproxy.cfg.in) takes
    # the new broker into its rotation as soon as its check passes, so it gets
    # one in three of the next six connections.
    late = [cl.device(lb.port, "%s-l%d" % (run, i), clean=False,
                      subs=[("%s/all" % run, 1), ("%s/d/l%d" % (run, i), 1)]).start() for i in range(6)]
    for d in late:
        d.wait_up(T)
    devs = early + late
    owners = {d.client_id: cl.lease(d.client_id) for d in devs}
    on_b3 = [d for d in devs if owners[d.client_id] == "b3"]
    assert len(on_b3) >= 2, "the new broker took %d of the new connections: %r" % (len(on_b3), owners)

    # Cross-broker traffic through b3, both ways.
    pub1 = PahoClient(b1.port, client_id=uid("sc-pub1"))
    pub1.connect(timeout=T)
    probe_until(pub1, "%s/all" % run, devs)
    pub3 = PahoClient(b3.port, client_id=uid("sc-pub3"))
    pub3.connect(timeout=T)
    on_b1 = [d for d in devs if owners[d.client_id] == "b1"]
    for d in devs:
        with d.lock:
            d.msgs.clear()
    for n in range(30):
        pub3.publish("%s/all" % run, seq_payload(tag + "x", n), qos=1, timeout=T)
    assert wait_until(lambda: all(len([m for m in d.snapshot() if m[1].startswith((tag + "x:").encode())]) >= 30
                                  for d in devs), timeout=T), \
        {d.client_id: len(d.snapshot()) for d in devs}
    for d in on_b1 + on_b3:
        assert not check_sequence(d.snapshot(), tag + "x", range(30), d.client_id)
    pub3.disconnect()

    # Scale in: SIGTERM b3 while publishing through b1; its devices move.
    acked, errors = [], []
    nmsg = 400

    def publisher():
        try:
            for n in range(nmsg):
                topic = "%s/all" % run if n % 2 else "%s/d/%s" % (run, devs[n % len(devs)].client_id.rsplit("-", 1)[1])
                pub1.publish(topic, seq_payload(tag, n), qos=1, timeout=T)
                acked.append((n, topic))
                time.sleep(0.004)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=publisher, daemon=True)
    th.start()
    assert wait_until(lambda: len(acked) >= nmsg // 4 or errors, timeout=30), errors
    t0 = time.monotonic()
    rc = b3.term()
    stopped = time.monotonic() - t0
    assert rc == 0, "b3 exit code %r on SIGTERM" % rc
    assert stopped < 10, "b3 took %.1fs to stop" % stopped
    assert "b3" not in cl.registry(), "b3 still registered after a clean exit: %r" % cl.registry()
    lb.wait_state("b3", "DOWN")
    th.join(90)
    assert not errors, errors
    assert len(acked) == nmsg

    def expected_for(d):
        name = d.client_id.rsplit("-", 1)[1]
        return [n for (n, topic) in acked if topic in ("%s/all" % run, "%s/d/%s" % (run, name))]

    def complete():
        return all(set(expected_for(d)) <= {int(m[1].split(b":")[1]) for m in d.snapshot()
                                            if m[1].startswith(tag.encode() + b":")} for d in devs)
    wait_until(complete, timeout=30.0, interval=0.2)
    time.sleep(0.3)
    problems = []
    for d in devs:
        problems += check_sequence(d.snapshot(), tag, expected_for(d), d.client_id)
    for d in on_b3:
        owner = cl.lease(d.client_id)
        if owner not in ("b1", "b2"):
            problems.append("%s: lease %r after b3 stopped" % (d.client_id, owner))
        with d.lock:
            resumed = [sp for (sp, rc) in d.connacks[1:] if rc == 0]
        if not resumed or not all(resumed):
            problems.append("%s: moved without its session (connacks %r)" % (d.client_id, d.connacks))
    pub1.disconnect()
    assert not problems, "\n".join(problems)


def test_new_broker_publishes_before_the_mesh_forms(cl):
    """A broker that has just started publishes QoS 1 for a persistent
    subscriber on another broker before either has found the other (peer
    discovery runs each second): the messages go to the subscriber's Redis
    queue through the index, and the subscriber gets every one of them,
    live or by the catch-up read that follows the peer's arrival; no copy
    twice without DUP."""
    b1 = cl.start_broker("b1")
    root = uid("mesh")
    dev = cl.device(b1.port, uid("ps"), clean=False, subs=[("%s/#" % root, 1)]).start()
    dev.wait_up()
    # past the session's own catch-up reads after CONNECT (adopt.c, 1.5 s), so
    # only the catch-up that b2's arrival triggers can bring the messages
    time.sleep(1.7)
    # b1 is held stopped while b2 starts and takes the messages, so b1 cannot
    # learn of b2 (its peer discovery runs each second) inside the window under
    # test, however the two brokers' timers fall: b2 reads the peer list as it
    # starts, but b1's bus interest cannot reach it until b1 runs again.
    b1.proc.send_signal(signal.SIGSTOP)
    try:
        b2 = cl.start_broker("b2")
        pub = PahoClient(b2.port, uid("pub"))
        pub.connect()
        n = 50
        for i in range(n):
            pub.publish("%s/x" % root, seq_payload("m", i), qos=1, timeout=T)
        pub.disconnect()
        assert "b2" not in b1.peers_seen(), "b1 meshed with b2 while stopped"
    finally:
        b1.proc.send_signal(signal.SIGCONT)
    assert wait_until(lambda: not check_sequence(dev.snapshot(), "m", range(n), dev.client_id),
                      timeout=15), check_sequence(dev.snapshot(), "m", range(n), dev.client_id)
    dev.stop()
