"""Roost on a Redis Cluster (issue 19): 3 primaries + 3 replicas
(redis_cluster.py), brokers given --redis-cluster.

- The cluster cases of the integration suite (test_50 bus, test_51
  takeover and persistent sessions, test_52 broker failover, test_53 scale
  out) run unchanged against the Redis Cluster: cluster_stack.py starts one
  instead of a single redis-server when ROOST_TEST_REDIS_CLUSTER=1.
- Persistent sessions spread over the primaries by client id (the hash tag
  of store/keys.h), every key of one client in one slot, everything global
  in the slot of {g}; queued messages resume on the other broker.
"""

import os
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest

from cluster_stack import Cluster
from conftest import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("suite", ["test_50_cluster_bus.py", "test_51_cluster_takeover.py",
                                   "test_52_cluster_failover.py", "test_53_cluster_scale.py"])
def test_cluster_suite_passes_on_a_redis_cluster(suite):
    env = dict(os.environ, ROOST_TEST_REDIS_CLUSTER="1")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(HERE, suite)], env=env, capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, "%s on a Redis Cluster:\n%s\n%s" % (suite, r.stdout[-6000:], r.stderr[-2000:])


def _client(cid, clean):
    c = mqtt.Client(client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    return c


def test_sessions_spread_over_primaries_and_resume_elsewhere():
    cl = Cluster()
    try:
        rc = cl.start_redis(cluster=True)
        b1, b2 = cl.start_broker(), cl.start_broker()
        cl.wait_mesh()
        ids = ["dev-%d" % i for i in range(24)] + ["odd}id", "{braces}"]
        for cid in ids:
            c = _client(cid, False)
            c.connect("127.0.0.1", b1.port)
            c.loop_start()
            assert c.subscribe("fleet/#", 1)[0] == mqtt.MQTT_ERR_SUCCESS
            assert wait_until(lambda: rc.cmd("HLEN", cl.prefix + "subs:{c:%s}" % cid) == "1", 10)
            c.disconnect()
            c.loop_stop()
        # b2 knows all of them (its psubs index reloads on a version change;
        # a reload racing a bus announcement can miss one for a poll period)
        assert wait_until(lambda: "event=psubs_loaded subscriptions=%d " % len(ids) in b2.log(), 10)
        pub = _client("pub", True)
        pub.connect("127.0.0.1", b2.port)
        pub.loop_start()
        for k in range(5):
            pub.publish("fleet/x", "m%d" % k, qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        # every client's keys in one slot; the clients on more than one primary
        owners = set()
        for cid in ids:
            keys = [cl.prefix + n + "{c:%s}" % cid for n in ("sess:", "subs:", "q:", "qm:")]
            slots = {rc.slot(k) for k in keys}
            assert len(slots) == 1, (cid, slots)
            owners.add(rc.primary_of(keys[0]).port)
            assert rc.cmd("LLEN", keys[2]) == "5", cid
        assert len(owners) == 3, owners
        assert rc.slot(cl.prefix + "{g}:psubs") == rc.slot(cl.prefix + "{g}:retained")
        # a session resumes on the other broker with its queue, in order
        got = []
        c = _client("odd}id", False)
        c.on_message = lambda cli, ud, m: got.append(m.payload.decode())
        c.connect("127.0.0.1", b2.port)
        c.loop_start()
        assert wait_until(lambda: len(got) >= 5, 10), got
        time.sleep(0.3)
        assert got == ["m%d" % k for k in range(5)]
        assert wait_until(lambda: rc.cmd("LLEN", cl.prefix + "q:{c:odd}id}") == "0", 5)
        c.disconnect()
        c.loop_stop()
        assert not cl.sanitizer_reports()
    finally:
        cl.close()
