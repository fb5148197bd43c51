"""roost-broker reads --redis with the same HOST:PORT parser as authd, admin
and the forwarder (cfg_host_port): a value without a port, with a port out
of range or without a host is a usage error (exit 2, the flag named) before
anything starts, as it is for the other services."""
import subprocess

from conftest import roost_binary


def test_bad_redis_values_are_usage_errors():
    for value in ("localhost", "127.0.0.1:0", "127.0.0.1:65536", ":6379", "127.0.0.1:63x"):
        out = subprocess.run([roost_binary(), "--insecure-no-auth", "--port", "0", "--redis", value],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 2, (value, out.returncode, out.stderr)
        assert "error: --redis: expected HOST:PORT, got '%s'" % value in out.stderr, (value, out.stderr)
