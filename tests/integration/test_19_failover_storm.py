"""19 failover storm (issue 12): 1,000 devices sharing 200 credentials on one
broker of a two-broker cluster; that broker is killed (SIGKILL, by PID) and
every device comes back through haproxy on the other one: once with authd's
cache warm, once right after authd restarted (cold). argon2 runs at most
once per distinct credential in each phase (identical verifications in
flight are coalesced: authd_hash_shared_total). Time to all back, attempts,
CONNACK 3 count and argon2 runs are printed and written to
tests/integration/out/failover_storm.json for the note (figures, not
assertions on time: the machine is shared).

Devices are raw sockets on one selectors loop (test_32's Fleet)."""

import json
import os

import pytest

from cluster_stack import HAProxy
from stack import AUTHD_BIN, BROKER_BIN, stack  # noqa: F401  (stack: fixture)
from test_32_reconnect_storm import Fleet, connect_packet, raise_nofile

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

N = int(os.environ.get("ROOST_FAILOVER_DEVICES", "1000"))
CREDS = 200
ARGON2_MEM = 16 << 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "failover_storm.json")


def seed(stack):
    g = stack.add_group("fo", [("allow", "publish", "fo/#"), ("allow", "subscribe", "fo/#")])
    stack.add_rule("mqtt_client_id", "fo-dev-*", [g["id"]])
    for k in range(CREDS):
        stack.add_client("fo-user-%03d" % k, "pw-fo-user-%03d" % k)


def fleet_for(port):
    f = Fleet(port, N)
    for d in f.devices:
        u = ("fo-user-%03d" % (d.i % CREDS)).encode()
        d.packet = connect_packet(("fo-dev-%04d" % d.i).encode(), u, b"pw-" + u)
    return f


def counters(authd):
    m = authd.metrics()
    return (m["authd_hash_verifications_total"], m["authd_hash_shared_total"],
            m['authd_requests_total{result="ok"}'])


def test_devices_of_a_killed_broker_all_back_warm_and_cold(stack):
    raise_nofile(2 * N + 1024)
    stack.start_redis()
    # stored hashes that cost argon2 some real time (16 MiB, 2 passes:
    # about 20-40 ms each here), so verifications overlap in a storm
    stack.start_admin(argon2_ops=2, argon2_mem=ARGON2_MEM)
    authd = stack.start_authd(changes=True, argon2_ops=2, argon2_mem=ARGON2_MEM)
    b1 = stack.start_broker("b1", cluster=True)
    b2 = stack.start_broker("b2", cluster=True)
    seed(stack)
    lb = HAProxy(stack.dir, [("b1", b1.port), ("b2", b2.port)], maxconn=N + 100).start()
    figures = {"devices": N, "credentials": CREDS}
    fleet = fleet_for(b1.port)
    try:
        # all on b1 to begin with (a cold cache too: the first connect)
        v0 = counters(authd)
        secs, attempts = fleet.connect_all()
        v1 = counters(authd)
        figures["first_connect"] = {"seconds": round(secs, 2), "attempts": attempts,
                                    "connack3": fleet.codes.get(3, 0), "argon2_runs": int(v1[0] - v0[0]),
                                    "shared": int(v1[1] - v0[1])}
        assert v1[0] - v0[0] <= CREDS, figures

        def failover(victim, label):
            before = counters(authd)
            victim.kill()
            fleet.wait_all_closed()
            lb.wait_state(victim.name, "DOWN", timeout=10.0)
            fleet.port = lb.port
            secs, attempts = fleet.connect_all()
            after = counters(authd)
            figures[label] = {"seconds": round(secs, 2), "attempts": attempts,
                              "connack3": fleet.codes.get(3, 0), "errors": fleet.errors,
                              "argon2_runs": int(after[0] - before[0]),
                              "shared": int(after[1] - before[1])}
            assert after[2] - before[2] >= N, figures       # every device authenticated again
            assert after[0] - before[0] <= CREDS, figures   # argon2 at most once per credential

        failover(b1, "warm")          # the credentials are in authd's cache
        b1.start()
        lb.wait_state("b1", "UP", timeout=10.0)
        authd.restart()               # an empty cache
        failover(b2, "cold")
    finally:
        fleet.close()
        lb.stop()
        print("\nfailover storm: " + json.dumps(figures, indent=1))
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT, "w") as f:
            json.dump(figures, f, indent=1)
            f.write("\n")
