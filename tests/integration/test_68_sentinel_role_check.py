"""68 never a write to a replica (issue 19): a Sentinel that names a node
which is a replica (misconfigured, or a failover half done) is not
believed. The node's ROLE is checked before any use: roostctl refuses with
a clear error, a broker stays unready (/healthz 503, no redis_connected)
and never writes its registry there; once that node really is the primary
(REPLICAOF NO ONE) the broker uses it within a second, with nothing else
changed."""

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


def test_sentinel_naming_a_replica_is_not_believed(st):
    primary = st.start_redis(persist=False)
    rport = free_port()
    replica = st._add(Proc(st, "replica", ["/usr/bin/redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no", "--dir", st.dir,
                                           "--replicaof", "127.0.0.1", str(primary.port)],
                           lambda p: redis_cli(rport, "PING") == "PONG"))
    replica.start()
    assert wait_for(lambda: "master_link_status:up" in redis_cli(rport, "INFO", "replication"), 10)
    sport = free_port()
    conf = os.path.join(st.dir, "sentinel.conf")
    with open(conf, "w") as f:  # monitors the replica as if it were the primary
        f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor wrong 127.0.0.1 %d 1\n"
                "sentinel down-after-milliseconds wrong 60000\n" % (sport, st.dir, rport))
    st._add(Proc(st, "sentinel", ["/usr/bin/redis-sentinel", conf],
                 lambda p: redis_cli(sport, "SENTINEL", "get-master-addr-by-name", "wrong") != "")).start()
    assert redis_cli(sport, "SENTINEL", "get-master-addr-by-name", "wrong").split() == ["127.0.0.1", str(rport)]

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
