"""64: the brokers' TLS certificates managed through admin (the console's
Certificates page, /api/v1/certificates, roostctl certificates): validated
before they are stored (a 400 naming the field), the private key never
returned, logged or audited, and every broker of the cluster serving the new
certificate to new handshakes within a second of the change event while
established connections carry on. Admin's certificates, while enabled,
override the broker's --tls-cert files; disabling them gives the files back."""

import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import uid, wait_until
from stack import AUTHD_BIN, BROKER_BIN, ROOSTCTL_BIN, TOKEN, free_port, stack  # noqa: F401 (stack: fixture)
from tlscerts import client_ctx, make_ca, make_cert, serial_of, tls_raw

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

SAN = "DNS:localhost,IP:127.0.0.1"


class Certs:
    pass


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="tls64-")
    c = Certs()
    c.dir = d
    c.ca = make_ca(d, "ca", "Roost Test CA")
    c.first = make_cert(d, c.ca, "first", "localhost", san=SAN)
    c.second = make_cert(d, c.ca, "second", "localhost", san=SAN)
    c.device = make_cert(d, c.ca, "device", "device-1")
    c.expired = make_cert(d, c.ca, "expired", "localhost", san=SAN, expired=True)
    c.other_ca = make_ca(d, "otherca", "Other CA")
    c.foreign = make_cert(d, c.other_ca, "foreign", "localhost", san=SAN)
    yield c
    shutil.rmtree(d, ignore_errors=True)


def pem(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def st(stack, certs):
    stack.start_redis()
    stack.start_admin()
    stack.start_authd(allow_anonymous=True)
    b1_tls, b2_tls = free_port(), free_port()
    b1 = stack.start_broker(cluster=True, admin_events=True,
                            extra=("--tls-port", str(b1_tls), "--tls-cert", certs.first[0],
                                   "--tls-key", certs.first[1]))
    b2 = stack.start_broker(cluster=True, admin_events=True, extra=("--tls-port", str(b2_tls)))
    b1.tls_port, b2.tls_port = b1_tls, b2_tls
    return stack


def served_serial(certs, port):
    """The serial of the certificate a new handshake gets, or None if refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with client_ctx(certs).wrap_socket(s, server_hostname="localhost") as t:
                der = t.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError):
        return None
    p = os.path.join(certs.dir, "served-%s.pem" % uid())
    with open(p, "w") as f:
        f.write(ssl.DER_cert_to_PEM_cert(der))
    return serial_of(p)


def put(st, body):
    return st.api("PUT", "/api/v1/certificates", body)


def test_admin_certificates_reach_every_broker_and_keep_connections(st, certs):
    b1, b2 = st.brokers
    assert served_serial(certs, b1.tls_port) == serial_of(certs.first[0])
    assert served_serial(certs, b2.tls_port) is None   # no files, nothing from admin yet
    live = tls_raw(b1.tls_port, client_ctx(certs))
    live.connect(uid("live"))
    status, doc = st.api("GET", "/api/v1/certificates")
    assert status == 200 and doc["enabled"] is False and doc["server_key_set"] is False, doc

    key_text = pem(certs.second[1])
    status, doc = put(st, {"enabled": True, "mtls": "optional", "ca_certificate": pem(certs.ca[0]),
                           "server_certificate": pem(certs.second[0]), "server_key": key_text})
    assert status == 200, doc
    assert doc["enabled"] is True and doc["server_key_set"] is True and doc["mtls"] == "optional"
    assert "server_key" not in doc and "PRIVATE KEY" not in json.dumps(doc)
    assert doc["certificate"]["serial"] == serial_of(certs.second[0])
    second = serial_of(certs.second[0])
    assert wait_until(lambda: served_serial(certs, b1.tls_port) == second, timeout=3)
    assert wait_until(lambda: served_serial(certs, b2.tls_port) == second, timeout=3)
    # established before the change: still served (anonymous here: no topics, so a ping round trip)
    live.ping()
    live.ping()
    live.close()
    # optional mTLS from admin: a device certificate from that CA passes the
    # handshake and reaches authd, which knows no client holding it: CONNACK 5
    d = tls_raw(b2.tls_port, client_ctx(certs, cert=certs.device))
    d.connect(uid("dev"), expect_rc=5)
    d.close()
    # the key is never given back, logged or audited
    status, doc = st.api("GET", "/api/v1/certificates")
    assert "PRIVATE KEY" not in json.dumps(doc) and doc["server_key_set"] is True
    status, audit = st.api("GET", "/api/v1/audit?limit=20")
    entry = [e for e in audit["items"] if e.get("kind") == "certificates" or "server_key" in json.dumps(e)]
    assert entry, audit
    assert "PRIVATE KEY" not in json.dumps(audit)
    body = key_text.split("\n")[1]
    for p in st.procs:
        assert body not in p.log(), p.name
    assert "PRIVATE KEY" not in st.admin.log()

    # disabled: broker 1 serves its files again, broker 2 nothing
    status, doc = put(st, {"enabled": False})
    assert status == 200 and doc["enabled"] is False, doc
    first = serial_of(certs.first[0])
    assert wait_until(lambda: served_serial(certs, b1.tls_port) == first, timeout=3)
    assert wait_until(lambda: served_serial(certs, b2.tls_port) is None, timeout=3)


def test_invalid_certificates_are_refused_naming_the_field(st, certs):
    b1 = st.brokers[0]
    cases = [
        ({"enabled": True, "server_certificate": pem(certs.second[0]), "server_key": pem(certs.first[1])},
         "server_key", "does not match"),
        ({"enabled": True, "server_certificate": pem(certs.expired[0]), "server_key": pem(certs.expired[1])},
         "server_certificate", "expired"),
        ({"enabled": True, "ca_certificate": pem(certs.ca[0]), "server_certificate": pem(certs.foreign[0]),
          "server_key": pem(certs.foreign[1])}, "server_certificate", "does not verify"),
        ({"enabled": True, "server_certificate": "garbage", "server_key": pem(certs.second[1])},
         "server_certificate", "no PEM certificate"),
        ({"enabled": True, "ca_certificate": "garbage", "server_certificate": pem(certs.second[0]),
          "server_key": pem(certs.second[1])}, "ca_certificate", "no PEM certificate"),
        ({"enabled": True, "mtls": "sometimes"}, "mtls", "none"),
        ({"enabled": True, "mtls": "required", "server_certificate": pem(certs.second[0]),
          "server_key": pem(certs.second[1])}, "mtls", "needs ca_certificate"),
        ({"enabled": True}, "server_certificate", "both needed"),
        ({"enabled": "yes"}, "enabled", "true or false"),
    ]
    for body, field, words in cases:
        status, doc = put(st, body)
        assert status == 400, (field, doc)
        assert doc["details"]["field"] == field and words in doc["error"], (field, doc)
        assert "PRIVATE KEY" not in json.dumps(doc)
    status, doc = st.api("GET", "/api/v1/certificates")
    assert doc["enabled"] is False and doc["server_key_set"] is False, doc
    assert served_serial(certs, b1.tls_port) == serial_of(certs.first[0])


def test_a_certificate_that_expired_once_stored_can_still_be_disabled(st, certs):
    """Switching certificates off must not depend on the stored certificate
    still being valid: the operator turning off an expired certificate is the
    usual case. Switching it back on (or storing new material) is still
    validated."""
    short = make_cert(certs.dir, certs.ca, "short-%s" % uid(), "localhost", san=SAN, expires_in=10)
    status, doc = put(st, {"enabled": True, "server_certificate": pem(short[0]), "server_key": pem(short[1])})
    assert status == 200 and doc["enabled"] is True, doc
    assert wait_until(lambda: served_serial(certs, st.brokers[0].tls_port) == serial_of(short[0]), timeout=3)
    time.sleep(max(0.0, doc_not_after(doc) - time.time()) + 1.5)
    status, doc = put(st, {"enabled": False})
    assert status == 200 and doc["enabled"] is False and doc["server_key_set"] is True, doc
    status, doc = put(st, {"enabled": True})
    assert status == 400 and doc["details"]["field"] == "server_certificate" and "expired" in doc["error"], doc
    status, doc = st.api("GET", "/api/v1/certificates")
    assert doc["enabled"] is False, doc


def doc_not_after(doc):
    """The certificate's end of validity, in seconds since the epoch."""
    v = doc["certificate"]["not_after"].replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(v).timestamp()


def test_roostctl_certificates(st, certs):
    ctl = [ROOSTCTL_BIN, "--admin", st.admin.rpc, "--token", TOKEN, "--json", "certificates"]
    r = subprocess.run(ctl + ["set", "--enabled", "true", "--server-cert", certs.second[0], "--server-key",
                              certs.second[1]], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["enabled"] is True and doc["certificate"]["serial"] == serial_of(certs.second[0])
    r = subprocess.run(ctl + ["get"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0 and "PRIVATE KEY" not in r.stdout, r
    r = subprocess.run(ctl + ["set", "--server-key", certs.first[1]], capture_output=True, text=True, timeout=15)
    assert r.returncode == 4 and "server_key" in (r.stdout + r.stderr), r
    r = subprocess.run(ctl + ["set", "--enabled", "maybe"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 1, r


def test_sigterm_while_redis_stalls_exits_cleanly(stack):
    """A settings read still in flight at exit (Redis stopped, not gone) must
    not crash the broker: the read fails when the store goes, and the reload
    the periodic check queued meanwhile must not reach for the cluster's
    store, already freed (it did: SIGSEGV at exit)."""
    stack.start_redis()
    stack.start_authd(allow_anonymous=True)
    b = stack.start_broker(cluster=True, extra=("--tls-port", str(free_port())))
    redis = stack.redis.proc
    redis.send_signal(signal.SIGSTOP)
    try:
        time.sleep(2.5)  # a read every second: one in flight, the next queued behind it
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(20)
    finally:
        redis.send_signal(signal.SIGCONT)
    assert "event=tls_settings_unavailable" in b.log(), b.log_tail()  # the read was in flight at exit
    assert rc == 0, b.log_tail()
    assert "AddressSanitizer" not in b.log_tail() and "runtime error" not in b.log_tail()
