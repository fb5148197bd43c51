"""roost-authd's login throttling policy (README "Login throttling",
services/authd/guard.h) against a real authd and Redis, one request per
probe run so each failure is recorded before the next request arrives.

  - an address's failures are not cleared by another username's success
    (a valid credential no longer buys an attacker endless guesses);
  - a (username, address) block does not lock the real device out from its
    own, clean address;
  - a username-wide block only slows a clean address and refuses addresses
    with failures;
  - blocks lift after they end.
"""

import time

from test_30_authd import FAST_COST, env, redis  # noqa: F401 (fixtures)


def seed_two(seed):
    seed("client", "Alice", "alice", "alice-pass", cost=FAST_COST)
    seed("client", "Bob", "bob", "bob-pass", cost=FAST_COST)


def test_another_usernames_success_does_not_clear_the_address(env):
    redis, prefix, seed, authd = env
    seed_two(seed)
    a = authd("--throttle-after", "5", "--throttle-peer-after", "20", "--throttle-window", "60",
              "--throttle-max", "60")
    attacker = "203.0.113.7:%d"
    statuses = []
    for i in range(60):
        if i % 4 == 3:   # the attacker's own valid credential, every 4th attempt
            r = a.one(username="alice", password="alice-pass", client_id="a", peer=attacker % (1000 + i))
        else:            # a spray: one guess per username
            r = a.one(username="victim%d" % i, password="guess", client_id="v", peer=attacker % (1000 + i))
        statuses.append(r["status"])
    guesses = [s for i, s in enumerate(statuses) if i % 4 != 3]
    # The 20th failure blocks the address; blocks only grow while guesses
    # continue, so at most a handful more get through as blocks end.
    assert guesses.count("bad_credentials") <= 22, statuses
    assert guesses.count("throttled") >= 20, statuses
    # Blocked for everyone at that address, the valid credential included.
    # A block starts at 1 s and doubles per counted failure, and throttled
    # guesses count nothing, so the block running now may be about to end:
    # guess until one is counted (a block of 2 s or more starts with it),
    # then ask at once ...
    deadline = time.monotonic() + 70
    while a.one(username="victim-last", password="guess", client_id="v",
                peer="203.0.113.7:8")["status"] == "throttled":
        assert time.monotonic() < deadline, "the address stayed blocked past --throttle-max"
        time.sleep(0.05)
    assert a.one(username="alice", password="alice-pass", peer="203.0.113.7:9")["status"] == "throttled"
    # ... but not for anyone elsewhere.
    assert a.one(username="alice", password="alice-pass", peer="198.51.100.1:9")["status"] == "ok"
    assert "reason=throttled_address" in a.logtext()


def test_pair_block_does_not_lock_the_device_out_elsewhere(env):
    redis, prefix, seed, authd = env
    seed_two(seed)
    a = authd("--throttle-after", "3", "--throttle-max", "2", "--throttle-window", "30")
    for i in range(3):
        assert a.one(username="bob", password="wrong%d" % i, peer="192.0.2.1:%d" % i)["status"] == "bad_credentials"
    # that username from that address (any port): refused, even with the right password
    assert a.one(username="bob", password="bob-pass", peer="192.0.2.1:77")["status"] == "throttled"
    # the device itself, from its own address: in
    assert a.one(username="bob", password="bob-pass", peer="192.0.2.2:77")["status"] == "ok"
    # another username from the blocked address: in
    assert a.one(username="alice", password="alice-pass", peer="192.0.2.1:78")["status"] == "ok"
    assert "reason=throttled_username_address" in a.logtext()
    time.sleep(1.2)  # the first block is 1 s
    assert a.one(username="bob", password="bob-pass", peer="192.0.2.1:79")["status"] == "ok"
    # the success reset the pair: one wrong password is a plain refusal again
    assert a.one(username="bob", password="nope", peer="192.0.2.1:80")["status"] == "bad_credentials"


def test_username_block_slows_clean_addresses_and_refuses_dirty_ones(env):
    redis, prefix, seed, authd = env
    seed_two(seed)
    a = authd("--throttle-after", "5", "--throttle-user-after", "4", "--throttle-max", "30",
              "--throttle-window", "60")
    # a distributed guess at one username: one failure per address; the
    # 4th starts a 1 s block, the 5th and 6th double it (4 s from the last)
    for i in range(6):
        assert a.one(username="bob", password="guess%d" % i, peer="10.20.0.%d:5" % i)["status"] == "bad_credentials"
    # from an address that failed: refused
    assert a.one(username="bob", password="bob-pass", peer="10.20.0.1:6")["status"] == "throttled"
    # from a clean address: the right password still gets in, after a wait
    t0 = time.monotonic()
    assert a.one(username="bob", password="bob-pass", peer="10.99.0.1:6")["status"] == "ok"
    waited = time.monotonic() - t0
    assert waited >= 0.9, waited
    # and a wrong one from another clean address is answered (slowly), not refused
    assert a.one(username="bob", password="wrong", peer="10.99.0.2:6")["status"] == "bad_credentials"
    # other usernames are not slowed
    t0 = time.monotonic()
    assert a.one(username="alice", password="alice-pass", peer="10.99.0.3:6")["status"] == "ok"
    assert time.monotonic() - t0 < 0.9
    log = a.logtext()
    assert "auth_slowed" in log and "reason=slowed_username" in log and "reason=throttled_username " in log
    m = a.metrics()
    assert m['authd_requests_total{result="throttled"}'] == 1
    assert m["authd_throttled_keys"] > 0
