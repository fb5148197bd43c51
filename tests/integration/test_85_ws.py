"""85: MQTT over WebSockets (--ws-port): paho-mqtt's transport="websockets"
against the broker's ws listener, with the same broker serving plain TCP
(mosquitto clients) at once; a raw RFC 6455 client for what paho never
does: MQTT split across frames at every byte, many packets in one frame,
fragmented messages, ping/pong, and the close handshake both ways."""

import os
import re
import struct
import subprocess

import pytest

from conftest import (DISCONNECT, IS_MOSQUITTO, PINGREQ, PINGRESP, PahoClient, connect_pkt,
                      publish_pkt, subscribe_pkt, uid)
from wsclient import RawWs, WsBroker, frame, ws_paho

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


@pytest.fixture(scope="module")
def wsb():
    b = WsBroker(("--connect-timeout", "3", "--max-packet-size", "300000"))
    yield b
    assert b.stop() == 0

@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.disconnect()


def test_paho_websockets_roundtrip(wsb, clients):
    """QoS 0, 1, 2 over ws both ways; a 200 kB payload (many 4 KiB reads,
    one WebSocket message) arrives whole."""
    sub = ws_paho(wsb.ws_port)
    clients.append(sub)
    sub.connect()
    topic = "ws/" + uid()
    assert sub.subscribe(topic + "/#", 2) == [2]
    pub = ws_paho(wsb.ws_port)
    clients.append(pub)
    pub.connect()
    big = bytes(range(256)) * 800
    for qos in (0, 1, 2):
        pub.publish("%s/%d" % (topic, qos), b"q%d" % qos, qos=qos)
    pub.publish(topic + "/big", big, qos=1)
    got = {m.topic: (m.payload, m.qos) for m in sub.get_n(4)}
    assert got["%s/0" % topic] == (b"q0", 0)
    assert got["%s/1" % topic] == (b"q1", 1)
    assert got["%s/2" % topic] == (b"q2", 2)
    assert got[topic + "/big"] == (big, 1)


def test_ws_and_tcp_meet(wsb, clients):
    """A ws subscriber gets what a TCP device (mosquitto_pub) publishes, and
    a TCP subscriber what a ws device publishes."""
    topic = "mix/" + uid()
    sub = ws_paho(wsb.ws_port)
    tcp_sub = PahoClient(wsb.port)
    clients += [sub, tcp_sub]
    sub.connect()
    sub.subscribe(topic, 1)
    tcp_sub.connect()
    tcp_sub.subscribe(topic + "/back", 1)
    subprocess.run(["mosquitto_pub", "-p", str(wsb.port), "-t", topic, "-m", "from-tcp", "-q", "1"],
                   check=True, timeout=10)
    assert sub.get().payload == b"from-tcp"
    sub.publish(topic + "/back", b"from-ws", qos=1)
    assert tcp_sub.get().payload == b"from-ws"


def test_split_and_joined_at_any_boundary(wsb):
    """CONNECT sent one byte per frame, then SUBSCRIBE + PUBLISH + PINGREQ
    joined in one frame whose answers may come in any framing."""
    ws = RawWs(wsb.ws_port)
    try:
        ws.upgrade()
        cid = uid("raw")
        for b in connect_pkt(cid, keepalive=30):
            ws.send(frame(0x2, bytes([b])))
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
        topic = "raw/" + uid()
        joined = subscribe_pkt(1, [(topic, 0)]) + publish_pkt(topic, b"hi") + PINGREQ
        ws.send(frame(0x2, joined))
        assert ws.read_mqtt(5) == b"\x90\x03\x00\x01\x00"
        want = publish_pkt(topic, b"hi")
        assert ws.read_mqtt(len(want) + 2) == want + PINGRESP
        # a fragmented message: binary + continuations carry one PINGREQ and a half
        ws.send(frame(0x2, b"\xc0", fin=False) + frame(0x0, b"\x00\xc0", fin=False) + frame(0x0, b"\x00"))
        assert ws.read_mqtt(4) == PINGRESP * 2
    finally:
        ws.close()


def test_ping_pong_and_client_close(wsb):
    """A ping (even between fragments) gets a pong with its payload; the
    client's close gets the same status back and the connection ends (no
    DISCONNECT: the will is published, as for TCP)."""
    topic = "will/" + uid()
    watcher = RawWs(wsb.ws_port)
    ws = RawWs(wsb.ws_port)
    try:
        watcher.upgrade()
        watcher.send(frame(0x2, connect_pkt(uid("w"))) + frame(0x2, subscribe_pkt(1, [(topic, 0)])))
        assert watcher.read_mqtt(4 + 5)[:4] == b"\x20\x02\x00\x00"
        ws.upgrade()
        ws.send(frame(0x2, connect_pkt(uid("c"), will=(topic, "gone", 0, False))))
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
        ws.send(frame(0x2, PINGREQ[:1], fin=False) + frame(0x9, b"ping-data") + frame(0x0, PINGREQ[1:]))
        fin, op, payload = ws.read_frame()
        assert (op, payload) == (0xA, b"ping-data")
        assert ws.read_mqtt(2) == PINGRESP
        ws.send(frame(0x8, struct.pack(">H", 4000) + b"bye"))
        assert ws.read_close()[0] == 4000
        assert ws.closed()
        want = publish_pkt(topic, b"gone")
        assert watcher.read_mqtt(len(want)) == want
        assert wsb.wait_log(r"event=conn_closed .*reason=peer_closed")
    finally:
        ws.close()
        watcher.close()


def test_broker_close_sends_close_frame(wsb):
    """DISCONNECT: the broker ends the WebSocket with close 1000 before the
    TCP connection."""
    ws = RawWs(wsb.ws_port)
    try:
        ws.upgrade()
        ws.send(frame(0x2, connect_pkt(uid("d"))))
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
        ws.send(frame(0x2, DISCONNECT))
        assert ws.read_close()[0] == 1000
        assert ws.closed()
    finally:
        ws.close()


def test_frames_right_behind_the_upgrade(wsb):
    """A client that sends its first frames in the same segment as the
    Upgrade request loses none of them; mqttv3.1 is accepted too."""
    from wsclient import upgrade_request
    ws = RawWs(wsb.ws_port)
    try:
        req, _ = upgrade_request(protocol="mqttv3.1")
        ws.send(req + frame(0x2, connect_pkt(uid("e"))))
        status, headers, _ = ws.http_response()
        assert status == 101 and headers["sec-websocket-protocol"] == "mqttv3.1"
        assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
    finally:
        ws.close()


def test_forwarded_for_from_trusted_proxies_only(wsb):
    """--ws-trusted-proxies: from a listed proxy the client is the last
    X-Forwarded-For entry (a malformed one gets 400); from anyone else, and
    without the option (wsb), the header is ignored."""
    from wsclient import upgrade_request
    xff = "X-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n"
    trusted = WsBroker(("--ws-trusted-proxies", "127.0.0.1"))
    elsewhere = WsBroker(("--ws-trusted-proxies", "10.0.0.0/8,2001:db8::/32"))
    try:
        for b, want in ((trusted, "203.0.113.9:0"), (elsewhere, None), (wsb, None)):
            ws = RawWs(b.ws_port)
            try:
                ws.upgrade(extra=xff)
                cid = uid("xff")
                ws.send(frame(0x2, connect_pkt(cid)))
                assert ws.read_mqtt(4) == b"\x20\x02\x00\x00"
                own = "127.0.0.1:%d" % ws.sock.getsockname()[1]
                assert b.wait_log(r"event=conn_accepted peer=%s client_id=\"?%s" % (re.escape(want or own), cid))
            finally:
                ws.close()
        ws = RawWs(trusted.ws_port)
        try:
            ws.send(upgrade_request(extra="X-Forwarded-For: 1.2.3.4, unknown\r\n")[0])
            assert ws.http_response()[0] == 400
            assert trusted.wait_log(r"reason=\"HTTP 400: malformed X-Forwarded-For from a trusted proxy")
        finally:
            ws.close()
    finally:
        trusted.stop()
        elsewhere.stop()


def test_mqtt5_over_websockets(wsb):
    """MQTT 5.0 over ws as over TCP: CONNACK success, a user property carried
    end to end."""
    import queue
    from paho.mqtt import client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    got, acks = queue.Queue(), queue.Queue()
    c = mqtt.Client(client_id=uid("ws5"), transport="websockets", protocol=mqtt.MQTTv5)
    c.on_connect = lambda cl, u, flags, rc, props=None: acks.put(rc)
    c.on_subscribe = lambda cl, u, mid, rcs, props=None: acks.put(rcs)
    c.on_message = lambda cl, u, m: got.put(m)
    c.connect("127.0.0.1", wsb.ws_port, 30)
    c.loop_start()
    try:
        assert acks.get(timeout=5) == 0
        topic = "ws5/" + uid()
        c.subscribe(topic, 1)
        acks.get(timeout=5)
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("source", "websocket")
        c.publish(topic, b"v5", qos=1, properties=props)
        m = got.get(timeout=5)
        assert m.payload == b"v5" and ("source", "websocket") in m.properties.UserProperty
    finally:
        c.disconnect()
        c.loop_stop()


def test_connect_rate_per_listener():
    """--max-connect-rate holds per listener: the ws listener's own bucket
    refuses the CONNECT over the rate (CONNACK 3) while TCP still accepts."""
    b = WsBroker(("--max-connect-rate", "1"))
    try:
        codes = []
        for i in range(3):  # a bucket of 1 refilled at 1/s: one of these is refused unless they take > 2 s
            ws = RawWs(b.ws_port)
            try:
                ws.upgrade()
                ws.send(frame(0x2, connect_pkt(uid("rate"))))
                codes.append(ws.read_mqtt(4)[3])
            finally:
                ws.close()
        assert codes[0] == 0 and 3 in codes, codes
        tcp = PahoClient(b.port)
        tcp.connect()
        tcp.disconnect()
    finally:
        b.stop()


def test_roost_bench_over_ws(wsb):
    """roost-bench --ws (its own client framing, masked, one frame per flush)
    at full speed for a moment: QoS 0 and 1 pairs, nothing lost, duplicated
    or out of order."""
    import json
    import os
    bench = os.path.join(os.environ.get("ROOST_BUILD_DIR", "/work/main/build-test"), "bench", "roost-bench")
    if not os.access(bench, os.X_OK):
        pytest.skip("roost-bench not built")
    for qos in ("0", "1"):
        r = subprocess.run([bench, "pairs", "--port", str(wsb.ws_port), "--ws", "/mqtt", "--qos", qos, "--pairs", "3",
                            "--seconds", "0.5", "--warmup", "0.2", "--broker-pid", str(wsb.proc.pid)],
                           capture_output=True, text=True, timeout=60)
        j = json.loads(r.stdout.strip().splitlines()[-1])
        assert j["received"] > 0 and j["received"] == j["expected"], j
        assert not (j["lost"] or j["duplicates"] or j["out_of_order"] or j["errors"] or j["disconnects"]), j


@pytest.mark.roost_only
def test_websocket_ports_by_default():
    """MQTT over WebSockets is on by default at 8083, and over TLS at 8084
    once TLS is configured (the tests run brokers with ROOST_WS_PORT=0 so
    they do not collide on those ports)."""
    from conftest import roost_binary
    env = {k: v for k, v in os.environ.items() if k not in ("ROOST_WS_PORT", "ROOST_WSS_PORT")}
    out = subprocess.run([roost_binary(), "--help"], capture_output=True, text=True, timeout=10, env=env).stdout
    assert re.search(r"--ws-port N\n.*\(default: 8083\)", out), out
    assert re.search(r"--wss-port N\n.*8084 when TLS is configured", out), out
