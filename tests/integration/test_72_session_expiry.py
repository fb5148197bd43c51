"""Session expiry (issue 15: MQTT 5.0 Session Expiry Interval; issue 13:
--session-expiry for 3.1.1 persistent sessions). An offline persistent
session lives as long as its expiry, then it is gone: on a single node from
memory, in a cluster from Redis (its keys carry a TTL, and the reaper
deletes them and their entries in the cluster's subscription index, so no
broker keeps routing to it). Reconnecting within the expiry resumes it.
MQTT 5.0 statements are cited as [MQTT-x.x.x-y]."""

import time

import pytest

from conftest import RawClient, assert_closed_by_broker, uid
from mqtt5 import SESSION_EXPIRY, Raw5, disconnect5_pkt, props, subscribe5_pkt
from stack import stack, wait_for  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.roost_only


def persistent5(port, cid, expiry, topic=None):
    """Connects (Clean Start 0, Session Expiry `expiry`), subscribes to topic
    at QoS 1, disconnects normally; returns CONNACK's session present."""
    with Raw5(port) as c:
        sp, pr = c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, expiry)))
        if topic:
            c.send(subscribe5_pkt(1, [(topic, 1)]))
            c.expect("SUBACK")
        c.send(disconnect5_pkt())
        assert_closed_by_broker(c)
        return sp, pr


def present5(port, cid, expiry):
    with Raw5(port) as c:
        sp, _ = c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, expiry)))
        c.send(disconnect5_pkt())
        return sp


def test_single_node_v5_session_expires(broker):
    """Session Expiry Interval 1: back within it, the session is there
    [MQTT-3.2.2-3]; after it, gone (3.1.2.11.2)."""
    cid = uid("ex1")
    persistent5(broker.port, cid, 1, uid("t"))
    assert present5(broker.port, cid, 1) == 1
    time.sleep(1.6)
    assert present5(broker.port, cid, 1) == 0


def test_single_node_311_session_expiry_cap(broker_factory):
    """--session-expiry 1: a 3.1.1 persistent session is kept one second
    offline; a 5.0 client asking for more is told the cap in CONNACK
    (Session Expiry Interval, 3.2.2.3.2)."""
    b = broker_factory(session_expiry=1)
    cid = uid("e311")
    with RawClient(b.port) as c:
        c.connect(cid, clean=False)
        c.subscribe([(uid("t"), 1)])
    with RawClient(b.port) as c:
        assert c.connect(cid, clean=False) == 1
    time.sleep(1.6)
    with RawClient(b.port) as c:
        assert c.connect(cid, clean=False) == 0
    sp, pr = persistent5(b.port, uid("e5"), 3600)
    assert pr[SESSION_EXPIRY] == 1
    sp, pr = persistent5(b.port, uid("e5"), 1)
    assert SESSION_EXPIRY not in pr


def _keys(st, cid):
    return [k for k in st.redis_cli("--scan", "--pattern", "*{c:%s}" % cid).split() if k]


def test_cluster_session_expires_in_redis(stack):
    """Cluster: an offline 5.0 session with Session Expiry 2 has its keys
    under a TTL and an entry in the expiry index; after 2 s the reaper
    deletes its keys and its psubs entries (psubs:ver moves, so every
    broker's index forgets it); a message published then is queued for
    nobody. A session resumed within its expiry loses its TTLs."""
    stack.start_redis()
    b1 = stack.start_broker("b1", insecure=True, cluster=True)
    assert wait_for(lambda: "event=psubs_loaded" in b1.log(), 10)  # its Redis link is up
    keep, gone = uid("keep"), uid("gone")
    t = uid("ex/t")
    persistent5(b1.port, keep, 60, t)
    persistent5(b1.port, gone, 2, t)
    assert wait_for(lambda: stack.redis_cli("ZSCORE", "roost:{g}:sessexp", gone) != "", 5)
    ttl = int(stack.redis_cli("PTTL", "roost:sess:{c:%s}" % gone))
    assert 2000 < ttl <= 2000 + 3600000, ttl
    ver = int(stack.redis_cli("GET", "roost:{g}:psubs:ver") or 0)
    # 'keep' resumed within its expiry: no TTL while online, looked at
    # again in 5 minutes at the earliest (in case its broker dies)
    with Raw5(b1.port) as c:
        sp, _ = c.connect5(keep, clean=False, properties=props((SESSION_EXPIRY, 60)))
        assert sp == 1
        now_ms = time.time() * 1000
        assert wait_for(lambda: stack.redis_cli("PTTL", "roost:sess:{c:%s}" % keep) == "-1" and
                        float(stack.redis_cli("ZSCORE", "roost:{g}:sessexp", keep) or 0)
                        >= now_ms + 299000, 5)
        c.send(disconnect5_pkt())
    # 'gone' expires: keys and psubs entries deleted by the reaper
    assert wait_for(lambda: not _keys(stack, gone), 10), _keys(stack, gone)
    assert wait_for(lambda: int(stack.redis_cli("GET", "roost:{g}:psubs:ver") or 0) > ver, 5)
    psubs = stack.redis_cli("HKEYS", "roost:{g}:psubs")
    assert gone not in psubs and keep in psubs
    assert "event=sessions_expired" in b1.log()
    with Raw5(b1.port) as c:
        sp, _ = c.connect5(gone, clean=False, properties=props((SESSION_EXPIRY, 60)))
        assert sp == 0


def test_cluster_session_of_killed_broker_expires(stack):
    """A broker killed (SIGKILL) while its device is connected never marks
    the session offline; the session was put in the expiry index at CONNECT
    to be looked at later, and when it is due the reaper on another broker
    finds the lease held by a dead broker and deletes it. (The index score
    is moved to now to stand for the 5 minutes that would pass.) A session
    with Clean Start 1 and Session Expiry above 0 is persistent too."""
    stack.start_redis()
    b1 = stack.start_broker("b1", insecure=True, cluster=True)
    b2 = stack.start_broker("b2", insecure=True, cluster=True)
    assert wait_for(lambda: "event=psubs_loaded" in b1.log() and "event=psubs_loaded" in b2.log(), 10)
    cid, other = uid("killed"), uid("cs1")
    t = uid("k/t")
    # Clean Start 1 with an expiry: kept (it was not marked in Redis before)
    with Raw5(b2.port) as c:
        c.connect5(other, clean=True, properties=props((SESSION_EXPIRY, 60)))
        c.send(subscribe5_pkt(1, [(t, 1)]))
        c.expect("SUBACK")
        c.send(disconnect5_pkt())
    assert present5(b2.port, other, 60) == 1
    c = Raw5(b1.port)
    c.connect5(cid, clean=False, properties=props((SESSION_EXPIRY, 2)))
    c.send(subscribe5_pkt(1, [(t, 1)]))
    c.expect("SUBACK")
    assert wait_for(lambda: stack.redis_cli("ZSCORE", "roost:{g}:sessexp", cid) != "", 5)
    b1.kill()
    c.close()
    # b1's alive key runs out (its TTL); then the session is due
    assert wait_for(lambda: stack.redis_cli("EXISTS", "roost:{g}:broker:b1:alive") == "0", 15)
    stack.redis_cli("ZADD", "roost:{g}:sessexp", "0", cid)
    assert wait_for(lambda: not _keys(stack, cid), 15), _keys(stack, cid)
    assert cid not in stack.redis_cli("HKEYS", "roost:{g}:psubs")
    assert other in stack.redis_cli("HKEYS", "roost:{g}:psubs")
