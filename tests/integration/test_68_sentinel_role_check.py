"""68 never a write to a replica (issue 19).

A Sentinel that names a node which is a replica (misconfigured, or a
failover half done) is not believed. The node's ROLE is checked before any
use: roostctl refuses with a clear error, a broker stays unready (/healthz
503, no redis_connected) and never writes its registry there; once that
node really is the primary (REPLICAOF NO ONE) the broker uses it within a
second, with nothing else changed.

A primary demoted under a live link (made a replica while the broker is
connected to it, the Sentinel not told yet): the broker's next write gets
READONLY, the broker drops the link at once (unready, the device's write
not acknowledged) and, the Sentinel still naming the demoted node, does
not connect to it again; when the Sentinel names the new primary the
broker moves there. (Without the drop on READONLY the broker stays linked
to the replica: this test fails.)"""

import os
import subprocess
import time

import pytest

from stack import ROOSTCTL_BIN, Proc, Stack, free_port, http_get, wait_for

pytestmark = pytest.mark.roost_only


@pytest.fixture
def st(request):
    s = Stack(prefix="rc%d:" % os.getpid())
    yield s
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("\n" + s.dump_logs(200))
    s.close()


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=10).stdout.strip()


def pair(st, monitored):
    """A primary, its replica and one Sentinel monitoring, as master name
    'wrong', the node `monitored` picks ('primary' or 'replica'); never
    failing over by itself. (primary Proc, replica port, sentinel port)."""
    primary = st.start_redis(persist=False)
    rport = free_port()
    replica = st._add(Proc(st, "replica", ["/usr/bin/redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no", "--dir", st.dir,
                                           "--replicaof", "127.0.0.1", str(primary.port)],
                           lambda p: redis_cli(rport, "PING") == "PONG"))
    replica.start()
    assert wait_for(lambda: "master_link_status:up" in redis_cli(rport, "INFO", "replication"), 10)
    sport = free_port()
    port = rport if monitored == "replica" else primary.port
    conf = os.path.join(st.dir, "sentinel.conf")
    with open(conf, "w") as f:
        f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor wrong 127.0.0.1 %d 1\n"
                "sentinel down-after-milliseconds wrong 60000\n" % (sport, st.dir, port))
    st._add(Proc(st, "sentinel", ["/usr/bin/redis-sentinel", conf],
                 lambda p: redis_cli(sport, "SENTINEL", "get-master-addr-by-name", "wrong") != "")).start()
    assert redis_cli(sport, "SENTINEL", "get-master-addr-by-name", "wrong").split() == ["127.0.0.1", str(port)]
    return primary, rport, sport


def test_sentinel_naming_a_replica_is_not_believed(st):
    primary, rport, sport = pair(st, "replica")

    ctl = subprocess.run([ROOSTCTL_BIN, "--redis-sentinels", "127.0.0.1:%d" % sport, "--redis-master", "wrong",
                          "--prefix", st.prefix, "clients", "list"], capture_output=True, text=True, timeout=30)
    assert ctl.returncode == 5, (ctl.returncode, ctl.stdout, ctl.stderr)
    assert "127.0.0.1:%d is not the primary (ROLE)" % rport in ctl.stderr, ctl.stderr

    http = free_port()
    b = st.start_broker("b1", insecure=True, extra=["--redis-sentinels", "127.0.0.1:%d" % sport,
                                                    "--redis-master", "wrong", "--prefix", st.prefix,
                                                    "--http-port", str(http)])
    time.sleep(1.5)  # several attempts (every 250 ms)
    assert http_get(http, "/healthz")[0] == 503
    assert "event=redis_connected" not in b.log()
    assert redis_cli(primary.port, "KEYS", st.prefix + "*") == ""  # nothing written anywhere

    # the node becomes a primary: used at once
    assert redis_cli(rport, "REPLICAOF", "NO", "ONE") == "OK"
    t0 = time.monotonic()
    assert wait_for(lambda: "event=redis_connected host=127.0.0.1 port=%d" % rport in b.log(), 5, 0.01)
    took = time.monotonic() - t0
    assert took < 1.0, "the broker used the new primary %.2fs after it became one" % took
    assert wait_for(lambda: http_get(http, "/healthz")[0] == 200, 5)
    assert wait_for(lambda: redis_cli(rport, "KEYS", st.prefix + "*") != "", 5)  # its registry, there


def test_primary_demoted_under_a_live_link(st):
    primary, rport, sport = pair(st, "primary")
    http = free_port()
    b = st.start_broker("b1", insecure=True, extra=["--redis-sentinels", "127.0.0.1:%d" % sport,
                                                    "--redis-master", "wrong", "--prefix", st.prefix,
                                                    "--http-port", str(http), "--redis-min-replicas", "0"])
    assert wait_for(lambda: "event=redis_connected host=127.0.0.1 port=%d" % primary.port in b.log(), 10)
    assert wait_for(lambda: http_get(http, "/healthz")[0] == 200, 5)
    sub = subprocess.run(["mosquitto_sub", "-p", str(b.port), "-i", "rc-sub", "-c", "-q", "1", "-t", "rc/t",
                          "-E"], capture_output=True, timeout=10)
    assert sub.returncode == 0, sub.stderr  # a persistent session: QoS 1 to rc/t is a Redis write
    time.sleep(1.2)  # the broker's index of persistent subscriptions

    # the replica becomes the primary, the old primary its replica; the Sentinel is not told
    assert redis_cli(rport, "REPLICAOF", "NO", "ONE") == "OK"
    assert redis_cli(primary.port, "REPLICAOF", "127.0.0.1", rport) == "OK"
    mark = len(b.log())
    pub = subprocess.run(["mosquitto_pub", "-p", str(b.port), "-i", "rc-pub", "-q", "1", "-t", "rc/t", "-m", "x"],
                         capture_output=True, timeout=10)
    # its CONNECT (the client-id lease) or its PUBLISH (the queue) is a write the demoted node refuses
    assert pub.returncode != 0, "a PUBLISH was acknowledged although the demoted node refused its writes"
    assert wait_for(lambda: "event=redis_disconnected" in b.log()[mark:], 2), b.log()[mark:]
    assert wait_for(lambda: http_get(http, "/healthz")[0] == 503, 2)
    time.sleep(1.0)  # several reconnects: the Sentinel still names the demoted node, whose ROLE says replica
    assert "event=redis_connected" not in b.log()[mark:]

    # the Sentinel is told: the broker moves to the new primary
    assert redis_cli(sport, "SENTINEL", "REMOVE", "wrong") == "OK"
    assert redis_cli(sport, "SENTINEL", "MONITOR", "wrong", "127.0.0.1", rport, 1) == "OK"
    assert wait_for(lambda: "event=redis_connected host=127.0.0.1 port=%d" % rport in b.log()[mark:], 5)
    pub = subprocess.run(["mosquitto_pub", "-p", str(b.port), "-i", "rc-pub", "-q", "1", "-t", "rc/t", "-m", "y"],
                         capture_output=True, timeout=10)
    assert pub.returncode == 0, pub.stderr
