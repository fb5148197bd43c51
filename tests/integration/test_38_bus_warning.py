"""A broker in cluster mode without --bus-curve-secret says at start that its
bus is readable and writable by anyone who reaches it (issue 13); with the
key it does not. Real broker, authd, Redis."""

import json
import subprocess

from stack import ROOSTCTL_BIN, stack, wait_for  # noqa: F401  (stack: fixture)


def test_cluster_broker_without_bus_key_warns(stack):
    stack.start_redis()
    stack.start_authd()
    plain = stack.start_broker(cluster=True)
    assert wait_for(lambda: "bus_listening" in plain.log(), 5.0)
    line = [l for l in plain.log().splitlines() if "bus_unencrypted" in l]
    assert line and "level=warn" in line[0] and "read every message" in line[0], plain.log()
    key = json.loads(subprocess.run([ROOSTCTL_BIN, "keygen", "--json"], capture_output=True, text=True,
                                    timeout=10).stdout)
    secured = stack.start_broker(cluster=True, extra=["--bus-curve-secret", key["secret"]])
    assert wait_for(lambda: "bus_listening" in secured.log(), 5.0)
    assert "curve=on" in secured.log() and "bus_unencrypted" not in secured.log()
