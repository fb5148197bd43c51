"""28 a silent DNS server never stalls the broker's loop (lib/store/ss_dns).

The broker runs in a network namespace of its own (netns.py) whose
/etc/resolv.conf names a DNS server that never answers (a UDP socket this
test holds and never reads) and whose /etc/hosts names Redis
(`redis.roost.test`). The broker is given `--redis redis.roost.test:PORT`;
devices connect to it from the test's namespace over the bridge.

Once two devices exchange QoS 0 messages through it, the name is taken out
of the hosts file and Redis is killed: the broker's link drops and every
reconnect must look the name up, which now goes to the silent server (2 s
per try). Messages between the devices keep flowing meanwhile with no more
than STALL_MAX_S of latency (hiredis's getaddrinfo, called inside the loop,
froze every connection for each try before). The broker logs the failed
lookup; once the name is back in the hosts file and Redis is up, it
reconnects on its own.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from cluster_stack import REDIS_SERVER, read_text
from conftest import roost_binary, wait_until
from netns import Net, usable

pytestmark = pytest.mark.roost_only

STALL_MAX_S = 0.4
NAME = "redis.roost.test"


def test_broker_serves_while_its_redis_name_waits_on_a_silent_dns():
    ok, why = usable()
    if not ok:
        pytest.skip(why)
    tmp = tempfile.mkdtemp(prefix="roost-dns-")
    net = Net()
    etc = None
    dns = None
    try:
        h = net.host("b")
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind((net.subnet + ".1", 53))  # on the bridge: reachable from h, never read
        etc = "/etc/netns/" + h.ns
        os.makedirs(etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver %s.1\noptions timeout:2 attempts:1\n" % net.subnet)
        hosts = os.path.join(etc, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.1 %s\n" % NAME)

        rport = 6390
        redis = net.popen(h, [REDIS_SERVER, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", tmp], os.path.join(tmp, "redis.log"))
        blog = os.path.join(tmp, "broker.log")
        net.popen(h, [roost_binary(), "--bind", h.ip, "--port", "1883", "--insecure-no-auth", "--ws-port", "0",
                      "--redis", "%s:%d" % (NAME, rport)], blog)
        assert wait_until(lambda: "event=redis_connected" in read_text(blog), 20), read_text(blog)[-3000:]

        got, lock = [], threading.Lock()

        def on_message(c, ud, m):
            with lock:
                got.append(time.monotonic() - float(m.payload.decode()))

        sub = mqtt.Client(client_id="dns-sub", clean_session=True)
        sub.on_message = on_message
        assert wait_until(lambda: sub.connect(h.ip, 1883, keepalive=30) == 0, 20)
        sub.loop_start()
        assert sub.subscribe("dns/x", 0)[0] == mqtt.MQTT_ERR_SUCCESS
        pub = mqtt.Client(client_id="dns-pub", clean_session=True)
        pub.connect(h.ip, 1883, keepalive=30)
        pub.loop_start()
        assert wait_until(lambda: (pub.publish("dns/x", b"%f" % time.monotonic()), len(got) > 0)[1], 10)

        with open(hosts, "w") as f:  # rewritten in place: the bind mount sees it
            f.write("127.0.0.1 localhost\n")
        base = len(got)
        redis.send_signal(signal.SIGKILL)
        redis.wait()
        assert wait_until(lambda: "event=redis_disconnected" in read_text(blog), 10)
        sent = 0
        end = time.monotonic() + 5.0  # two or more lookups' worth of silence
        while time.monotonic() < end:
            pub.publish("dns/x", b"%f" % time.monotonic())
            sent += 1
            time.sleep(0.02)
        assert wait_until(lambda: len(got) >= base + sent, 10), (len(got) - base, sent)
        with lock:
            worst = max(got[base:])
        assert worst < STALL_MAX_S, "worst QoS 0 latency %.2f s while DNS was silent" % worst
        assert wait_until(lambda: "event=dns_failed host=%s" % NAME in read_text(blog), 10), read_text(blog)[-3000:]

        # the name back, Redis back: the broker reconnects by itself
        redis = net.popen(h, [REDIS_SERVER, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", tmp], os.path.join(tmp, "redis.log"))
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.1 %s\n" % NAME)
        assert wait_until(lambda: read_text(blog).count("event=redis_connected") >= 2, 20), read_text(blog)[-3000:]
        pub.disconnect()
        sub.disconnect()
        pub.loop_stop()
        sub.loop_stop()
        assert "ERROR: AddressSanitizer" not in read_text(blog)
    except BaseException:
        for name in ("broker.log", "redis.log"):
            p = os.path.join(tmp, name)
            if os.path.exists(p):
                print("----- %s -----\n%s" % (name, read_text(p)[-6000:]))
        raise
    finally:
        net.close()
        if dns:
            dns.close()
        if etc:
            shutil.rmtree(etc, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
