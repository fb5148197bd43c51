"""00 conformance: byte-level send/expect tables in data/*.json, run over raw
sockets against a real broker (STYLE.md convention 16).

Each case: {"id": "[MQTT-x.y.z-n] what", "send": ["hex", ...],
            "expect": ["hex" | "closed", ...], optional "broker": {limits},
            "allow_before_close": ["hex", ...], "roost_only": true,
            "mosquitto_deviates": "reason", "comment": "..."}
All "send" chunks are written in order on one fresh connection, then each
"expect" is read in order: hex must match the next bytes exactly ("??" matches
any byte), "closed" means the broker closes the connection with nothing else
sent (except packets listed in allow_before_close). A case that does not end
with "closed" is finished with PINGREQ, which must be answered by PINGRESP as
the very next packet: no stray packet and the connection is still alive.
Hex may contain spaces."""

import glob
import json
import os

import pytest

from conftest import (IS_MOSQUITTO, PINGREQ, Broker, RawClient, assert_closed_by_broker, h)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _load():
    params = []
    for path in sorted(glob.glob(os.path.join(DATA, "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            cases = json.load(f)
        seen = set()
        for c in cases:
            assert c["id"] not in seen, "duplicate id %r in %s" % (c["id"], path)
            seen.add(c["id"])
            marks = []
            if c.get("roost_only"):
                marks.append(pytest.mark.roost_only)
            if c.get("mosquitto_deviates"):
                marks.append(pytest.mark.mosquitto_deviates(c["mosquitto_deviates"]))
            params.append(pytest.param(c, id="%s: %s" % (name, c["id"]), marks=marks))
    return params


CASES = _load()


@pytest.fixture(scope="module")
def brokers(module_tmpdir):
    """One broker per distinct "broker" limits dict, shared by the module."""
    made = {}
    yield made
    for b in made.values():
        b.stop()


def _broker_for(brokers, module_tmpdir, limits):
    key = json.dumps(limits or {}, sort_keys=True)
    b = brokers.get(key)
    if b is None or not b.alive():
        b = brokers[key] = Broker(module_tmpdir, **(limits or {})).start()
    return b


def _match(expected_hex, got):
    exp = expected_hex.split() if " " in expected_hex.strip() else \
        [expected_hex[i:i + 2] for i in range(0, len(expected_hex), 2)]
    if len(exp) != len(got):
        return False
    return all(e == "??" or int(e, 16) == g for e, g in zip(exp, got))


def _nbytes(expected_hex):
    s = "".join(expected_hex.split())
    return len(s) // 2


def test_tables_are_well_formed():
    assert CASES, "no conformance cases found in %s" % DATA
    for p in CASES:
        c = p.values[0]
        assert set(c) <= {"id", "send", "expect", "broker", "allow_before_close", "roost_only",
                          "mosquitto_deviates", "comment"}, c
        assert c["send"] and c["expect"], c["id"]
        for s in c["send"]:
            h(s)
        assert all(e == "closed" or _nbytes(e) > 0 for e in c["expect"]), c["id"]
        assert "closed" not in c["expect"][:-1], "'closed' must be last: %s" % c["id"]


@pytest.mark.parametrize("case", CASES)
def test_case(request, brokers, module_tmpdir, case):
    b = _broker_for(brokers, module_tmpdir, case.get("broker"))
    mark = len(b.log())
    c = RawClient(b.port)
    try:
        c.send(b"".join(h(s) for s in case["send"]))
        for e in case["expect"]:
            if e == "closed":
                allowed = [h(a) for a in case.get("allow_before_close", [])]
                assert_closed_by_broker(c, allow=lambda p: p.raw in allowed)
                break
            got = c.read_exact(_nbytes(e))
            assert _match(e, got), "expected %s, got %s" % (e, got.hex(" "))
        else:
            c.send(PINGREQ)
            p = c.recv_packet()
            assert p.raw == b"\xd0\x00", "expected PINGRESP next, got %r" % p
    except BaseException:
        print("\n----- broker log for this case -----\n" + b.log()[mark:][-8000:])
        raise
    finally:
        c.close()
    assert b.alive(), "broker died"
