"""23 the broker's Sentinel discovery never stalls its loop, and follows
+switch-master (issue 19).

A primary, a replica and three real redis-sentinel processes (redis_ha.py).

test_serves_while_sentinels_blackholed: the broker is configured with two
blackhole "Sentinels" (listening sockets that accept and never answer)
besides the three real ones. A device publishes QoS 0 and QoS 1 every
20 ms to a persistent subscriber on the same broker (QoS 1 to it is a
Redis write and a WAIT for the replica on every message) while
 (a) the Sentinel the broker asks first is SIGSTOPped (it accepts, never
     answers: a blackhole too) and
 (b) all three are SIGSTOPped (the broker sees only blackholes),
each for longer than the broker's once-a-second re-ask. Every message
arrives, and none takes more than STALL_MAX_S end to end. (Before the
asks ran on the loop, each re-ask waited 250 ms per silent Sentinel inside
the broker's loop: 0.75 s in (a), 1.25 s in (b), with every connection
on the broker frozen meanwhile.)

test_failover_followed_via_switch_master: a manual failover (SENTINEL
FAILOVER: the old primary stays up and becomes a replica, so nothing
breaks the broker's link): the broker logs the Sentinel's +switch-master
event naming the new primary and only then connects there; a QoS 1
message to a persistent session is acknowledged afterwards and sits in
the new primary.

test_admin_follows_switch_master: the synchronous services (here admin)
keep blocking discovery but also subscribe to +switch-master: after a
manual failover, admin's next write logs the event and goes to the new
primary (the old one would still take it, and lose it when it is made a
replica).
"""

import os
import signal
import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from redis_ha import MASTER, RedisHA, resp_cmd
from stack import Stack, free_port, wait_for

pytestmark = pytest.mark.roost_only

STALL_MAX_S = 0.4   # end-to-end latency bound while Sentinels are silent
PHASE_S = 2.5       # each phase outlasts the broker's once-a-second re-ask


@pytest.fixture
def st(request):
    s = Stack(prefix="sa%d:" % os.getpid())
    yield s
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("\n" + s.dump_logs(200))
    s.close()


class Blackhole:
    """A listening socket on 127.0.0.1 that never accepts: the kernel
    completes the TCP handshake (backlog), nothing is ever read or said."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)

    def close(self):
        self.sock.close()


@pytest.fixture
def blackholes():
    bh = [Blackhole(), Blackhole()]
    yield bh
    for b in bh:
        b.close()


def broker_for(st, ha, sentinels, http=None):
    st.env_extra.update(ha.env())
    extra = ["--redis-sentinels", sentinels, "--redis-master", MASTER, "--prefix", st.prefix]
    if http:
        extra += ["--http-port", str(http)]
    b = st.start_broker("b1", insecure=True, extra=extra)
    _, port = ha.master()
    assert wait_for(lambda: "event=redis_connected host=127.0.0.1 port=%d" % port in b.log(), 15), b.log_tail()
    return b


class Probe:
    """A persistent QoS 1 subscriber to sa/#, and a publisher sending
    alternately QoS 0 and QoS 1 every 20 ms, each message carrying its send
    time; records each message's end-to-end latency."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.lat = {}      # (qos, seq) -> seconds
        self.sent = []     # (qos, seq)
        self.sub = mqtt.Client(client_id="sa-sub", clean_session=False, protocol=mqtt.MQTTv311)
        self.sub.on_message = self._on_message
        subscribed = threading.Event()
        self.sub.on_subscribe = lambda *a: subscribed.set()
        self.sub.connect("127.0.0.1", port, keepalive=30)
        self.sub.loop_start()
        self.sub.subscribe("sa/#", qos=1)
        assert subscribed.wait(10), "no SUBACK"  # (the broker indexed it before answering)
        self.pub = mqtt.Client(client_id="sa-pub", clean_session=True, protocol=mqtt.MQTTv311)
        self.pub.connect("127.0.0.1", port, keepalive=30)
        self.pub.loop_start()
        self.seq = 0

    def _on_message(self, c, ud, m):
        now = time.monotonic()
        qos, seq, t = m.payload.decode().split()
        with self.lock:
            self.lat.setdefault((int(qos), int(seq)), now - float(t))

    def run(self, seconds):
        """Publishes for `seconds`; returns the (qos, seq) sent."""
        mine = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            qos = self.seq % 2
            self.pub.publish("sa/q%d" % qos, "%d %d %.6f" % (qos, self.seq, time.monotonic()), qos=qos)
            mine.append((qos, self.seq))
            self.seq += 1
            time.sleep(0.02)
        self.sent += mine
        return mine

    def report(self, batch):
        """Waits for the batch; returns (missing, worst latency, its key)."""
        wait_for(lambda: all(k in self.lat for k in batch), 10, 0.05)
        with self.lock:
            missing = [k for k in batch if k not in self.lat]
            got = [(self.lat[k], k) for k in batch if k in self.lat]
        worst = max(got) if got else (None, None)
        return missing, worst[0], worst[1]

    def close(self):
        for c in (self.pub, self.sub):
            c.loop_stop()
            c.disconnect()


def test_serves_while_sentinels_blackholed(st, blackholes):
    ha = RedisHA(st, replicas=1, down_after_ms=60000).start()
    real = ["127.0.0.1:%d" % s.port for s in ha.sentinels]
    holes = ["127.0.0.1:%d" % b.port for b in blackholes]
    # the real first (the broker asks it first from then on), the blackholes next
    b = broker_for(st, ha, ",".join(real[:1] + holes + real[1:]))
    probe = Probe(b.port)
    try:
        base = probe.run(1.0)
        missing, worst, _ = probe.report(base)
        assert not missing and worst < STALL_MAX_S, (missing, worst)

        # (a) the Sentinel the broker asks first goes silent
        os.kill(ha.sentinels[0].pid, signal.SIGSTOP)
        try:
            one = probe.run(PHASE_S)
        finally:
            os.kill(ha.sentinels[0].pid, signal.SIGCONT)
        # (b) every Sentinel silent: the broker sees only blackholes
        for s in ha.sentinels:
            os.kill(s.pid, signal.SIGSTOP)
        try:
            every = probe.run(PHASE_S)
        finally:
            for s in ha.sentinels:
                os.kill(s.pid, signal.SIGCONT)

        for name, batch in (("one Sentinel silent", one), ("every Sentinel silent", every)):
            missing, worst, key = probe.report(batch)
            print("%s: %d messages, worst end-to-end %.3f s" % (name, len(batch), worst))
            assert not missing, "%s: %d of %d messages never arrived: %r" % (name, len(missing), len(batch),
                                                                            missing[:10])
            assert worst < STALL_MAX_S, ("%s: message %r took %.3f s end to end (the broker's loop stalled)"
                                         % (name, key, worst))
        # the broker did ask, and saw them fail to answer (the re-ask ran)
        assert "event=sentinel_no_answer" in b.log()
        assert "event=redis_disconnected" not in b.log()  # the Redis link itself was never in question
    finally:
        probe.close()


def test_failover_followed_via_switch_master(st):
    # two replicas: the one not promoted follows the new primary before the
    # switch is announced, so the brokers' WAIT for a replica is met there
    ha = RedisHA(st, replicas=2, down_after_ms=60000).start()
    old = ha.master()[1]
    b = broker_for(st, ha, ha.addrs())
    assert wait_for(lambda: "event=sentinel_watching" in b.log(), 10), b.log_tail()

    # a persistent session whose QoS 1 messages are writes to the primary
    sub = mqtt.Client(client_id="sa-fo-sub", clean_session=False, protocol=mqtt.MQTTv311)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", b.port)
    sub.loop_start()
    sub.subscribe("fo/t", qos=1)
    assert subscribed.wait(10), "no SUBACK"  # (the broker indexed it before answering)
    sub.loop_stop()
    sub.disconnect()

    mark = len(b.log())
    assert resp_cmd(ha.sentinels[1].port, ha.sentinel_password, "SENTINEL", "FAILOVER", MASTER) == "OK"
    _, new = ha.wait_switch(old, timeout=20)
    assert wait_for(lambda: "event=redis_connected host=127.0.0.1 port=%d" % new in b.log()[mark:], 10), \
        b.log()[mark:]
    log = b.log()[mark:]
    ev = log.find("event=sentinel_switch_master")
    assert ev >= 0, "no +switch-master event logged:\n" + log
    assert "master=%s to=127.0.0.1:%d" % (MASTER, new) in log[ev:].splitlines()[0], log[ev:]
    # the event, not the once-a-second re-ask or an error, moved the link
    conn = log.find("event=redis_connected host=127.0.0.1 port=%d" % new)
    assert ev < conn, log
    assert "event=redis_disconnected" in log[ev:conn], log

    pub = mqtt.Client(client_id="sa-fo-pub", protocol=mqtt.MQTTv311)
    acked = threading.Event()
    pub.on_publish = lambda *a: acked.set()
    pub.connect("127.0.0.1", b.port)
    pub.loop_start()
    pub.publish("fo/t", "after", qos=1)
    assert acked.wait(10), "QoS 1 not acknowledged after the failover"
    pub.loop_stop()
    pub.disconnect()
    # queued for the offline session on the new primary (its queue was
    # empty: the session was made with nothing pending). Not a KEYS check:
    # the promoted replica holds every key the old primary had anyway
    qlen = resp_cmd(new, ha.password, "LLEN", "%sq:{c:sa-fo-sub}" % st.prefix)
    assert qlen == "1", "the message is not queued on the new primary: LLEN %r" % qlen


def test_admin_follows_switch_master(st):
    ha = RedisHA(st, replicas=2, down_after_ms=60000).start()
    old = ha.master()[1]
    st.redis = ha.nodes[0]
    st.redis.addr = "127.0.0.1:1"   # --redis is not used: the Sentinels name the primary
    st.env_extra.update(ha.env())
    st.start_admin()
    st.add_client("sa-before", "sa-password-1")
    assert wait_for(lambda: "event=sentinel_watching" in st.admin.log(), 5), st.admin.log_tail()

    mark = len(st.admin.log())
    assert resp_cmd(ha.sentinels[1].port, ha.sentinel_password, "SENTINEL", "FAILOVER", MASTER) == "OK"
    _, new = ha.wait_switch(old, timeout=20)
    time.sleep(0.2)  # the event crosses the watch link
    c = st.add_client("sa-after", "sa-password-2")
    log = st.admin.log()[mark:]
    assert "event=sentinel_switch_master" in log and "to=127.0.0.1:%d" % new in log, log
    # the write is on the new primary
    got = resp_cmd(new, ha.password, "HGET", "%s{g}:client:%s" % (st.prefix, c["id"]), "username")
    assert got == "sa-after", got


def test_watch_refused_is_said(st):
    """Sentinels whose user may not use the +switch-master channel (a Redis 7
    ACL without it: resetchannels) refuse the subscription: the broker and
    admin say so once, with the Sentinel's words (event=sentinel_watch_failed,
    NOPERM), rather than retrying in silence, and keep working by asking
    (the once-a-second re-ask stays the fallback)."""
    ha = RedisHA(st, replicas=1, down_after_ms=60000).start()
    for s in ha.sentinels:
        assert resp_cmd(s.port, ha.sentinel_password, "ACL", "SETUSER", "default", "resetchannels") == "OK"
    b = broker_for(st, ha, ha.addrs())
    assert wait_for(lambda: "event=sentinel_watch_failed" in b.log(), 10), b.log_tail()
    st.redis = ha.nodes[0]
    st.redis.addr = "127.0.0.1:1"   # --redis is not used: the Sentinels name the primary
    st.env_extra.update(ha.env())
    st.start_admin()
    st.add_client("sa-refused", "sa-password-3")  # served all the same
    assert wait_for(lambda: "event=sentinel_watch_failed" in st.admin.log(), 5), st.admin.log_tail()
    for _ in range(10):  # admin's pooled Redis handles each connect (and try the watch) once
        assert st.api("GET", "/api/v1/groups")[0] == 200
    time.sleep(2.5)  # the broker's watch tries a Sentinel a second: two more refusals, not said again
    said = [ln for ln in b.log().splitlines() if "event=sentinel_watch_failed" in ln]
    assert len(said) == 1 and "NOPERM" in said[0], said
    assert "event=sentinel_watching" not in b.log()
    # admin: once per Redis handle (its pool of 4 and its fleet view's), not per request
    said = [ln for ln in st.admin.log().splitlines() if "event=sentinel_watch_failed" in ln]
    assert 1 <= len(said) <= 5 and all("NOPERM" in ln for ln in said), said
