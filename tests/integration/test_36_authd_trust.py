"""roost-authd answers only brokers holding an allowed CurveZMQ key
(--curve-clients), so the peer address in a request, which its throttling
counts, comes only from them. Real authd, broker, admin, Redis; the attacker
is a real ZeroMQ client (roost-authd-probe) with its own key pair or none.
"""

import json
import os
import subprocess

import pytest

from conftest import RawClient, T, connect_pkt, uid
from stack import AUTHD_BIN, BUILD, ROOSTCTL_BIN, stack, wait_for  # noqa: F401  (stack: fixture)

PROBE = os.path.join(BUILD, "services", "authd", "roost-authd-probe")
PW = "password-123"

pytestmark = pytest.mark.skipif(not os.path.exists(PROBE), reason="roost-authd-probe not built")


def keypair():
    out = subprocess.run([ROOSTCTL_BIN, "keygen", "--json"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ask(endpoint, server_pub, client_secret=None, timeout_ms=1500, **req):
    args = [PROBE, "--connect", endpoint, "--timeout-ms", str(timeout_ms)]
    if server_pub:
        args += ["--curve-server", server_pub]
    if client_secret:
        args += ["--curve-client-secret", client_secret]
    args += ["--req"]
    for k, v in req.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_ms / 1000 + 10)
    (reply,) = [json.loads(line) for line in out.stdout.splitlines()]
    return reply["status"]


def connack(port, username, password):
    c = RawClient(port, T)
    c.send(connect_pkt(uid("c"), username=username, password=password.encode()))
    p = c.expect("CONNACK", T)
    c.close()
    return p.body[1]


def test_only_listed_broker_keys_may_ask(stack):
    srv, brk, other = keypair(), keypair(), keypair()
    stack.start_redis()
    stack.start_admin()
    a = stack.start_authd(extra=["--curve-secret", srv["secret"], "--curve-clients", brk["public"]])
    b = stack.start_broker(authd=a, extra=["--authd-server-key", srv["public"],
                                           "--authd-client-key", brk["secret"]])
    stack.add_client("dev", PW)
    # the broker holding the listed key: decisions as usual
    assert connack(b.port, "dev", PW) == 0
    assert connack(b.port, "dev", "wrong") == 4
    req = dict(username="dev", password="guess", peer="198.51.100.%d:1" % 7)
    # an attacker who reaches the port with its own key pair, or with none: no answer
    assert ask(a.endpoint, srv["public"], other["secret"], **req) == "timeout"
    assert ask(a.endpoint, srv["public"], None, **req) == "timeout"      # ephemeral key
    assert ask(a.endpoint, None, None, **req) == "timeout"               # plain socket
    assert "curve_client_refused" in a.log() and "service=authd" in a.log()
    # the same request with the listed key is answered: it is the key that counts
    assert ask(a.endpoint, srv["public"], brk["secret"], **req) == "bad_credentials"
    assert "curve_clients=1" in a.log()
    assert "authd_unauthenticated" not in a.log() and "authd_any_curve_client" not in a.log()


def test_warnings_name_the_risk_without_a_key_list(stack):
    srv = keypair()
    stack.start_redis()
    plain = stack.start_authd()
    assert wait_for(lambda: "authd_unauthenticated" in plain.log(), 5.0)
    anykey = stack.start_authd(extra=["--curve-secret", srv["secret"]])
    assert wait_for(lambda: "authd_any_curve_client" in anykey.log(), 5.0)
    # without a list, any key is answered (documented; the warning says so)
    assert ask(anykey.endpoint, srv["public"], keypair()["secret"], username="x", password="y") == "bad_credentials"


def test_bad_key_lists_are_refused_at_start(stack):
    srv = keypair()
    stack.start_redis()
    base = [AUTHD_BIN, "--redis", stack.redis.addr, "--http-port", "0", "--bind", "tcp://127.0.0.1:1"]
    out = subprocess.run(base + ["--curve-clients", srv["public"]], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--curve-clients needs --curve-secret" in out.stderr
    for bad in ("not-a-key", srv["public"] + ",", srv["public"] + ",,x"):
        out = subprocess.run(base + ["--curve-secret", srv["secret"], "--curve-clients", bad],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 1 and "curve_clients_invalid" in out.stderr, (bad, out.stderr)
