"""End-to-end test through the compose stack (run by e2e.sh).

Admin's HTTP API (published on 127.0.0.1) creates a group granting e2e/#, a
client, and a rule putting the client in the group. Devices connect through
haproxy; the registry (GET /api/v1/connections) shows them spread over the
brokers; a publish on one broker reaches devices on the others; then one
broker container is stopped (SIGTERM: it drains) and its devices reconnect
through haproxy to the others with their persistent sessions, receiving a
QoS 1 message published while they moved.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

MQTT_PORT = int(os.environ["ROOST_MQTT_PORT"])
ADMIN = "http://127.0.0.1:%s" % os.environ["ROOST_ADMIN_HTTP_PORT"]
TOKEN = os.environ["ROOST_ADMIN_TOKEN"]
PROJECT = os.environ["E2E_PROJECT"]
DEVICES = 6


def log(msg):
    print("[%s] e2e: %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def wait_until(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    v = pred()
    assert v, "timed out after %ss waiting for %s" % (timeout, what)
    return v


def api(method, path, body=None):
    req = urllib.request.Request(ADMIN + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None
    except OSError:
        return 0, None


def connection_records():
    status, doc = api("GET", "/api/v1/connections?limit=100")
    return doc["items"] if status == 200 else []


def connections():
    return {c["mqtt_client_id"]: c["broker"] for c in connection_records()}


def container(service):
    return subprocess.run(["podman", "ps", "--filter", "label=io.podman.compose.project=" + PROJECT,
                           "--filter", "label=com.docker.compose.service=" + service,
                           "--format", "{{.Names}}"], check=True, capture_output=True,
                          text=True).stdout.split()[0]


class Device:
    def __init__(self, cid, user, password):
        self.cid = cid
        self.got = []
        self.connects = []  # session-present flag of every CONNACK
        self.subacks = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(client_id=cid, clean_session=False, protocol=mqtt.MQTTv311)
        self.c.username_pw_set(user, password)
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        self.c.on_connect = self.on_connect
        self.c.on_message = self.on_message
        self.c.on_subscribe = lambda c, u, mid, granted: self.subacks.append(granted)

    def on_connect(self, c, userdata, flags, rc):
        with self.lock:
            self.connects.append((rc, flags.get("session present")))
        if rc == 0 and len(self.connects) == 1:
            c.subscribe([("e2e/all", 1), ("e2e/dev/" + self.cid, 1)])

    def on_message(self, c, userdata, msg):
        with self.lock:
            self.got.append((msg.topic, msg.payload.decode()))

    def start(self):
        self.c.connect("127.0.0.1", MQTT_PORT, keepalive=10)
        self.c.loop_start()

    def has(self, topic, payload):
        with self.lock:
            return (topic, payload) in self.got

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def secure_defaults():
    """Secure by default (issue 13): Redis answers nothing without AUTH, the
    bus and authd run CurveZMQ (authd only for the brokers' key), and the
    generated keys are not readable by other users."""
    def run(service, *cmd):
        return subprocess.run(["podman", "exec", container(service), *cmd], capture_output=True, text=True,
                              timeout=30)
    out = run("redis", "redis-cli", "ping")
    assert "NOAUTH" in out.stdout + out.stderr, out
    logs = lambda service: subprocess.run(["podman", "logs", container(service)], capture_output=True,
                                          text=True, timeout=30).stderr
    assert "curve=on curve_clients=1" in logs("authd1"), logs("authd1")
    b1 = logs("broker1")
    assert "curve=on" in b1 and "bus_unencrypted" not in b1, b1
    mode = run("broker1", "stat", "-c", "%a", "/var/lib/roost-keys/bus.secret").stdout.strip()
    assert mode == "600", mode
    log("secure defaults: Redis NOAUTH, CurveZMQ on the bus and authd (brokers' key only)")


def main():
    wait_until(lambda: api("GET", "/api/v1/clients")[0] == 200, 60, "admin API")
    with urllib.request.urlopen(ADMIN + "/vendor/uPlot.iife.min.js", timeout=10) as r:
        assert r.status == 200 and b"uPlot" in r.read(), "the console's charts (uPlot) are not served"
    log("console: /vendor/uPlot.iife.min.js served")
    secure_defaults()
    status, group = api("POST", "/api/v1/groups", {
        "name": "e2e-devices", "description": "deploy e2e",
        "acl": [{"permission": "allow", "action": "publish", "topic": "e2e/#"},
                {"permission": "allow", "action": "subscribe", "topic": "e2e/#"}]})
    assert status == 201, (status, group)
    status, client = api("POST", "/api/v1/clients",
                         {"name": "e2e fleet", "username": "e2e-fleet", "password": "e2e-password-1"})
    assert status == 201, (status, client)
    status, rule = api("POST", "/api/v1/group-rules",
                       {"match_by": "client", "value": client["id"], "groups": [group["id"]]})
    assert status == 201, (status, rule)
    log("admin API: group %s, client %s, rule %s" % (group["id"], client["id"], rule["id"]))

    devs = []
    try:
        for i in range(DEVICES):
            d = Device("e2e-dev-%d" % i, "e2e-fleet", "e2e-password-1")
            devs.append(d)
            d.start()
            # one at a time, so haproxy's leastconn sees each one
            wait_until(lambda: d.connects and d.c.is_connected(), 30, d.cid + " connected")
            wait_until(lambda: d.subacks, 10, d.cid + " SUBACK")
            assert all(q in (0, 1) for q in d.subacks[0]), "%s: subscription refused %s" % (d.cid, d.subacks)
        where = wait_until(lambda: (lambda m: m if len(m) == DEVICES else None)(connections()),
                           30, "all devices in the registry")
        brokers = sorted(set(where.values()))
        log("devices per broker: %s" % {b: sorted(k for k, v in where.items() if v == b) for b in brokers})
        assert len(brokers) == 3, "devices did not spread over 3 brokers: %s" % where
        for d in devs:
            assert d.connects[0][0] == 0, "%s refused: %s" % (d.cid, d.connects)
        # PROXY protocol: the brokers see the devices' address, not haproxy's
        haproxy_ip = subprocess.run(["podman", "inspect", "-f",
                                     "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                                     container("haproxy")], check=True, capture_output=True,
                                    text=True).stdout.split()
        peers = {c["mqtt_client_id"]: c["peer"] for c in connection_records()}
        assert all(p.rsplit(":", 1)[0] not in haproxy_ip for p in peers.values()), \
            "brokers see haproxy (%s) as the peer: %s" % (haproxy_ip, peers)
        log("peers as the brokers see them: %s (haproxy is %s)" % (sorted(set(
            p.rsplit(":", 1)[0] for p in peers.values())), haproxy_ip))
        # Wait until the cluster routes to every new subscription: probes on
        # e2e/all until each device has one (bus subscriptions propagate
        # asynchronously; the time it takes is logged, normally one probe).
        t = time.time()
        n = 0
        while not all(any(tp == "e2e/all" and p.startswith("probe-") for tp, p in list(d.got)) for d in devs):
            assert time.time() - t < 30, "probes never reached %s" % [
                d.cid for d in devs if not any(p.startswith("probe-") for _, p in list(d.got))]
            n += 1
            devs[0].c.publish("e2e/all", "probe-%d" % n, qos=1)
            time.sleep(0.5)
        log("cluster routes to every subscription after %.1fs (%d probes)" % (time.time() - t, n))

        # across brokers: one device publishes, every device receives
        pub = devs[0]
        pub.c.publish("e2e/all", "hello-1", qos=1).wait_for_publish(10)
        try:
            wait_until(lambda: all(d.has("e2e/all", "hello-1") for d in devs), 15, "hello-1 everywhere")
        except AssertionError:
            raise AssertionError("hello-1 published on %s; missing at %s" % (where[pub.cid], [
                (d.cid, where[d.cid]) for d in devs if not d.has("e2e/all", "hello-1")]))
        log("publish on %s reached devices on %s" % (where[pub.cid], brokers))

        # stop one broker that does not hold the publisher
        victim = next(b for b in brokers if b != where[pub.cid])
        moved = [d for d in devs if where[d.cid] == victim]
        service = victim.replace("-", "")  # broker-2 -> broker2
        name = container(service)
        log("stopping %s (%s), holding %s" % (name, victim, [d.cid for d in moved]))
        t = time.time()
        subprocess.run(["podman", "stop", "-t", "30", name], check=True, capture_output=True)
        log("%s stopped in %.1fs" % (name, time.time() - t))
        # published while they move: QoS 1 into their persistent sessions
        for d in moved:
            pub.c.publish("e2e/dev/" + d.cid, "while-moving", qos=1).wait_for_publish(10)
        for d in moved:
            wait_until(lambda: len(d.connects) >= 2 and d.c.is_connected(), 30, d.cid + " reconnected")
            rc, present = d.connects[-1]
            assert rc == 0 and present, "%s resumed without its session: %s" % (d.cid, d.connects)
            wait_until(lambda: d.has("e2e/dev/" + d.cid, "while-moving"), 20,
                       "queued message at " + d.cid)
        after = wait_until(lambda: (lambda m: m if len(m) == DEVICES and victim not in m.values() else None)(
            connections()), 30, "registry without " + victim)
        log("after the stop: %s" % after)
        # the cluster still works across the remaining brokers
        pub.c.publish("e2e/all", "hello-2", qos=1).wait_for_publish(10)
        for d in devs:
            wait_until(lambda: d.has("e2e/all", "hello-2"), 15, "hello-2 at " + d.cid)
        log("ok: %d devices resumed on %s" % (len(moved), sorted({after[d.cid] for d in moved})))
    finally:
        for d in devs:
            d.stop()


if __name__ == "__main__":
    main()
