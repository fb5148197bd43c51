"""TLS across a cluster (issue 14). Session tickets: the brokers share
rotated ticket keys through Redis (sealed with --tls-key-secret), so a
device resumes its TLS session (1.2 and 1.3) on another broker behind the
load balancer, and a ticket older than two rotations is refused there.
The TLS server key admin stores for the brokers is sealed at rest: with --tls-key-secret (ROOST_TLS_KEY_SECRET) admin writes it to Redis
encrypted (libsodium secretbox), never in clear; a broker holding the same
secret serves the certificate, one holding another secret keeps what it
served and says tls_key_unreadable; an admin without the secret still says a
key is stored and refuses to write it back empty (400 server_key) until the
key is uploaded again. Real admin, authd, cluster brokers, Redis."""

import json
import os
import shutil
import ssl
import tempfile

import pytest

from conftest import wait_until
from stack import AUTHD_BIN, BROKER_BIN, free_port, stack  # noqa: F401 (stack: fixture)
from test_64_tls_admin import SAN, pem, served_serial
from tlscerts import client_ctx, make_ca, make_cert, serial_of, tls_raw

pytestmark = pytest.mark.skipif(not (os.path.exists(AUTHD_BIN) and os.path.exists(BROKER_BIN)),
                                reason="roost-broker / roost-authd not built")

SECRET = "8f" * 32
OTHER = "3c" * 32


def stored_key(stack):
    return stack.redis_cli("HGET", stack.prefix + "{g}:tls", "key")   # the global hash-tag family


class Certs:
    pass


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="tls97-")
    c = Certs()
    c.dir = d
    c.ca = make_ca(d, "ca", "Roost Test CA")
    c.first = make_cert(d, c.ca, "first", "localhost", san=SAN)
    c.second = make_cert(d, c.ca, "second", "localhost", san=SAN)
    yield c
    shutil.rmtree(d, ignore_errors=True)


def test_the_stored_key_is_sealed_and_only_brokers_holding_the_secret_use_it(stack, certs):
    stack.start_redis()
    stack.env_extra["ROOST_TLS_KEY_SECRET"] = SECRET
    stack.start_admin()
    stack.start_authd(allow_anonymous=True)
    ports = free_port(), free_port()
    good = stack.start_broker(cluster=True, admin_events=True, extra=("--tls-port", str(ports[0])))
    wrong = stack.start_broker(cluster=True, admin_events=True,
                               extra=("--tls-port", str(ports[1]), "--tls-key-secret", OTHER))
    key_text = pem(certs.first[1])
    st, doc = stack.api("PUT", "/api/v1/certificates", {"enabled": True, "server_certificate": pem(certs.first[0]),
                                                        "server_key": key_text})
    assert st == 200 and doc["server_key_set"] is True, doc
    stored = stored_key(stack)
    assert stored.startswith("sealed:v1:"), stored[:40]
    assert "PRIVATE KEY" not in stored and key_text.split("\n")[1] not in stored
    first = serial_of(certs.first[0])
    assert wait_until(lambda: served_serial(certs, ports[0]) == first, timeout=3)
    assert wait_until(lambda: "event=tls_key_unreadable" in wrong.log(), timeout=3)
    assert served_serial(certs, ports[1]) is None              # never got an unusable key
    assert "event=tls_key_unsealed" not in stack.admin.log()

    # an admin without the secret: the key is there, but it cannot write it back
    stack.admin.stop()
    del stack.env_extra["ROOST_TLS_KEY_SECRET"]
    stack.start_admin()
    assert "event=tls_key_unsealed" in stack.admin.log()
    st, doc = stack.api("GET", "/api/v1/certificates")
    assert st == 200 and doc["server_key_set"] is True, doc
    st, doc = stack.api("PUT", "/api/v1/certificates", {"enabled": False})
    assert st == 400 and doc["details"]["field"] == "server_key" and "upload" in doc["error"], doc
    assert stored_key(stack) == stored   # untouched
    # uploading it again works (stored in clear by this admin, as it warned)
    st, doc = stack.api("PUT", "/api/v1/certificates", {"server_certificate": pem(certs.second[0]),
                                                        "server_key": pem(certs.second[1])})
    assert st == 200, doc
    assert "PRIVATE KEY" in stored_key(stack)
    second = serial_of(certs.second[0])
    assert wait_until(lambda: served_serial(certs, ports[0]) == second, timeout=3)
    assert "PRIVATE KEY" not in json.dumps(doc)


def session_from(port, ctx):
    """A TLS session (its ticket) from one MQTT round trip with the broker."""
    c = tls_raw(port, ctx)
    c.connect("t-" + str(port), expect_rc=0)
    c.send(bytes([0xC0, 0]))          # PINGREQ: the ticket (TLS 1.3: after the handshake) has arrived
    c.expect("PINGRESP")
    sess = c.sock.session
    c.close()
    return sess


def resumes(port, ctx, sess):
    c = tls_raw(port, ctx, session=sess)
    c.connect("r-" + str(port), expect_rc=0)
    reused = c.sock.session_reused
    c.close()
    return reused


def tickets(stack):
    return stack.redis_cli("HGET", stack.prefix + "{g}:tlstickets", "current")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_a_session_resumes_on_another_broker_until_two_rotations(stack, certs, version):
    stack.start_redis()
    stack.env_extra["ROOST_TLS_KEY_SECRET"] = SECRET
    stack.start_authd(allow_anonymous=True)
    ports = free_port(), free_port()
    bs = [stack.start_broker(cluster=True, extra=("--tls-port", str(p), "--tls-cert", certs.first[0],
                                                  "--tls-key", certs.first[1], "--tls-ticket-rotate", "3"))
          for p in ports]
    assert wait_until(lambda: all("event=tls_tickets source=cluster" in b.log() for b in bs), timeout=5)
    first = tickets(stack)
    assert first.startswith("sealed:v1:"), first[:40]                 # never in clear beside the sealed key
    ctx = client_ctx(certs, minimum_version=version, maximum_version=version)
    sess = session_from(ports[0], ctx)
    assert resumes(ports[1], ctx, sess), "a ticket from broker 1 must resume on broker 2"
    assert resumes(ports[0], ctx, sess)
    # one rotation: the key that sealed it is 'previous', still accepted everywhere
    assert wait_until(lambda: tickets(stack) != first, timeout=8)
    second = tickets(stack)
    assert resumes(ports[1], ctx, sess)
    # two rotations: refused (a full handshake, still a working connection)
    assert wait_until(lambda: tickets(stack) not in (first, second), timeout=8)
    assert wait_until(lambda: not resumes(ports[1], ctx, sess), timeout=3)
    assert not resumes(ports[0], ctx, sess)
