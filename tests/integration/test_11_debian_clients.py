"""11 debian clients: the stock mosquitto_pub / mosquitto_sub at each QoS."""

import subprocess

import pytest

from conftest import stop_process, uid, wait_until


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_sub(broker, tmpdir_path, qos):
    t = uid("deb")
    out_path = "%s/sub-%d.out" % (tmpdir_path, qos)
    with open(out_path, "wb") as out:
        sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
                                "-q", str(qos), "-t", t, "-C", "3", "-W", "10", "-v", "-d"],
                               stdout=out, stderr=subprocess.STDOUT)
        try:
            # ready once it has its SUBACK (-d prints it)
            assert wait_until(lambda: b"SUBACK" in open(out_path, "rb").read(), 5), open(out_path, "rb").read()
            for i in range(3):
                r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
                                    "-q", str(qos), "-t", t, "-m", "msg-%d" % i], capture_output=True, timeout=10)
                assert r.returncode == 0, r
            assert sub.wait(timeout=10) == 0
        finally:
            stop_process(sub)
    text = open(out_path, "rb").read().decode()
    lines = [l for l in text.splitlines() if l.startswith(t + " ")]
    assert lines == ["%s msg-%d" % (t, i) for i in range(3)], text
    assert ("q%d" % qos) in text  # -d shows the delivered QoS, e.g. "(d0, q1, ...)"
