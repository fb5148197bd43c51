"""roost-forwarder through a 20 s HTTP sink outage (issue 17): messages
published before and during the outage stay queued in the pipeline's
stream (nothing dead-lettered: the pipeline allows enough attempts for the
outage at this backoff), the forwarder keeps retrying, and once the sink is
back every one arrives exactly once, in publish order.

Its own stack (test_61's fixture: Redis, admin, a broker in cluster mode,
roost-forwarder, a real HTTP sink) so that the 20 s run beside the other
integration files under ctest -j instead of adding to test_61's wall time.
Also here (same stack): acknowledgements held past --claim-idle-ms are not
claimed back and sent twice."""
import time

from conftest import wait_until
from test_61_forwarder import api, arrived, env, mapping, pipeline, publisher, wait_routes  # noqa: F401

OUTAGE_S = 20


def metric(text, name, pid):
    for line in text.splitlines():
        if line.startswith(f'{name}{{pipeline="{pid}"}} '):
            return float(line.split()[-1])
    return None


def test_sink_down_20s_then_up_all_arrive_once_in_order(env):
    # the forwarder's backoff tops out at 1 s: ~20 failed attempts per
    # entry over the outage, more than the default max_attempts of 10
    p = pipeline(env, "outage", "/o", max_attempts=100)
    mapping(env, "out/#", p)
    wait_routes(env)
    env["sink"].down()
    t_down = time.time()
    pub = publisher(env, "pub-outage")
    sent = []

    def publish(n):
        for _ in range(n):
            i = len(sent)
            pub.publish(f"out/{i % 3}", str(i), qos=1)  # PUBACK: in the stream
            sent.append(str(i))

    publish(60)
    time.sleep(OUTAGE_S / 2)
    publish(40)  # queued behind entries already being retried
    st = api(env, "GET", f"/api/v1/pipelines/{p['id']}")
    assert st["delivery"]["queued"] == 100 and st["delivery"]["last_error"], st
    time.sleep(max(0.0, OUTAGE_S - (time.time() - t_down)))
    st = api(env, "GET", f"/api/v1/pipelines/{p['id']}")
    assert st["delivery"]["queued"] == 100 and st["delivery"]["dead_lettered"] == 0, st
    retried = metric(env["fwd"].get("/metrics")[1], "roost_forwarder_retried_total", p["id"])
    assert retried and retried >= 10, retried  # retried all along, not once
    assert arrived(env, "/o") == []
    env["sink"].up()
    assert wait_until(lambda: len(arrived(env, "/o")) >= 100, timeout=15), env["fwd"].text()[-3000:]
    time.sleep(0.5)
    got = arrived(env, "/o")
    assert [m["payload"] for m in got] == sent
    assert [m["topic"] for m in got] == [f"out/{i % 3}" for i in range(100)]
    assert wait_until(lambda: api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["queued"] == 0, timeout=5)
    assert api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["dead_lettered"] == 0
    pub.disconnect()



def test_acks_held_past_claim_idle_not_claimed_back(env):
    """Acknowledgements the forwarder holds (the sink took the batch, the
    XACK did not reach Redis) keep their entries this forwarder's: its own
    claim (XAUTOCLAIM of entries idle past --claim-idle-ms, 1.5 s here)
    must not take them back and POST them a second time.

    The acks are held by Redis refusing the ack script (an ACL without
    EVALSHA, set by the sink while the batch is in) for 3.5 s while reads
    and claims still work. A SIGSTOPped Redis does not show the defect: the
    forwarder retries its acks every few ms and skips its claims while
    Redis is unreachable, so the XACK is the first command served when
    Redis runs again. While refused, the acks are retried after a doubling
    pause (50 ms up to 2 s), each try one warning."""
    redis = env["cl"].redis
    p = pipeline(env, "heldacks", "/h", batch_size=20, max_attempts=100)
    mapping(env, "held/#", p)
    wait_routes(env)
    state = {"mode": "fail", "refused": None}

    def plan(path, body, headers):
        if path != "/h":
            return 200, {}
        if state["mode"] == "fail":
            return 503, {}
        if state["mode"] == "refuse":  # the batch is in: refuse its ack before the 2xx
            assert redis.cmd("ACL", "SETUSER", "default", "-evalsha", "-eval") == "OK"
            state["refused"] = time.time()
            state["mode"] = "ok"
        return 200, {}

    env["sink"].plan(plan)
    pub = publisher(env, "pub-heldacks")
    try:
        for i in range(20):
            pub.publish(f"held/{i % 2}", f"h{i}", qos=1)

        def failed_full_batch():
            with env["sink"].lock:
                return any(r["path"] == "/h" and r["status"] == 503 and len(r["body"]) == 20
                           for r in env["sink"].requests)

        assert wait_until(failed_full_batch, timeout=10), env["fwd"].text()[-3000:]
        state["mode"] = "refuse"
        assert wait_until(lambda: state["refused"] is not None, timeout=5), env["fwd"].text()[-3000:]
        time.sleep(3.5)  # > --claim-idle-ms plus one claim period (claim-idle-ms / 2)
    finally:
        redis.cmd("ACL", "SETUSER", "default", "+@all")
    assert wait_until(lambda: api(env, "GET", f"/api/v1/pipelines/{p['id']}")["delivery"]["queued"] == 0,
                      timeout=10), env["fwd"].text()[-3000:]
    time.sleep(1.0)  # a claimed-back entry would be POSTed within this
    env["sink"].plan(None)
    got = arrived(env, "/h")
    ids = [m["id"] for m in got]
    assert sorted(ids) == sorted(set(ids)), ("sent twice", ids, env["fwd"].text()[-3000:])
    assert sorted(m["payload"] for m in got) == sorted(f"h{i}" for i in range(20)), ids
    # the refused acks were retried after a doubling pause, not every few
    # ms with a warning each (~600 lines in these 3.5 s before)
    refused = env["fwd"].text().count("op=ack")
    assert 1 <= refused <= 20, (refused, env["fwd"].text()[-3000:])
    pub.disconnect()
