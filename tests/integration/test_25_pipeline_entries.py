"""Pipeline queue entries packed into one field (issue 17, lib/store/pipentry.h,
pipebundle.h): the broker writes the mapped PUBLISHes of one append call
bound for the same pipeline as one stream entry, a bundle "b" (or "m" when
it is one message); the forwarder reads those and, across an upgrade, the
"m" and eight-field entries older brokers wrote (kept as they are, not
migrated: a queue drains whichever it holds, in stream order, with the same
JSON for the same message); packed entries that do not decode, or decode to
text no JSON can carry, are dead-lettered as malformed with their bytes kept
and the rest delivered: a bundle whose framing is wrong whole, a member that
does not decode alone. A bundle's messages are tracked one by one (each its
own id "<entry id>:<index>", retries, dead letter) and the entry is
acknowledged once all are done. max_queue counts messages, bundles or not.

Real processes (test_61's env: Redis, admin, a broker in cluster mode,
roost-forwarder, an HTTP sink); entries written straight into the streams
over a binary-safe Redis connection (pipentry.py)."""

import signal
import time

from conftest import wait_until
from pipentry import FIELD, bundle, command, encode, message, messages, unbundle, xrange
from test_61_forwarder import (Forwarder, api, arrived, env, mapping, pipeline, publisher,  # noqa: F401 (env: fixture)
                               wait_routes)

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


def stats(env, p):
    return api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]


def test_a_bundles_members_are_done_one_by_one_the_entry_acked_at_the_end(env):
    """One bundle of five: delivered, refused (400: dead letter), not
    decodable (dead letter as malformed), throttled once (429 with
    Retry-After 2), delivered. The entry stays while its fourth member
    waits, and goes once all five are done; each dead letter holds its
    member alone under the member's id."""
    p = pipeline(env, "members", "/mb", status="paused")

    def m(payload):
        return encode("mb/x", payload, qos=1, client_id="dev", broker="b1", received_ms=TS)

    throttled = {"n": 0}

    def plan(path, body, headers):
        if path != "/mb":
            return 200, {}
        if body["payload"] == "bad":
            return 400, {}
        if body["payload"] == "slow" and throttled["n"] == 0:
            throttled["n"] += 1
            return 429, {"Retry-After": "2"}
        return 200, {}

    env["sink"].plan(plan)
    broken = m("x")[:12]  # cut short inside the topic
    eid = xadd(env, p, "b", bundle([m("ok0"), m("bad"), broken, m("slow"), m("ok4")]))
    resume(env, p)
    dead = key(p, ":dead")
    try:
        assert wait_until(lambda: env["admin"].redis_cli("XLEN", dead) == "2" and throttled["n"] == 1,
                          timeout=10), env["fwd"].text()[-2000:]
        # the fourth member waits for its Retry-After: the entry is still there
        assert env["admin"].redis_cli("XLEN", key(p)) == "1"
        assert wait_until(lambda: len(arrived(env, "/mb")) == 3, timeout=10), env["fwd"].text()[-2000:]
        got = arrived(env, "/mb")
        assert [(g["payload"], g["id"]) for g in got] == [("ok0", f"{p['id']}:{eid}:0"), ("slow", f"{p['id']}:{eid}:3"),
                                                       ("ok4", f"{p['id']}:{eid}:4")]
        reqs = [r for r in env["sink"].requests if r["path"] == "/mb" and r["status"] == 200]
        assert [r["headers"]["Idempotency-Key"] for r in reqs] == [g["id"] for g in got]
        assert wait_until(lambda: env["admin"].redis_cli("XLEN", key(p)) == "0", timeout=5)
        rows = {f[b"eid"].decode(): f for _, f in xrange(env["cl"].redis.port, dead)}
        assert set(rows) == {f"{eid}:1", f"{eid}:2"}
        assert b"HTTP 400" in rows[f"{eid}:1"][b"reason"] and message(rows[f"{eid}:1"])["payload"] == b"bad"
        assert b"malformed queue entry" in rows[f"{eid}:2"][b"reason"] and rows[f"{eid}:2"][b"m"] == broken
        st = stats(env, p)
        assert (st["queued"], st["forwarded"], st["dead_lettered"]) == (0, 3, 2), st
    finally:
        env["sink"].plan(None)


def test_max_queue_counts_messages_in_bundles(env):
    """Twenty QoS 1 PUBLISHes sent without waiting (the broker bundles what
    one loop turn appends) into a queue of seven: exactly seven kept, the
    first seven, thirteen dropped and counted; every one acknowledged."""
    p = pipeline(env, "capped", "/cap", max_queue=7, status="paused")
    mapping(env, "cap/#", p)
    wait_routes(env)
    pub = publisher(env, "pub-cap")
    infos = [pub.c.publish("cap/x", str(i), 1) for i in range(20)]
    for i in infos:
        i.wait_for_publish(10)
    assert all(i.is_published() for i in infos)
    rows = xrange(env["cl"].redis.port, key(p))
    held = [g["payload"] for _, f in rows for g in messages(f)]
    assert held == [str(i).encode() for i in range(7)], rows
    st = stats(env, p)
    assert (st["queued"], st["dropped"]) == (7, 13), st
    resume(env, p)
    assert wait_until(lambda: len(arrived(env, "/cap")) == 7, timeout=10)
    assert [m["payload"] for m in arrived(env, "/cap")] == [str(i) for i in range(7)]
    assert wait_until(lambda: stats(env, p)["queued"] == 0, timeout=5)
    pub.disconnect()


def test_a_queue_older_brokers_filled_is_counted_and_drained_after_the_upgrade(env):
    """Old entries (eight fields, "m") written directly, with no message
    count kept for the queue: its length reads as XLEN, the first append
    of a broker starts the count from there (max_queue 4: one of the two
    new messages dropped), and all of it drains in order."""
    p = pipeline(env, "upgrade", "/up", max_queue=4, status="paused")
    mapping(env, "up/#", p)
    wait_routes(env)
    xadd(env, p, *old("up/x", "old-0", qos=1, retain=False))
    xadd(env, p, "m", encode("up/x", "old-1", qos=1, client_id="dev", broker="b9", received_ms=TS))
    xadd(env, p, "m", encode("up/x", "old-2", qos=1, client_id="dev", broker="b9", received_ms=TS))
    assert stats(env, p)["queued"] == 3
    pub = publisher(env, "pub-up")
    infos = [pub.c.publish("up/x", f"new-{i}", 1) for i in range(2)]
    for i in infos:
        i.wait_for_publish(10)
    st = stats(env, p)
    assert (st["queued"], st["dropped"]) == (4, 1), st
    resume(env, p)
    assert wait_until(lambda: len(arrived(env, "/up")) == 4, timeout=10)
    assert [m["payload"] for m in arrived(env, "/up")] == ["old-0", "old-1", "old-2", "new-0"]
    assert wait_until(lambda: stats(env, p)["queued"] == 0, timeout=5)
    assert env["admin"].redis_cli("XLEN", key(p)) == "0"
    pub.disconnect()


def test_malformed_bundles_dead_lettered_whole(env):
    """Bundles whose framing is wrong (another version, a count past its
    members, bytes left over, a count of 0) are dead-lettered whole, their
    bytes kept; good bundles around them arrive in order."""
    p = pipeline(env, "badbundle", "/bb", status="paused")

    def m(payload):
        return encode("bb/x", payload, client_id="dev", broker="b1", received_ms=TS)

    good = bundle([m("a"), m("b")])
    bad = [b"\x02" + good[1:], bundle([m("x")], count=2), good + b"\x00", bundle([], count=0), b"\x01"]
    xadd(env, p, "b", good)
    bad_ids = [xadd(env, p, "b", b) for b in bad]
    xadd(env, p, "b", bundle([m("c"), m("d"), m("e")]))
    resume(env, p)
    dead = key(p, ":dead")
    assert wait_until(lambda: len(arrived(env, "/bb")) == 5 and env["admin"].redis_cli("XLEN", dead) == "5",
                      timeout=10), (arrived(env, "/bb"), env["fwd"].text()[-2000:])
    assert [g["payload"] for g in arrived(env, "/bb")] == ["a", "b", "c", "d", "e"]
    rows = [f for _, f in xrange(env["cl"].redis.port, dead)]
    assert [f[b"b"] for f in rows] == bad and [f[b"eid"].decode() for f in rows] == bad_ids
    assert all(b"malformed queue entry" in f[b"reason"] for f in rows)
    assert wait_until(lambda: env["admin"].redis_cli("XLEN", key(p)) == "0", timeout=5)
    assert unbundle(good) == [m("a"), m("b")]


def test_a_forwarder_taking_over_a_bundle_resends_it_whole_under_the_same_ids(env):
    """A forwarder delivers two members of a bundle of four, the sink
    refusing the others (503, retried), and is SIGKILLed: the one taking
    over claims the whole entry and sends all four, the first two again
    under the same ids (at least once); then the entry goes."""
    p = pipeline(env, "takeover-b", "/tb", status="paused", max_attempts=1000)

    def m(payload):
        return encode("tb/x", payload, qos=1, client_id="dev", broker="b1", received_ms=TS)

    env["sink"].plan(lambda path, body, h: (503, {}) if path == "/tb" and body["payload"] in ("c", "d") else (200, {}))
    eid = xadd(env, p, "b", bundle([m("a"), m("b"), m("c"), m("d")]))
    resume(env, p)
    try:
        assert wait_until(lambda: len(arrived(env, "/tb")) == 2 and
                          any(r["path"] == "/tb" and r["status"] == 503 for r in env["sink"].requests), timeout=10)
        env["fwd"].stop(signal.SIGKILL)
        env["sink"].plan(None)
        f2 = Forwarder(env["cl"].redis.port, env["cl"].dir, "f-tb")
        env["fwd"] = f2
        assert wait_until(lambda: len(arrived(env, "/tb")) == 6, timeout=20), f2.text()[-3000:]
        got = arrived(env, "/tb")
        ids = [f"{p['id']}:{eid}:{i}" for i in range(4)]
        # the first forwarder: a, b (c refused, retried, d behind it); the second: all four, in order
        assert [(g["payload"], g["id"]) for g in got] == list(zip("ababcd", ids[:2] * 2 + ids[2:])), got
        assert "entries_claimed" in f2.text()
        assert wait_until(lambda: env["admin"].redis_cli("XLEN", key(p)) == "0", timeout=5)
        st = stats(env, p)
        assert (st["queued"], st["dead_lettered"]) == (0, 0), st
    finally:
        env["sink"].plan(None)
