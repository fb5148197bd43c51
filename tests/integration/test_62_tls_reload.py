"""62: the broker's TLS certificate is replaced without a restart: when the
--tls-cert/--tls-key files change (a Kubernetes Secret written by
cert-manager) or on SIGHUP, new handshakes get the new certificate (its
serial is checked) while established TLS connections carry on. Files that do
not load keep the certificate served before, with an error line naming the
option."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile

import pytest

from conftest import IS_MOSQUITTO, free_port, roost_binary, stop_process, uid, wait_until
from tlscerts import client_ctx, make_ca, make_cert, serial_of, tls_raw

pytestmark = pytest.mark.skipif(IS_MOSQUITTO, reason="Roost-only options")


class Certs:
    pass


@pytest.fixture
def setup():
    d = tempfile.mkdtemp(prefix="tls62-")
    c = Certs()
    c.dir = d
    c.ca = make_ca(d, "ca", "Roost Test CA")
    c.first = make_cert(d, c.ca, "first", "localhost", san="DNS:localhost,IP:127.0.0.1")
    c.second = make_cert(d, c.ca, "second", "localhost", san="DNS:localhost,IP:127.0.0.1")
    c.crt, c.key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    install(c, c.first)
    port, tls_port = free_port(), free_port()
    log = os.path.join(d, "broker.log")
    with open(log, "wb") as f:
        proc = subprocess.Popen([roost_binary(), "--bind", "127.0.0.1", "--port", str(port), "--insecure-no-auth",
                                 "--tls-port", str(tls_port), "--tls-cert", c.crt, "--tls-key", c.key],
                                stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    c.proc, c.tls_port = proc, tls_port
    c.log = lambda: open(log, errors="replace").read()
    assert wait_until(lambda: "event=listening" in c.log(), 10), c.log()
    yield c
    stop_process(proc)
    shutil.rmtree(d, ignore_errors=True)


def install(c, pair):
    """Replaces tls.crt and tls.key the way a writer should: new files renamed in."""
    for src, dst in ((pair[0], c.crt), (pair[1], c.key)):
        tmp = dst + ".new"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def served_serial(c):
    with socket.create_connection(("127.0.0.1", c.tls_port), timeout=5) as s:
        with client_ctx(c).wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    p = os.path.join(c.dir, "served-%s.pem" % uid())
    with open(p, "w") as f:
        f.write(ssl.DER_cert_to_PEM_cert(der))
    return serial_of(p)


def test_file_change_serves_the_new_certificate_and_keeps_connections(setup):
    c = setup
    assert served_serial(c) == serial_of(c.first[0])
    live = tls_raw(c.tls_port, client_ctx(c))
    live.connect(uid("live"))
    topic = "reload/" + uid()
    assert live.subscribe([(topic, 1)]) == [1]
    install(c, c.second)
    assert wait_until(lambda: "event=tls_reloaded source=files reason=file_changed" in c.log(), 5), c.log()
    assert served_serial(c) == serial_of(c.second[0])
    # the connection made with the first certificate still works
    live.publish(topic, b"after-rotation", qos=1)
    assert live.expect("PUBLISH").payload == b"after-rotation"
    live.ping()
    live.close()


def test_sighup_reloads(setup):
    c = setup
    c.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: re.search(r"event=tls_reloaded source=files reason=sighup subject=\S+ serial=%s "
                                        % serial_of(c.first[0]), c.log()), 5), c.log()
    assert c.proc.poll() is None
    assert served_serial(c) == serial_of(c.first[0])


def test_bad_new_files_keep_the_old_certificate(setup):
    c = setup
    # the second certificate with the first key: a mismatch
    shutil.copyfile(c.second[0], c.crt + ".new")
    os.replace(c.crt + ".new", c.crt)
    assert wait_until(lambda: re.search(r"event=tls_reload_failed source=files reason=file_changed "
                                        r"error=\"--tls-key does not match --tls-cert\"", c.log()), 5), c.log()
    assert c.proc.poll() is None
    assert served_serial(c) == serial_of(c.first[0])
    # completing the rotation brings the new one in
    install(c, c.second)
    assert wait_until(lambda: served_serial(c) == serial_of(c.second[0]), 5)
