"""The TLS server key admin stores for the brokers is sealed at rest (issue
14): with --tls-key-secret (ROOST_TLS_KEY_SECRET) admin writes it to Redis
encrypted (libsodium secretbox), never in clear; a broker holding the same
secret serves the certificate, one holding another secret keeps what it
served and says tls_key_unreadable; an admin without the secret still says a
key is stored and refuses to write it back empty (400 server_key) until the
key is uploaded again. Real admin, authd, cluster brokers, Redis."""

import json
import os
import shutil
import tempfile

import pytest

from conftest import wait_until
from stack import AUTHD_BIN, BROKER_BIN, free_port, stack  # noqa: F401 (stack: fixture)
from test_64_tls_admin import SAN, pem, served_serial
from tlscerts import make_ca, make_cert, serial_of

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
