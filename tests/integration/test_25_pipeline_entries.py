"""Pipeline queue entries packed into one field (issue 17, lib/store/pipentry.h):
the broker writes each mapped PUBLISH as one stream field "m"; the
forwarder reads those and, across an upgrade, the eight-field entries older
brokers wrote (kept as they are, not migrated: a queue drains whichever it
holds, in stream order, with the same JSON for the same message); packed
entries that do not decode, or decode to text no JSON can carry, are
dead-lettered as malformed with their bytes kept and the rest delivered.

Real processes (test_61's env: Redis, admin, a broker in cluster mode,
roost-forwarder, an HTTP sink); entries written straight into the streams
over a binary-safe Redis connection (pipentry.py)."""

import time

from conftest import wait_until
from pipentry import FIELD, command, encode, message, xrange
from test_61_forwarder import api, arrived, env, mapping, pipeline, publisher, wait_routes  # noqa: F401 (env: fixture)

TS = 1767312345678


def key(p, suffix=""):
    return f"roost:{{g}}:pq:{p['id']}{suffix}"


def xadd(env, p, *fields):
    return command(env["cl"].redis.port, "XADD", key(p), "*", *fields).decode()


def old(topic, payload, qos=2, retain=True, cid="dev", user="u", broker="b9", ts=TS):
    """The eight fields brokers wrote before the packed entry."""
    return ("t", topic, "p", payload, "q", str(qos), "r", "1" if retain else "0", "c", cid, "u", user, "b", broker,
            "ts", str(ts))


def resume(env, p):
    api(env, "PATCH", f"/api/v1/pipelines/{p['id']}", {"status": "active"})


def test_broker_appends_one_packed_field(env):
    p = pipeline(env, "packed", "/pk", status="paused")
    mapping(env, "pk/#", p)
    wait_routes(env)
    pub = publisher(env, "pub-pk")
    t0 = int(time.time() * 1000)
    pub.publish("pk/1", b"\x00\xffbin", qos=1, retain=True)
    pub.publish("pk/2", "text é", qos=0)
    assert wait_until(lambda: len(xrange(env["cl"].redis.port, key(p))) == 2, timeout=10)
    rows = xrange(env["cl"].redis.port, key(p))
    assert [list(f) for _, f in rows] == [[FIELD], [FIELD]]
    m1, m2 = (message(f) for _, f in rows)
    assert (m1["topic"], m1["payload"], m1["qos"], m1["retain"]) == (b"pk/1", b"\x00\xffbin", 1, True)
    assert (m2["topic"], m2["payload"], m2["qos"], m2["retain"]) == (b"pk/2", "text é".encode(), 0, False)
    assert m1["client_id"] == b"pub-pk" and m1["username"] == b"" and m1["broker"] == env["broker"].id.encode()
    assert t0 - 1000 <= m1["received_ms"] <= int(time.time() * 1000) + 1000
    resume(env, p)
    assert wait_until(lambda: len(arrived(env, "/pk")) == 2, timeout=10), env["fwd"].text()[-2000:]
    a, b = arrived(env, "/pk")
    assert (a["topic"], a["encoding"], a["payload"], a["retain"], a["qos"]) == ("pk/1", "base64", "AP9iaW4=", True, 1)
    assert (b["topic"], b["payload"], b["received_at_ms"]) == ("pk/2", "text é", m2["received_ms"])
    pub.publish("pk/1", b"", qos=0, retain=True)  # clear the retained message
    pub.disconnect()


def test_old_and_packed_entries_in_one_queue_arrive_in_order(env):
    """Entries written by brokers before and after the upgrade, interleaved
    in one queue: read both, in order; the same message gives the same JSON
    (its id aside) whichever layout holds it."""
    p = pipeline(env, "mixed", "/mx", status="paused")
    ids = [xadd(env, p, *old("mx/1", "one", qos=1, retain=False)),
           xadd(env, p, "m", encode("mx/2", "two", qos=1, client_id="dev", username="u", broker="b9",
                                   received_ms=TS)),
           xadd(env, p, *old("mx/3", b"\x00\xff")),
           xadd(env, p, "m", encode("mx/3", b"\x00\xff", qos=2, retain=True, client_id="dev", username="u",
                                   broker="b9", received_ms=TS))]
    resume(env, p)
    assert wait_until(lambda: len(arrived(env, "/mx")) == 4, timeout=10), env["fwd"].text()[-2000:]
    got = arrived(env, "/mx")
    assert [m["id"] for m in got] == [f"{p['id']}:{i}" for i in ids]
    assert [m["topic"] for m in got] == ["mx/1", "mx/2", "mx/3", "mx/3"]
    assert (got[0]["payload"], got[1]["payload"]) == ("one", "two")
    same = [{k: v for k, v in m.items() if k != "id"} for m in got[2:]]
    assert same[0] == same[1]
    assert same[0]["encoding"] == "base64" and same[0]["retain"] is True and same[0]["qos"] == 2
    assert same[0]["received_at"] == "2026-01-02T00:05:45.678Z" and same[0]["username"] == "u"
    assert wait_until(lambda: env["admin"].redis_cli("XLEN", key(p)) == "0", timeout=5)


def test_malformed_packed_entries_dead_lettered_the_rest_delivered(env):
    p = pipeline(env, "badpack", "/bp", status="paused")
    good = encode("bp/1", "ok", qos=1, client_id="dev", broker="b1", received_ms=TS)
    bad = [
        b"\x02" + good[1:],                    # another version
        good[:15],                             # cut short inside the client id
        good[:1] + b"\x03" + good[2:],         # QoS 3
        good[:1] + b"\x09" + good[2:],         # an unknown flag bit
        encode(b"bp/\xff", "x", broker="b1"),  # decodes; the topic is not UTF-8
        encode("bp/2", "x", client_id=b"\xc3("),
        b"",                                   # empty
    ]
    xadd(env, p, "m", good)
    for b in bad:
        xadd(env, p, "m", b)
    xadd(env, p, "m", good, "x", "y")          # a second field: neither layout
    xadd(env, p, *old("bp/8", "x", qos=7))      # the older layout with QoS 7
    xadd(env, p, "m", encode("bp/3", "ok3", broker="b1"))
    resume(env, p)
    dead = key(p, ":dead")
    assert wait_until(lambda: len(arrived(env, "/bp")) >= 2 and env["admin"].redis_cli("XLEN", dead) == "9",
                      timeout=10), (arrived(env, "/bp"), env["admin"].redis_cli("XLEN", dead), env["fwd"].text()[-2000:])
    assert [m["topic"] for m in arrived(env, "/bp")] == ["bp/1", "bp/3"]
    rows = [f for _, f in xrange(env["cl"].redis.port, dead)]
    assert all(b"malformed queue entry" in f[b"reason"] for f in rows)
    assert [f[b"m"] for f in rows[:-1]] == bad + [good]  # kept byte for byte
    assert rows[-1][b"t"] == b"bp/8" and rows[-1][b"q"] == b"7"
    assert wait_until(lambda: env["admin"].redis_cli("XLEN", key(p)) == "0", timeout=5)
