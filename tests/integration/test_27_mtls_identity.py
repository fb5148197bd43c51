"""27: mutual TLS identity end to end: the broker sends authd the SHA-256
fingerprint of the certificate the handshake verified, and group rules
`match_by: certificate_fingerprint` (made through admin's HTTP API) grant
exactly their topics to a device presenting that certificate. A rule edited
while the device is connected applies at its next CONNECT. explain takes a
fingerprint and names the rule that matched it."""

import os
import shutil
import tempfile

import pytest

from conftest import connect_pkt, subscribe_pkt, uid, wait_until
from stack import AUTHD_BIN, BROKER_BIN, free_port, stack  # noqa: F401  (stack: fixture)
from tlscerts import client_ctx, fingerprint_of, make_ca, make_cert, tls_raw

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

PW = "password-123"


class Certs:
    pass


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="tls61-")
    c = Certs()
    c.ca = make_ca(d, "ca", "Roost Test CA")
    c.server = make_cert(d, c.ca, "server", "localhost", san="DNS:localhost,IP:127.0.0.1")
    c.dev1 = make_cert(d, c.ca, "dev1", "device-1")
    c.dev2 = make_cert(d, c.ca, "dev2", "device-2")
    c.fp1, c.fp2 = fingerprint_of(c.dev1[0]), fingerprint_of(c.dev2[0])
    yield c
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def st(stack, certs):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd()
    tls_port = free_port()
    b = stack.start_broker(extra=("--tls-port", str(tls_port), "--tls-cert", certs.server[0],
                                  "--tls-key", certs.server[1], "--tls-ca", certs.ca[0],
                                  "--tls-client-cert", "optional"))
    b.tls_port = tls_port
    stack.tls_port = tls_port
    return stack


def subscribe_codes(st, certs, cert, username, filters):
    """CONNECTs over TLS presenting cert (or none) and returns the SUBACK codes."""
    c = tls_raw(st.tls_port, client_ctx(certs, cert=cert))
    try:
        c.send(connect_pkt(uid("m"), username=username, password=PW.encode()))
        p = c.expect("CONNACK")
        assert p.body[1] == 0, p
        c.send(subscribe_pkt(1, [(f, 1) for f in filters]))
        return list(c.expect("SUBACK").body[2:])
    finally:
        c.close()


def test_fingerprint_rule_grants_exactly_its_topics(st, certs):
    st.add_client("dev", PW)
    g = st.add_group("by-cert", [("allow", "subscribe", "cert/a/#")])
    # stored in uppercase hex: the comparison ignores the case of the digits
    st.add_rule("certificate_fingerprint", "SHA256:" + certs.fp1[7:].upper(), [g["id"]])
    assert subscribe_codes(st, certs, certs.dev1, "dev", ["cert/a/x", "cert/b/x"]) == [1, 0x80]
    # the same credentials without a certificate, or with another one: no group
    assert subscribe_codes(st, certs, None, "dev", ["cert/a/x"]) == [0x80]
    assert subscribe_codes(st, certs, certs.dev2, "dev", ["cert/a/x"]) == [0x80]
    # over plain TCP there is no certificate either
    from conftest import RawClient
    c = RawClient(st.brokers[0].port)
    c.send(connect_pkt(uid("p"), username="dev", password=PW.encode()))
    assert c.expect("CONNACK").body[1] == 0
    c.send(subscribe_pkt(1, [("cert/a/x", 1)]))
    assert list(c.expect("SUBACK").body[2:]) == [0x80]
    c.close()


def test_rule_edited_while_connected_applies_at_next_connect(st, certs):
    st.add_client("dev", PW)
    g = st.add_group("by-cert", [("allow", "subscribe", "cert/#")])
    r = st.add_rule("certificate_fingerprint", certs.fp1, [g["id"]])
    live = tls_raw(st.tls_port, client_ctx(certs, cert=certs.dev1))
    live.send(connect_pkt(uid("live"), username="dev", password=PW.encode()))
    assert live.expect("CONNACK").body[1] == 0
    st.edit_rule(r["id"], value=certs.fp2)
    # the live connection keeps what it was given at CONNECT
    live.send(subscribe_pkt(1, [("cert/x", 1)]))
    assert list(live.expect("SUBACK").body[2:]) == [1]
    live.close()
    # the next CONNECTs see the edited rule
    assert subscribe_codes(st, certs, certs.dev1, "dev", ["cert/x"]) == [0x80]
    assert subscribe_codes(st, certs, certs.dev2, "dev", ["cert/x"]) == [1]


def test_explain_takes_a_fingerprint(st, certs):
    st.add_client("dev", PW)
    g = st.add_group("by-cert", [("allow", "publish", "cert/#")])
    r = st.add_rule("certificate_fingerprint", certs.fp1, [g["id"]])

    def explain(fp=None):
        body = {"username": "dev", "mqtt_client_id": "x", "action": "publish", "topic": "cert/1"}
        if fp is not None:
            body["certificate_fingerprint"] = fp
        return st.api("POST", "/api/v1/explain", body)

    status, d = explain(certs.fp1)
    assert status == 200, d
    assert d["decision"] == "allow"
    assert d["rules"] == [{"id": r["id"], "match_by": "certificate_fingerprint", "value": certs.fp1}]
    assert d["groups"] == [{"id": g["id"], "name": "by-cert"}]
    status, d = explain()
    assert status == 200 and d["decision"] == "deny" and d["rules"] == [], d
    status, d = explain(certs.fp2)
    assert status == 200 and d["decision"] == "deny" and d["rules"] == [], d
    status, d = explain("SHA256:abc")
    assert status == 400 and d["details"]["field"] == "certificate_fingerprint", d


# ---------------------------------------------------------------- certificate clients

def pem(path):
    with open(path) as f:
        return f.read()


def tls_connack(st, certs, cert, username=None, password=None, client_id=None):
    """CONNECT over TLS presenting cert; returns (client or None, CONNACK code)."""
    c = tls_raw(st.tls_port, client_ctx(certs, cert=cert))
    pw = password.encode() if password else None
    c.send(connect_pkt(client_id or uid("cc"), username=username, password=pw))
    p = c.expect("CONNACK")
    rc = p.body[1]
    if rc:
        c.close()
        return None, rc
    return c, rc


def test_certificate_client_connects_without_username(st, certs):
    status, cl = st.api("POST", "/api/v1/clients", {"name": "Boiler 9", "certificate": pem(certs.dev1[0])})
    assert status == 201, cl
    assert cl["auth_type"] == "certificate" and cl["username"] is None and cl["password_set"] is False
    assert cl["certificate"]["fingerprint"] == certs.fp1
    assert cl["certificate"]["subject"] == "CN=device-1"
    assert cl["certificate"]["issuer"] == "CN=Roost Test CA"
    assert cl["certificate"]["not_after"] > cl["certificate"]["not_before"]
    status, got = st.api("GET", "/api/v1/clients/%s" % cl["id"])
    assert status == 200 and got["certificate"] == cl["certificate"], got
    g = st.add_group("boilers", [("allow", "subscribe", "boiler/#")])
    st.add_rule("client", cl["id"], [g["id"]])
    c, rc = tls_connack(st, certs, certs.dev1)
    assert rc == 0
    c.send(subscribe_pkt(1, [("boiler/1", 1), ("other/1", 1)]))
    assert list(c.expect("SUBACK").body[2:]) == [1, 0x80]
    c.close()
    # an unknown certificate (same CA, no client holds it) is not authorized
    assert tls_connack(st, certs, certs.dev2)[1] == 5
    # no certificate and no username: anonymous, refused by default
    assert tls_connack(st, certs, None)[1] == 5
    # the client deleted: its certificate no longer admits anyone
    st.delete_client(cl["id"])
    assert tls_connack(st, certs, certs.dev1)[1] == 5


def test_certificate_client_bound_to_its_client_ids(st, certs):
    """allowed_client_ids hold for a certificate client too: its certificate
    must not let it CONNECT as another device's id (and take that session
    over). Before the fix the certificate path accepted any client id."""
    status, cl = st.api("POST", "/api/v1/clients", {"name": "Boiler 10", "certificate": pem(certs.dev1[0]),
                                                    "allowed_client_ids": ["boiler-*"]})
    assert status == 201 and cl["allowed_client_ids"] == ["boiler-*"], cl
    c, rc = tls_connack(st, certs, certs.dev1, client_id="boiler-10")
    assert rc == 0
    c.close()
    assert tls_connack(st, certs, certs.dev1, client_id="victim-1")[1] == 5
    # authd writes its line after it answered, so it may come just after
    # the CONNACK: wait for it rather than read the log at once
    assert wait_until(lambda: "client_id_not_allowed" in st.authds[0].log(), 5), st.authds[0].log()[-2000:]
    st.delete_client(cl["id"])


def test_client_with_credentials_and_certificate_needs_both(st, certs):
    status, cl = st.api("POST", "/api/v1/clients", {"name": "Both", "username": "both", "password": PW,
                                                    "certificate": pem(certs.dev1[0])})
    assert status == 201 and cl["auth_type"] == "both" and cl["password_set"], cl
    assert tls_connack(st, certs, certs.dev1, "both", PW)[1] == 0
    assert tls_connack(st, certs, None, "both", PW)[1] == 5          # certificate missing
    assert tls_connack(st, certs, certs.dev2, "both", PW)[1] == 5    # another certificate
    assert tls_connack(st, certs, certs.dev1, "both", "wrong-password")[1] == 4
    assert tls_connack(st, certs, certs.dev1)[1] == 5                # the certificate alone


def test_certificate_added_to_a_credentials_client(st, certs):
    cl = st.add_client("later", PW)
    assert cl["auth_type"] == "username_password"
    assert tls_connack(st, certs, None, "later", PW)[1] == 0
    status, cl = st.api("PATCH", "/api/v1/clients/%s" % cl["id"], {"certificate": pem(certs.dev2[0])})
    assert status == 200 and cl["auth_type"] == "both" and cl["certificate"]["fingerprint"] == certs.fp2, cl
    assert tls_connack(st, certs, None, "later", PW)[1] == 5
    assert tls_connack(st, certs, certs.dev2, "later", PW)[1] == 0


def test_certificate_input_errors(st, certs, tmp_path):
    status, d = st.api("POST", "/api/v1/clients", {"name": "x", "certificate": "not a certificate"})
    assert status == 400 and d["details"]["field"] == "certificate", d
    assert "no PEM certificate" in d["error"], d
    expired = make_cert(str(tmp_path), certs.ca, "old", "old-device", expired=True)
    status, d = st.api("POST", "/api/v1/clients", {"name": "x", "certificate": pem(expired[0])})
    assert status == 400 and d["details"]["field"] == "certificate" and "expired" in d["error"], d
    status, _ = st.api("POST", "/api/v1/clients", {"name": "one", "certificate": pem(certs.dev1[0])})
    assert status == 201
    status, d = st.api("POST", "/api/v1/clients", {"name": "two", "certificate": pem(certs.dev1[0])})
    assert status == 409 and d["details"]["field"] == "certificate", d
    # neither credentials nor a certificate
    status, d = st.api("POST", "/api/v1/clients", {"name": "nothing"})
    assert status == 400, d


def test_roostctl_certificate_client_and_explain_fingerprint(st, certs):
    import json
    import subprocess
    from stack import ROOSTCTL_BIN, TOKEN
    ctl = [ROOSTCTL_BIN, "--admin", st.admin.rpc, "--token", TOKEN, "--json"]
    p = subprocess.run(ctl + ["clients", "create", "--name", "Pump", "--certificate", certs.dev2[0]],
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 0, p.stderr
    cl = json.loads(p.stdout)
    assert cl["auth_type"] == "certificate" and cl["certificate"]["fingerprint"] == certs.fp2
    p = subprocess.run(ctl + ["clients", "create", "--name", "Nope", "--certificate", "/nonexistent.pem"],
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 1 and "/nonexistent.pem" in p.stderr, p
    st.add_client("dev", PW)
    g = st.add_group("g", [("allow", "publish", "p/#")])
    r = st.add_rule("certificate_fingerprint", certs.fp1, [g["id"]])
    p = subprocess.run(ctl + ["explain", "--username", "dev", "--client-id", "x", "--action", "publish",
                              "--topic", "p/1", "--fingerprint", certs.fp1], capture_output=True, text=True, timeout=15)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["decision"] == "allow" and d["rules"][0]["id"] == r["id"], d
