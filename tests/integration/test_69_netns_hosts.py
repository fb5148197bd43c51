"""69 brokers on separate hosts (issue 19): Redis, three brokers and
haproxy each in a Linux network namespace of its own, on a bridge, each on
its own address (brokers advertise their bus endpoint with --bus-advertise),
devices in the test's namespace. Over those real addresses:

- cross-broker delivery (the bus between hosts);
- takeover: a client id connecting to another host closes the first;
- failover: a broker SIGKILLed, its persistent device comes back through
  haproxy on another host and gets what was queued meanwhile;
- partition: the link of the host a persistent device is on is cut. The
  rest keep serving (delivery between the other two hosts, new CONNECTs
  through haproxy). The cut-off broker's registry entry expires (no
  heartbeat reaches Redis), the others drop it from the bus; haproxy's
  checks mark it down and close the device's connection through it, the
  device reconnects to another host and resumes its session, with the
  messages published during the partition (queued in Redis by the
  publishing broker). A device already connected on the cut-off side still
  gets PUBACK (and delivery there) for a QoS 1 message with nothing to
  write, none for one that must go to Redis; a new CONNECT there gets no
  CONNACK while Redis is out of reach. When the link comes back, the cut-off broker
  reconnects to Redis, rejoins the bus and serves again; it does not take
  the device back.

Namespaces, veths and the bridge carry a per-run id; every process is
stopped by PID and every namespace removed by name, also when the test
fails (netns.Net.close)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from cluster_stack import HAPROXY, HAPROXY_TEMPLATE, REDIS_SERVER, SANITIZER_MARKS, Device, read_text
from conftest import roost_binary, wait_until
from netns import Net, usable

pytestmark = pytest.mark.roost_only

T = 20.0

# A device inside the host that gets cut off (run in its namespace): connects
# to its broker, subscribes nx/local, and once the file argv[2] exists
# publishes QoS 1 to nx/local (nothing to write) and to nx/p (a persistent
# session's topic: a Redis write), 3 s for each PUBACK; the outcome as JSON
# in argv[3].
INSIDE = r"""
import json, os, sys, time
import paho.mqtt.client as mqtt
host, go, out = sys.argv[1:4]
c = mqtt.Client(client_id="nx-inside", protocol=mqtt.MQTTv311)
got = []
c.on_message = lambda cl, ud, m: got.append(m.topic)
c.connect(host, 1883, keepalive=60)
c.loop_start()
c.subscribe("nx/local", 1)
end = time.time() + 60
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
res = {}
for key, topic in (("local_acked", "nx/local"), ("persistent_acked", "nx/p")):
    info = c.publish(topic, b"inside", qos=1)
    info.wait_for_publish(3)
    res[key] = info.is_published()
time.sleep(0.5)
res["local_delivered"] = "nx/local" in got
with open(out + ".tmp", "w") as f:
    json.dump(res, f)
os.rename(out + ".tmp", out)
"""


@pytest.fixture
def world(request):
    ok, why = usable()
    if not ok:
        pytest.skip("network namespaces: " + why)
    d = tempfile.mkdtemp(prefix="roost-netns-")
    net = Net()
    w = {"net": net, "dir": d, "devices": []}
    try:
        yield w
    finally:
        for dev in w["devices"]:
            dev.stop(disconnect=False)
        net.close()
        rep = getattr(request.node, "rep_call", None)
        logs = "\n".join("----- %s -----\n%s" % (n, read_text(os.path.join(d, n))[-6000:])
                         for n in sorted(os.listdir(d)))
        if rep is None or rep.failed:
            print(logs)
        shutil.rmtree(d, ignore_errors=True)
        if rep is not None and rep.passed:
            assert not [m for m in SANITIZER_MARKS if m in logs], logs


def log(w, name):
    return read_text(os.path.join(w["dir"], name + ".log"))


def client(host, cid, clean=True, keepalive=10):
    c = mqtt.Client(client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    got = []
    c.on_message = lambda cl, ud, m: got.append((m.topic, bytes(m.payload)))
    c.connect(host, 1883, keepalive=keepalive)
    c.loop_start()
    c.got = got
    return c


def subscribe(c, topic):
    done = []
    c.on_subscribe = lambda cl, ud, mid, granted: done.append(granted)
    c.subscribe(topic, 1)
    assert wait_until(lambda: done, timeout=T), "no SUBACK"


def publish(c, topic, payload):
    info = c.publish(topic, payload, qos=1)
    info.wait_for_publish(T)
    assert info.is_published(), "no PUBACK for %s" % topic


def holder(w, cid, names):
    """The broker that holds cid now: accepted it last, not closed since."""
    held = []
    for n in names:
        text = log(w, n)
        acc = [m.start() for m in re.finditer(r"event=conn_accepted [^\n]*client_id=%s " % re.escape(cid), text)]
        gone = [m.start() for m in re.finditer(r"event=conn_closed [^\n]*client_id=%s " % re.escape(cid), text)]
        if acc and (not gone or acc[-1] > gone[-1]):
            held.append(n)
    return held[0] if len(held) == 1 else None


def test_brokers_on_separate_hosts(world):
    w, net, d = world, world["net"], world["dir"]
    prefix = "nx%s:" % uuid.uuid4().hex[:6]
    rh = net.host("redis")
    net.popen(rh, [REDIS_SERVER, "--bind", rh.ip, "--port", "6379", "--protected-mode", "no", "--save", "",
                   "--appendonly", "no", "--dir", d], os.path.join(d, "redis.log"))
    hosts = {n: net.host(n) for n in ("b1", "b2", "b3")}
    procs = {}

    def start_broker(n):
        h = hosts[n]
        procs[n] = net.popen(h, [roost_binary(), "--id", n, "--insecure-no-auth", "--bind", h.ip, "--port", "1883",
                                 "--redis", "%s:6379" % rh.ip, "--prefix", prefix,
                                 "--bus-bind", "tcp://%s:7000" % h.ip, "--bus-advertise", "tcp://%s:7000" % h.ip,
                                 "--log-level", "info"], os.path.join(d, n + ".log"))
    for n in hosts:
        start_broker(n)
    for n in hosts:
        assert wait_until(lambda: "event=redis_connected" in log(w, n) and "event=listening" in log(w, n),
                          timeout=T), "%s did not start:\n%s" % (n, log(w, n))

    def meshed(names):
        return all(len(re.findall(r"event=peer_joined peer=(?:%s) " % "|".join(o for o in names if o != n),
                                  log(w, n))) >= len(names) - 1 for n in names)
    assert wait_until(lambda: meshed(list(hosts)), timeout=T), "no bus mesh"
    for n, h in hosts.items():  # peers connect to the advertised address, not a loopback one
        assert "endpoint=tcp://%s:7000" % h.ip in log(w, [o for o in hosts if o != n][0])

    lb = net.host("lb")
    with open(HAPROXY_TEMPLATE) as f:
        cfg = f.read()
    servers = "\n".join("    server %s %s:1883 check" % (n, h.ip) for n, h in hosts.items())
    cfg = (cfg.replace("@MAXCONN@", "1000").replace("@BIND@", lb.ip).replace("@MQTT_PORT@", "1883")
           .replace("@SERVERS@", servers))
    with open(os.path.join(d, "haproxy.cfg"), "w") as f:
        f.write(cfg)
    net.popen(lb, [HAPROXY, "-db", "-f", os.path.join(d, "haproxy.cfg")], os.path.join(d, "haproxy.log"))

    # -- cross-broker delivery over the bridge
    s1 = client(hosts["b1"].ip, "nx-s1")
    subscribe(s1, "nx/x/#")
    time.sleep(0.3)  # the subscription reaches the other brokers' XPUB
    p2 = client(hosts["b2"].ip, "nx-p2")
    p3 = client(hosts["b3"].ip, "nx-p3")
    publish(p2, "nx/x/2", b"from-b2")
    publish(p3, "nx/x/3", b"from-b3")
    assert wait_until(lambda: {("nx/x/2", b"from-b2"), ("nx/x/3", b"from-b3")} <= set(s1.got), timeout=T), s1.got

    # -- takeover: the same client id on another host closes the first
    lost = []
    t1 = mqtt.Client(client_id="nx-take", protocol=mqtt.MQTTv311)
    t1.on_disconnect = lambda cl, ud, rc: lost.append(rc)
    t1.connect(hosts["b1"].ip, 1883, keepalive=10)
    t1.loop_start()
    assert wait_until(lambda: holder(w, "nx-take", hosts) == "b1", timeout=T)
    t2 = client(hosts["b2"].ip, "nx-take")
    assert wait_until(lambda: lost, timeout=T), "b1 kept nx-take after it connected to b2"
    t1.loop_stop()
    assert wait_until(lambda: holder(w, "nx-take", hosts) == "b2", timeout=T)
    t2.disconnect()

    def persistent(cid, topic, keepalive):
        """A persistent device through haproxy, and the broker it landed on."""
        dv = Device(1883, cid, clean=False, subs=[(topic, 1)], keepalive=keepalive, host=lb.ip).start()
        w["devices"].append(dv)
        dv.wait_up(T)
        on = holder(w, cid, hosts)
        assert on, "%s on no single broker" % cid
        return dv, on, [n for n in hosts if n != on]

    # -- failover: the broker of a persistent device dies, it comes back through haproxy
    f, victim, live = persistent("nx-fail", "nx/f", 5)
    procs[victim].kill()
    procs[victim].wait(10)
    pub = client(hosts[live[0]].ip, "nx-pf")
    time.sleep(1.2)  # the publishing broker's index of persistent subscriptions (polled every second)
    publish(pub, "nx/f", b"while-down")
    assert wait_until(lambda: any(m[1] == b"while-down" for m in f.snapshot()), timeout=T), \
        "nx-fail did not get the queued message after its broker died"
    assert holder(w, "nx-fail", live) in live
    pub.disconnect()
    start_broker(victim)  # back for the partition part
    assert wait_until(lambda: log(w, victim).count("event=listening") >= 2, timeout=T)
    assert wait_until(lambda: meshed(list(hosts)), timeout=T)

    # -- partition: cut the link of the host a persistent device is on
    dev, cut, rest = persistent("nx-part", "nx/p", 3)
    losses = dev.losses
    go, result = os.path.join(d, "inside.go"), os.path.join(d, "inside.json")
    net.popen(hosts[cut], ["/usr/bin/python3", "-c", INSIDE, hosts[cut].ip, go, result], os.path.join(d, "inside.log"))
    assert wait_until(lambda: holder(w, "nx-inside", [cut]) == cut, timeout=T), "the inside device did not connect"
    marks = {n: len(log(w, n)) for n in hosts}
    t_cut = time.monotonic()
    net.cut(hosts[cut])
    # the rest serve: delivery between the two other hosts, new CONNECTs through haproxy
    a = client(hosts[rest[0]].ip, "nx-a")
    subscribe(a, "nx/r")
    time.sleep(0.3)
    b = client(hosts[rest[1]].ip, "nx-b")
    publish(b, "nx/r", b"during-cut")
    assert wait_until(lambda: ("nx/r", b"during-cut") in a.got, timeout=T)
    # the others see the cut-off broker go: its heartbeat no longer reaches Redis
    assert wait_until(lambda: all("event=peer_left peer=%s " % cut in log(w, n)[marks[n]:] for n in rest),
                      timeout=T), "the others did not drop %s" % cut
    # the device is cut off too: haproxy marks that broker down and closes it;
    # it reconnects to another host and resumes its session
    publish(b, "nx/p", b"missed-while-cut")
    assert wait_until(lambda: dev.losses > losses and holder(w, "nx-part", rest) in rest, timeout=T), \
        "nx-part did not move off %s" % cut
    assert wait_until(lambda: any(m[1] == b"missed-while-cut" for m in dev.snapshot()), timeout=T)
    moved = time.monotonic() - t_cut
    # a device on the cut-off side (connected before the cut): a QoS 1
    # PUBLISH with nothing to write is acknowledged and delivered there; one
    # for a persistent session (a Redis write) is not acknowledged
    open(go, "w").close()
    assert wait_until(lambda: os.path.exists(result), timeout=T), read_text(os.path.join(d, "inside.log"))
    with open(result) as f:
        inside = json.load(f)
    assert inside == {"local_acked": True, "local_delivered": True, "persistent_acked": False}, inside
    # and a new CONNECT there waits for Redis: no CONNACK
    assert subprocess.run(["ip", "netns", "exec", hosts[cut].ns, "timeout", "3", "mosquitto_pub", "-h",
                           hosts[cut].ip, "-p", "1883", "-q", "1", "-i", "nx-new", "-t", "nx/local", "-m", "x"],
                          capture_output=True, timeout=10).returncode == 124
    print("partition: %s cut off; nx-part resumed on %s %.1fs after the cut" %
          (cut, holder(w, "nx-part", rest), moved))

    print("cut-off %s meanwhile: %s" % (cut, sorted(set(re.findall(r"event=(\w+)", log(w, cut)[marks[cut]:])))))
    # -- the link comes back: the broker reconnects and serves again
    marks = {n: len(log(w, n)) for n in hosts}
    net.mend(hosts[cut])
    assert wait_until(lambda: all("event=peer_joined peer=%s " % cut in log(w, n)[marks[n]:] for n in rest),
                      timeout=T), "the others did not take %s back" % cut
    c = client(hosts[cut].ip, "nx-c")
    subscribe(c, "nx/back")
    time.sleep(0.3)
    publish(b, "nx/back", b"healed")
    assert wait_until(lambda: ("nx/back", b"healed") in c.got, timeout=T)
    assert holder(w, "nx-part", rest) in rest, "the healed broker took nx-part back"
    # its session is intact: the stale connection the healed broker still had
    # for it is closed without touching the session it no longer holds
    publish(b, "nx/p", b"after-heal")
    assert wait_until(lambda: any(m[1] == b"after-heal" for m in dev.snapshot()), timeout=T)
    assert holder(w, "nx-part", rest) in rest
    print("healed %s: %s" % (cut, sorted(set(re.findall(r"event=(\w+)", log(w, cut)[marks[cut]:])))))
    for cl in (s1, p2, p3, a, b, c):
        cl.loop_stop()
        cl.disconnect()
