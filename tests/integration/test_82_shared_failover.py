"""82 shared subscriptions lose nothing when a member or its broker goes
away (issue 16): a QoS 1 message sent to a member on another broker that
disconnects before its PUBACK goes to another member (the member's broker
hands it back to the publishing broker, which chooses again); a member's
broker SIGKILLed mid-stream: every message the publishing broker
acknowledged reaches the group, duplicates only for messages the dead
broker's member had received (QoS 1 allows them), counted; the groups only
the dead broker's members kept are freed on the survivor.
DESIGN.md "Clustering"."""

import collections
import os
import re
import time

import pytest

from cluster_stack import Cluster, running
from conftest import RawClient, uid, wait_until
from shared_load import Member, Publisher, metrics, tally, wait_members, with_http

pytestmark = pytest.mark.roost_only

N = int(os.environ.get("ROOST_SHARED_FAILOVER_MESSAGES", "9000"))


def cluster_setup(c):
    c.start_redis()
    with_http(c.new_broker("b1")).start()
    with_http(c.new_broker("b2")).start()
    c.wait_mesh()


@pytest.fixture
def cl():
    # a window of 100: the members on b1 keep up, whatever b2 does
    with running(Cluster(broker_args=["--max-inflight", "100", "--max-queued", "100000"]),
                 cluster_setup) as c:
        yield c


def groups(http_port):
    return int(re.search(r"^roost_broker_shared_groups (\d+)$", metrics(http_port), re.M).group(1))


def wait_distinct(members, want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(tally(members)[0]) >= want:
            return True
        time.sleep(0.1)
    return False


def test_member_on_peer_disconnects_unacknowledged(cl):
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    root = uid("sh")
    quitter = RawClient(b2.port)
    quitter.connect(client_id=uid("quit"))
    assert quitter.subscribe([("$share/g/" + root, 1)]) == [1]
    stayer = Member(cl.dir, b1.port, "g", root)
    pub = None
    try:
        wait_members([b1, b2], "g", root, [1, 1])
        time.sleep(1.2)  # b1 has heard of b2's member
        pub = Publisher(b1.port, root, "q", 200)
        pub.wait(60)
        held = []
        while True:
            try:
                held.append(quitter.expect("PUBLISH", timeout=0.5).payload)
            except Exception:
                break
        assert held, "the member on b2 got nothing"
        quitter.close()  # never acknowledged: b2 gives them back to b1, which chooses again
        assert wait_distinct([stayer], 200, 20), "stayer got %d of 200" % len(tally([stayer])[0])
        assert set(tally([stayer])[0]) == {pub.payload(i) for i in range(200)}
        assert set(held) <= set(stayer.payloads())
        assert "roost_broker_shared_redispatched_total 0" not in metrics(b1.http_port)
    finally:
        quitter.close()
        stayer.stop()
        if pub:
            pub.stop()


def test_member_broker_sigkilled_mid_stream_nothing_lost(cl):
    b1, b2 = cl.by_id("b1"), cl.by_id("b2")
    root = uid("sh")
    flt = root + "/+"
    m1, m2 = Member(cl.dir, b1.port, "g", flt), Member(cl.dir, b1.port, "g", flt)
    m3 = Member(cl.dir, b2.port, "g", flt)  # its broker dies
    members = [m1, m2, m3]
    pub = None
    only_b2 = RawClient(b2.port)  # members of 20 groups that exist on b2 only
    try:
        only_b2.connect(client_id=uid("only"))
        assert only_b2.subscribe([("$share/e%d/%s/e" % (i, root), 1) for i in range(20)]) == [1] * 20
        wait_members([b1, b2], "g", flt, [2, 1])
        assert wait_until(lambda: groups(b1.http_port) == 21, timeout=15), groups(b1.http_port)
        time.sleep(1.2)
        pub = Publisher(b1.port, root + "/x", "k", N, rate=3000)
        deadline = time.monotonic() + 30
        while m3.count() < N // 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert m3.count() >= N // 6, "b2's member got %d" % m3.count()
        b2.kill9()
        got_before_kill = set(m3.payloads())
        pub.wait(120)  # b1 acknowledged every message
        assert wait_distinct(members, N, 60), "the group got %d of %d" % (len(tally(members)[0]), N)
        counts, per = tally(members)
        want = {pub.payload(i) for i in range(N)}
        assert set(counts) == want
        dups = {p: c for p, c in counts.items() if c > 1}
        # a duplicate is a message b2's member had received (and maybe
        # acknowledged) when b2 died, given again by b1: nothing else
        assert set(dups) <= got_before_kill, sorted(set(dups) - got_before_kill)[:5]
        assert all(c == 2 for c in dups.values()), collections.Counter(dups.values())
        print("SIGKILL of b2 after %d of %d at its member: lost 0, duplicates %d (per member %r)"
              % (len(got_before_kill), N, len(dups), per))
        # b2's link is down: the groups only its members kept are gone
        assert wait_until(lambda: groups(b1.http_port) == 1, timeout=30), groups(b1.http_port)
    finally:
        only_b2.close()
        if pub:
            pub.stop()
        for m in members:
            m.stop()
