"""59 failover through haproxy (issue 12): a persistent QoS 1 subscriber and
a QoS 1 publisher at 300 msgs/s, each connected through haproxy (the
deploy/local config) to a different broker; the subscriber's broker, or
the publisher's, is killed by PID with SIGKILL or stopped with SIGTERM
(which drains: refuses new connections, fails /healthz, waits
--drain-delay-ms, then closes). Every PUBACKed message reaches the
subscriber; the delivery gap (the longest time between two arrivals) is
printed and written to tests/integration/out/failover.json for the note.
Also: a full persistent queue's drops are counted once cluster-wide, with
one queue_full log line a second at most."""

import json
import os
import re
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt
import pytest

from cluster_stack import Cluster, check_sequence, running, seq_payload
from conftest import PahoClient, free_port, uid, wait_until

pytestmark = pytest.mark.roost_only

T = 10.0
RATE = 300            # messages per second
BEFORE, AFTER = 1.0, 2.5
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "failover.json")


class Publisher:
    """QoS 1 at RATE msgs/s through haproxy; reconnects (0.1 s backoff) with a
    persistent session, so paho sends its unacknowledged messages again.
    acked: seqs whose PUBACK arrived."""

    def __init__(self, port, client_id, topic, tag):
        self.port, self.topic, self.tag = port, topic, tag
        self.client_id = client_id
        self.c = mqtt.Client(client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(1000)
        self.c.max_queued_messages_set(0)
        self.lock = threading.Lock()
        self.mids = {}
        self.acked = set()
        self.early = set()
        self.sent = 0
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.c.on_connect = lambda c, u, f, rc: rc == 0 and self.connected.set()
        self.c.on_disconnect = lambda c, u, rc: self.connected.clear()
        self.c.on_publish = self._on_publish

    def _on_publish(self, c, u, mid):
        # (runs under paho's locks: never wait here for a lock held around publish)
        with self.lock:
            s = self.mids.pop(mid, None)
            if s is not None:
                self.acked.add(s)
            else:
                self.early.add(mid)

    def connect(self):
        self.c.connect("127.0.0.1", self.port, keepalive=10)
        self.net = threading.Thread(target=self._net, daemon=True)
        self.net.start()
        assert self.connected.wait(T)

    def _net(self):
        while not self.stop.is_set():
            if self.c.loop(timeout=0.01) != mqtt.MQTT_ERR_SUCCESS:
                self.connected.clear()
                while not self.stop.is_set():
                    self.stop.wait(0.1)
                    try:
                        if self.c.reconnect() == mqtt.MQTT_ERR_SUCCESS:
                            break
                    except OSError:
                        pass

    def run(self, seconds):
        start = time.monotonic()
        n0 = self.sent
        while time.monotonic() - start < seconds and not self.stop.is_set():
            n = self.sent
            info = self.c.publish(self.topic, seq_payload(self.tag, n), qos=1)
            with self.lock:
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acked.add(n)
                elif info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    self.mids[info.mid] = n
            self.sent += 1
            ahead = start + (self.sent - n0) / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def close(self):
        self.stop.set()
        self.net.join(5)
        try:
            self.c.disconnect()
        except Exception:
            pass


def lb_stack(c):
    c.start_redis()
    c.start_broker("b1")
    c.start_broker("b2")
    c.wait_mesh()
    lb = c.start_haproxy(c.brokers)
    lb.wait_state("b1", "UP")
    lb.wait_state("b2", "UP")


@pytest.fixture
def cl():
    with running(Cluster(broker_args=["--drain-delay-ms", "1000", "--log-level", "info"]), lb_stack) as c:
        yield c


def through_lb_to(cl, want, make):
    """Connects clients made by make() through haproxy until one lands on
    broker `want` (roundrobin alternates); returns it."""
    for _ in range(8):
        x = make()
        if wait_until(lambda: cl.lease(x.client_id) in ("b1", "b2"), timeout=T) == want or \
                cl.lease(x.client_id) == want:
            return x
        x.close() if hasattr(x, "close") else x.stop()
    raise AssertionError("haproxy never sent a client to %s" % want)


def record(case, **figures):
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    try:
        with open(OUT) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {}
    doc[case] = figures
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)


@pytest.mark.parametrize("victim_role", ["subscriber", "publisher"])
@pytest.mark.parametrize("how", ["kill", "term"])
def test_broker_loss_loses_no_acknowledged_message(cl, victim_role, how):
    lb = cl.haproxy
    run = uid("fo")
    topic = "%s/data" % run
    sub_on = "b1"
    pub_on = "b2"
    sub = through_lb_to(cl, sub_on, lambda: cl.device(lb.port, uid("fo-sub"), clean=False,
                                                      subs=[(topic, 1)]).start())
    sub.wait_up(T)
    pub = through_lb_to(cl, pub_on, lambda: _started(Publisher(lb.port, uid("fo-pub"), topic, run)))

    # the subscription is known to the publisher's broker before counting
    probe = PahoClient(cl.by_id(pub_on).port)
    probe.connect(timeout=T)
    k = 0
    while not any(m[1].startswith(b"probe") for m in sub.snapshot()):
        k += 1
        assert k < 200, "probe never reached the subscriber"
        probe.publish(topic, b"probe-%d" % k, qos=1, timeout=T)
        time.sleep(0.05)
    probe.disconnect()

    victim = cl.by_id(sub_on if victim_role == "subscriber" else pub_on)
    th = threading.Thread(target=pub.run, args=(BEFORE + AFTER,), daemon=True)
    th.start()
    time.sleep(BEFORE)
    hit = time.time()
    if how == "kill":
        victim.kill9()
    else:
        victim.proc.send_signal(15)
    th.join(BEFORE + AFTER + 30)
    if how == "term":
        assert victim.proc.wait(20) == 0
        assert re.search(r"event=draining broker_id=%s connections=\d+ delay_ms=1000" % victim.id,
                         victim.log()), victim.log()[-3000:]
    assert wait_until(lambda: pub.connected.is_set(), timeout=T)
    # what paho sends again after its reconnect has its PUBACK by now
    wait_until(lambda: len(pub.acked) >= pub.sent, timeout=5.0)
    with pub.lock:
        acked = set(pub.acked)
    assert acked, "no PUBACK at all"

    def got():
        return {int(m[1].split(b":")[1]) for m in sub.snapshot() if m[1].startswith(run.encode() + b":")}
    wait_until(lambda: acked <= got(), timeout=30.0, interval=0.1)
    pub.close()
    problems = check_sequence(sub.snapshot(), run, sorted(acked), sub.client_id)
    if victim_role == "publisher":
        # a message whose PUBACK the dead broker never sent is published
        # again by the client: a new message for the subscriber (DUP 0)
        problems = [p for p in problems if "without DUP" not in p]

    arrivals = sorted(m[6] for m in sub.snapshot() if m[1].startswith(run.encode() + b":"))
    gaps = [(b - a, a) for a, b in zip(arrivals, arrivals[1:])]
    gap, at = max(gaps)
    lost = len(acked - got())
    print("failover %s's broker %s: %d published, %d acked, %d lost, delivery gap %.2fs "
          "(starting %.2fs after the %s), subscriber reconnects %d" % (
              victim_role, how, pub.sent, len(acked), lost, gap, at - hit, how, sub.losses))
    record("%s_%s" % (victim_role, how), published=pub.sent, acked=len(acked), lost=lost,
           gap_s=round(gap, 3), reconnects=sub.losses)
    assert not problems, "\n".join(problems)
    if how == "kill":
        # the survivor knew at once (its bus link dropped) and did not wait
        # for the dead broker to answer the takeover
        survivor = cl.by_id(pub_on if victim_role == "subscriber" else sub_on)
        assert "event=peer_link_down peer=%s" % victim.id in survivor.log(), survivor.log()[-3000:]
        assert "takeover_unanswered" not in survivor.log(), survivor.log()[-3000:]


def _started(p):
    p.connect()
    return p


def test_full_queue_drop_is_counted_once_and_logged_once_a_second():
    with running(Cluster(broker_args=["--max-queued", "5", "--log-level", "info"])) as c:
        b1, b2 = c.by_id("b1"), c.by_id("b2")
        t = uid("q")
        # a persistent subscriber on b1 goes offline: its queue lives in Redis
        s = PahoClient(b1.port, client_id=uid("q-sub"), clean=False)
        s.connect(timeout=T)
        assert s.subscribe(t, 1, timeout=T) == [1]
        p = PahoClient(b2.port, client_id=uid("q-pub"))
        p.connect(timeout=T)
        k = 0
        while True:  # the session is known to b2 before counting
            k += 1
            p.publish(t, b"probe", qos=1, timeout=T)
            try:
                s.get(timeout=0.2)
                break
            except AssertionError:
                assert k < 50
        s.disconnect()
        n = 40
        for i in range(n):
            p.publish(t, b"m%d" % i, qos=1, timeout=T)
        time.sleep(1.1)  # the next drop is logged again, with the total
        p.publish(t, b"last", qos=1, timeout=T)
        n += 1
        p.disconnect()

        def totals():
            out = []
            for b in (b1, b2):
                lines = re.findall(r"event=queue_full dropped=(\d+) total=(\d+)", b.log())
                out.append((len(lines), int(lines[-1][1]) if lines else 0))
            return out
        assert wait_until(lambda: sum(x[1] for x in totals()) == n - 5, timeout=T), totals()
        time.sleep(0.3)
        assert sum(x[1] for x in totals()) == n - 5, totals()   # not twice
        assert all(x[0] <= 3 for x in totals()), totals()     # not one line per message


def test_publish_refused_in_a_redis_outage_is_a_counted_store_failure():
    http = free_port()
    with running(Cluster(broker_args=["--log-level", "info"]),
                 lambda c: (c.start_redis(), c.start_broker("b1"))) as c:
        b1 = c.by_id("b1")
        b1.proc.send_signal(15)   # again with /metrics on: one broker only needs one port
        b1.proc.wait(20)
        c.broker_args += ["--http-port", str(http)]
        b1 = c.start_broker("b1b")
        p = PahoClient(b1.port, client_id=uid("st-pub"))
        p.connect(timeout=T)
        c.redis.kill()
        # a retained QoS 1 message must be written to Redis before its PUBACK
        p.c.publish("st/x", b"v", qos=1, retain=True)
        assert p.disconnected.wait(T), "the broker kept a connection whose PUBLISH it could not store"
        assert wait_until(lambda: "reason=store_unavailable" in b1.log(), timeout=T), b1.log()[-3000:]
        assert "event=store_write_failed" in b1.log()
        assert "reason=auth_unavailable" not in b1.log_since_start()
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=T).read().decode()
        n = int(re.search(r"^roost_broker_store_failures_total (\d+)$", body, re.M).group(1))
        assert n >= 1, body
