"""Redis AUTH end to end: a redis-server started with --requirepass, and
roost-admin, roost-authd and roost-broker (cluster mode) given the password
through ROOST_REDIS_PASSWORD, work as with an open Redis: admin writes a
client, authd lets its device in, the broker keeps its cluster state and the
connection registry in Redis. A service given a wrong password says so
(Redis's WRONGPASS, never the password) and reports itself unhealthy; the
broker keeps retrying and never claims a Redis link. Managed Redis services
(and the Kubernetes external-Redis component) need this."""

import os

import pytest

from conftest import T, RawClient, connect_pkt, publish_pkt, subscribe_pkt, uid
from stack import AUTHD_BIN, BROKER_BIN, http_get, stack, wait_for  # noqa: F401  (stack: fixture)

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

REDIS_PW = "redis-pass-" + uid("x")
WRONG_PW = "definitely-wrong-" + uid("y")


def connect(port, user, pw, client_id):
    c = RawClient(port, T)
    c.send(connect_pkt(client_id, username=user, password=pw.encode()))
    p = c.expect("CONNACK")
    return c, p.body[1]


def test_services_use_the_password(stack):
    stack.start_redis(password=REDIS_PW)
    assert stack.redis_cli("PING") == "PONG"
    stack.start_admin()
    stack.start_authd(changes=True)
    b = stack.start_broker(cluster=True, admin_events=True)
    assert "event=redis_connected" in b.log()
    user = uid("dev")
    cl = stack.add_client(user, "device-pw-1", name="dev one")
    g = stack.add_group("own-topics", [("allow", "subscribe", user + "/#"), ("allow", "publish", user + "/#")])
    stack.add_rule("client", cl["id"], [g["id"]])
    # authd read the client from Redis; the broker keeps session and registry there
    c, rc = connect(b.port, user, "device-pw-1", user)
    assert rc == 0
    c.send(subscribe_pkt(1, [(user + "/t", 1)]))
    suback = c.expect("SUBACK")
    assert (suback.pid, list(suback.body[2:])) == (1, [1]), suback  # granted QoS 1 by the group's ACL
    c.send(publish_pkt(user + "/t", b"through-auth", qos=1, pid=2))
    got = {p.name: p for p in (c.recv_packet(), c.recv_packet())}
    assert set(got) == {"PUBACK", "PUBLISH"} and got["PUBLISH"].payload == b"through-auth"
    assert (got["PUBACK"].pid, got["PUBLISH"].qos) == (2, 1)
    assert wait_for(lambda: user in stack.connections(), T), "registry in Redis never listed the device"
    c.close()


def test_wrong_password_is_named_and_unhealthy(stack):
    stack.start_redis(password=REDIS_PW)
    stack.env_extra["ROOST_REDIS_PASSWORD"] = WRONG_PW
    a = stack.start_authd(wait_healthy=False)
    b = stack.start_broker(cluster=True, insecure=True)
    assert wait_for(lambda: "event=redis_refused" in b.log(), T), b.log_tail()
    line = [ln for ln in b.log().splitlines() if "event=redis_refused" in ln][0]
    assert "WRONGPASS" in line and WRONG_PW not in b.log()
    assert "event=redis_connected" not in b.log()
    assert b.alive()
    # authd: unhealthy while it cannot use Redis, and says nothing of the password
    assert http_get(a.http_port, "/healthz")[0] == 503
    assert WRONG_PW not in a.log()
    # without any password: NOAUTH, same handling
    stack.env_extra.pop("ROOST_REDIS_PASSWORD")
    b2 = stack.start_broker(name="nopw", cluster=True, insecure=True)
    assert wait_for(lambda: "event=redis_refused" in b2.log() and "NOAUTH" in b2.log(), T), b2.log_tail()
    # the right password later (a fixed Secret, a restarted pod) connects
    stack.env_extra["ROOST_REDIS_PASSWORD"] = REDIS_PW
    b3 = stack.start_broker(name="fixed", cluster=True, insecure=True)
    assert wait_for(lambda: "event=redis_connected" in b3.log(), T), b3.log_tail()
