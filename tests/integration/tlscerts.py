"""Certificates for the TLS tests, made with the `openssl` command line, and
TLS client helpers.

A CA is (dir, name): name.crt and name.key in dir. Certificates are signed by
a CA; `expired=True` signs one whose validity ended years ago (with faketime,
so the certificate is otherwise ordinary). Keys are ECDSA P-256 unless
rsa=True (2048 bits)."""

import os
import ssl
import subprocess
import time

from conftest import RawClient


def _run(argv, faketime=None):
    env = None
    if faketime:
        argv = ["faketime", faketime] + argv
        env = dict(os.environ, TZ="UTC")
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _newkey(rsa):
    return ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


def make_ca(d, name, cn=None, rsa=False):
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    _run(["openssl", "req", "-x509", *_newkey(rsa), "-nodes", "-keyout", key, "-out", crt,
          "-days", "30", "-subj", "/CN=%s" % (cn or name)])
    return crt, key


def make_cert(d, ca, name, cn, san=None, days=30, expired=False, rsa=False, expires_in=None):
    """A certificate signed by ca (crt, key); returns (crt, key) paths. With
    expires_in (seconds), it stops being valid that long from now."""
    crt, key, csr = (os.path.join(d, name + ext) for ext in (".crt", ".key", ".csr"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        if san:
            f.write("subjectAltName=%s\n" % san)
    _run(["openssl", "req", *_newkey(rsa), "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn])
    short = expired or expires_in is not None
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
          str(int.from_bytes(os.urandom(8), "big")), "-out", crt, "-days", "2" if short else str(days),
          "-extfile", ext], faketime=_signing_time(expired, expires_in))
    return crt, key


def _signing_time(expired, expires_in):
    """The clock openssl signs under: -days 2 from it ends the validity."""
    if expired:
        return "2020-01-01 00:00:00"
    if expires_in is not None:
        start = time.time() - 2 * 86400 + expires_in
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
    return None


def serial_of(crt):
    out = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-serial"], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].upper()


def fingerprint_of(crt):
    """SHA256:<64 lowercase hex> of the DER certificate (as TagoDeploy shows it)."""
    out = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    return "SHA256:" + out.strip().split("=", 1)[1].replace(":", "").lower()


def client_ctx(certs, cert=None, **kw):
    """An ssl client context trusting certs.ca, presenting cert (crt, key) if
    given; kw sets context attributes (minimum_version=...)."""
    ctx = ssl.create_default_context(cafile=certs.ca[0])
    for k, v in kw.items():
        setattr(ctx, k, v)
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def tls_raw(port, ctx, session=None):
    """A RawClient whose socket is wrapped in TLS (handshake done)."""
    c = RawClient(port)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost", session=session)
    return c
