"""A paho QoS 1 publisher at a fixed rate for the failover tests (test_22,
test_66): bounded, reconnecting by itself (paho sends the unacknowledged
messages again after each reconnect); records when each sequence number was
sent and which were acknowledged (PUBACK).

    pub = Publisher(port, "cid", "topic", "tag", rate=300).start(seconds=9)
    ...
    pub.stop()          # the run's end, then up to 5 s for the last PUBACKs
    pub.acked_copy(), pub.sent_at, pub.seq
"""

import threading
import time

import paho.mqtt.client as mqtt

from cluster_stack import seq_payload
from conftest import wait_until


class Publisher:
    def __init__(self, port, client_id, topic, tag, rate, username=None, password=None, clean=True,
                 inflight=None):
        self.topic, self.tag, self.rate = topic, tag, rate
        self.c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.reconnect_delay_set(0.05, 0.5)
        self.c.max_queued_messages_set(0)
        if inflight:
            self.c.max_inflight_messages_set(inflight)
        self.lock = threading.Lock()
        self.mid_seq = {}
        self.acked = set()
        self.early = set()
        self.sent_at = {}
        self.seq = 0
        self._stop = threading.Event()
        self.c.on_publish = self._on_publish
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_publish(self, c, ud, mid):
        with self.lock:
            s = self.mid_seq.pop(mid, None)
            if s is None:
                self.early.add(mid)  # acknowledged before run() recorded it
            else:
                self.acked.add(s)

    def run(self, seconds):
        t0 = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - t0 < seconds:
            d = t0 + self.seq / self.rate - time.monotonic()
            if d > 0:
                time.sleep(d)
            s = self.seq
            self.seq += 1
            self.sent_at[s] = time.monotonic()
            # not under self.lock: paho calls on_publish holding its own locks
            info = self.c.publish(self.topic, seq_payload(self.tag, s), qos=1)
            with self.lock:
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acked.add(s)
                else:
                    self.mid_seq[info.mid] = s

    def start(self, seconds):
        self.t = threading.Thread(target=self.run, args=(seconds,), daemon=True)
        self.t.start()
        return self

    def join(self, timeout):
        self.t.join(timeout)

    def pending(self):
        """Sent and not acknowledged yet."""
        with self.lock:
            return len(self.mid_seq)

    def stop(self):
        """Waits for the run to end (bounded), then for the last PUBACKs."""
        self.t.join(30)
        self._stop.set()
        wait_until(lambda: not self.pending(), 5)
        self.c.loop_stop()
        self.c.disconnect()

    def acked_copy(self):
        with self.lock:
            return set(self.acked)
