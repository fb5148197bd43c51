"""84 shared subscriptions with MQTT 5.0 clients (issue 16): CONNACK says
Shared Subscription Available; an invalid ShareName or a missing filter
gets SUBACK 0x8F (Topic Filter invalid) [MQTT-4.8.2-1/-2]; with
--disable-shared-subscriptions a shared filter gets 0x9E (5.0) or 0x80
(3.1.1) and CONNACK says 0; a 3.1.1 member and a 5.0 member share one
group across two brokers: every message once, the 5.0 member with the
publisher's properties, the 3.1.1 one without."""

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
import pytest

from cluster_stack import Cluster, running
from conftest import RawClient, uid, wait_until
from shared_load import Member, tally, wait_members, with_http

pytestmark = pytest.mark.roost_only


class V5:
    """A paho 5.0 client: CONNACK properties, SUBACK reason codes, messages."""

    def __init__(self, port):
        self.got = {}
        self.msgs = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(client_id=uid("v5"), protocol=mqtt.MQTTv5)
        self.c.on_connect = lambda cl, ud, fl, rc, pr=None: self.got.update(rc=rc, props=pr)
        self.c.on_subscribe = lambda cl, ud, mid, rcs, pr=None: self.got.setdefault("suback", []).append(
            [r.value for r in rcs])
        self.c.on_message = self._on_message
        self.c.on_disconnect = lambda cl, ud, rc, pr=None: self.got.update(disconnect=rc)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert wait_until(lambda: "rc" in self.got)

    def _on_message(self, cl, ud, m):
        with self.lock:
            self.msgs.append(m)

    def subscribe(self, filters):
        n = len(self.got.get("suback", []))
        self.c.subscribe(filters)
        assert wait_until(lambda: len(self.got.get("suback", [])) > n)
        return self.got["suback"][-1]

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def one_broker(args=()):
    def setup(c):
        c.start_redis()
        with_http(c.new_broker("b1")).start()
    return running(Cluster(broker_args=list(args)), setup)


def test_reason_codes_and_connack():
    with one_broker() as cl:
        b = cl.by_id("b1")
        c = V5(b.port)
        try:
            assert c.got["rc"] == 0 and c.got["props"].SharedSubscriptionAvailable == 1
            root = uid("sh")
            codes = c.subscribe([("$share//" + root, 1), ("$share/+/" + root, 1), ("$share/g", 1),
                                 ("$share/g/" + root, 1)])
            assert codes == [0x8F, 0x8F, 0x8F, 1]
        finally:
            c.stop()


def test_no_local_on_a_shared_subscription_is_a_protocol_error():
    """[MQTT-3.8.3-4] No Local on a shared subscription: DISCONNECT 0x82
    (the codec's check); the same options on an ordinary filter are fine."""
    with one_broker() as cl:
        b = cl.by_id("b1")
        c = V5(b.port)
        try:
            root = uid("sh")
            assert c.subscribe([(root, SubscribeOptions(qos=1, noLocal=True))]) == [1]
            c.c.subscribe([("$share/g/" + root, SubscribeOptions(qos=1, noLocal=True))])
            assert wait_until(lambda: "disconnect" in c.got)
            assert c.got["disconnect"] == 0x82, c.got["disconnect"]
        finally:
            c.stop()


def test_disabled_shared_subscriptions():
    with one_broker(["--disable-shared-subscriptions"]) as cl:
        b = cl.by_id("b1")
        c = V5(b.port)
        try:
            assert c.got["props"].SharedSubscriptionAvailable == 0
            root = uid("sh")
            assert c.subscribe([("$share/g/" + root, 1), (root, 1)]) == [0x9E, 1]
        finally:
            c.stop()
        r = RawClient(b.port)
        try:
            r.connect()
            assert r.subscribe([("$share/g/" + root, 1), (root, 0)]) == [0x80, 0]
        finally:
            r.close()
        assert "subscribe_shared_disabled" in b.log()


def test_mixed_311_and_50_members_across_brokers():
    def setup(c):
        c.start_redis()
        with_http(c.new_broker("b1")).start()
        with_http(c.new_broker("b2")).start()
        c.wait_mesh()
    with running(Cluster(), setup) as cl:
        b1, b2 = cl.by_id("b1"), cl.by_id("b2")
        root = uid("sh")
        old = Member(cl.dir, b1.port, "mix", root + "/#")             # 3.1.1, mosquitto_sub
        new = V5(b2.port)                                             # 5.0, paho
        pub = V5(b1.port)
        try:
            assert new.subscribe([("$share/mix/%s/#" % root, 1)]) == [1]
            wait_members([b1, b2], "mix", root + "/#", [1, 1])
            time.sleep(1.2)
            n = 200
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("k", "v")]
            props.ContentType = "text/plain"
            for i in range(n):
                pub.c.publish("%s/t" % root, b"m%d" % i, qos=1, properties=props)
            assert wait_until(lambda: old.count() + len(new.msgs) >= n, timeout=20)
            time.sleep(0.3)
            with new.lock:
                got_new = list(new.msgs)
            counts, _ = tally([old])
            counts.update(m.payload for m in got_new)
            assert set(counts) == {b"m%d" % i for i in range(n)} and max(counts.values()) == 1
            assert 80 <= len(got_new) <= 120, len(got_new)  # one broker each: half
            for m in got_new:
                assert m.properties.UserProperty == [("k", "v")]
                assert m.properties.ContentType == "text/plain"
        finally:
            for c in (new, pub):
                c.stop()
            old.stop()
