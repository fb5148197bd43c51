"""--redis-require-auth (issue 13): broker, authd and admin refuse to start
against a Redis that answers without AUTH, naming the risk; with a
password-protected Redis they start. Off by default. Real redis-server and
the real services."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from stack import ADMIN_BIN, AUTHD_BIN, BROKER_BIN, free_port

PW = "require-auth-password-1"


def redis(d, *extra):
    """A redis-server with its files in d; (process, port)."""
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", d,
                          *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    p.wait(10)
    raise RuntimeError("redis did not start")


def run(argv, env=None, wait=1.5):
    """Starts a service; returns (exit code or None if still running after wait, output)."""
    out = tempfile.NamedTemporaryFile(delete=False)
    p = subprocess.Popen(argv, stdout=out, stderr=out, env=dict(os.environ, **(env or {})))
    try:
        rc = p.wait(wait)
    except subprocess.TimeoutExpired:
        rc = None
        p.terminate()
        p.wait(10)
    with open(out.name) as f:
        text = f.read()
    os.unlink(out.name)
    return rc, text


def services(port, d):
    """The three services' command lines against Redis at port (admin's
    token file in d)."""
    r = "127.0.0.1:%d" % port
    return {
        "broker": [BROKER_BIN, "--bind", "127.0.0.1", "--port", "0", "--redis", r, "--insecure-no-auth"],
        "authd": [AUTHD_BIN, "--bind", "tcp://127.0.0.1:%d" % free_port(), "--redis", r, "--http-port", "0"],
        "admin": [ADMIN_BIN, "--redis", r, "--http-port", str(free_port()), "--rpc-bind",
                  "tcp://127.0.0.1:%d" % free_port(), "--pub-bind", "tcp://127.0.0.1:%d" % free_port(),
                  "--token-file", os.path.join(d, "admin-token")],
    }


def redis_fixture(*extra):
    d = tempfile.mkdtemp(prefix="roost-reqauth-")
    try:
        p, port = redis(d, *extra)
        try:
            yield port, d
        finally:
            p.terminate()
            p.wait(10)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def open_redis():
    yield from redis_fixture()


@pytest.fixture
def locked_redis():
    yield from redis_fixture("--requirepass", PW)


def test_open_redis_is_refused_only_when_asked(open_redis):
    for name, argv in services(*open_redis).items():
        rc, text = run(argv + ["--redis-require-auth"])
        assert rc == 1 and "redis_without_auth" in text and "anyone who reaches it" in text, (name, rc, text)
        rc, text = run(argv)                              # default: off
        assert rc is None, (name, rc, text)


def test_password_protected_redis_passes(locked_redis):
    for name, argv in services(*locked_redis).items():
        rc, text = run(argv + ["--redis-require-auth"], env={"ROOST_REDIS_PASSWORD": PW})
        assert rc is None and "redis_without_auth" not in text, (name, rc, text)
