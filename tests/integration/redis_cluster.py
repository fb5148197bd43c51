"""A local Redis Cluster for the tests (test_88, test_89) and, with
ROOST_TEST_REDIS_CLUSTER=1, for the cluster tests of cluster_stack.py:
3 primaries and 3 replicas (by default) of redis-server on free 127.0.0.1
ports, made with `redis-cli --cluster create`, each process stopped by PID.

It looks like cluster_stack.Redis to its users (port, cmd, lines, hgetall,
stop): commands go through `redis-cli -c`, which follows MOVED/ASK, so
tests read keys wherever their slot lives. Beyond that:

    rc.seeds()              "127.0.0.1:p1,127.0.0.1:p2,..." for --redis-cluster
    rc.primary_of(key)      the node (a RedisNode) serving key's slot now
    rc.kill_primary(node)   SIGKILL; wait_promoted() until a replica took over;
                            node.start() brings it back (as a replica)
    rc.move_slots(a, b, n)  n slots from a to b with redis-cli --cluster reshard
    rc.move_slot(s, a, b)   one slot, by hand (ASK meanwhile; finish=False: left
                            half done, every key on b, until rc.finish_move)
    rc.slots_of(node)       the slots a primary serves (CLUSTER NODES)
    crc16(b"...") & 16383   a hash tag's slot, to pick keys for a node
"""

import os
import signal
import subprocess
import time

import cluster_stack
from conftest import free_port, stop_process, wait_until

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"


def crc16(data):
    """CRC16/XMODEM, Redis Cluster's key hash (slot = crc16(tag) & 16383)."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def cli(port, *args, cluster=False, timeout=10):
    argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port)] + (["-c"] if cluster else [])
    try:
        p = subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ""
    return p.stdout.strip() if p.returncode == 0 else ""


class RedisNode:
    def __init__(self, dirpath, name, appendfsync="always"):
        self.dir = os.path.join(dirpath, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = None
        self.proc = None
        self.appendfsync = appendfsync
        self.log_path = os.path.join(self.dir, "redis.log")

    def start(self):
        fixed = self.port is not None  # a restart keeps its port (nodes.conf knows it)
        for _ in range(3):
            self.port = self.port if fixed else free_port()
            argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "1000", "--save", "", "--appendonly", "yes",
                    "--appendfsync", self.appendfsync, "--repl-diskless-sync-delay", "0", "--logfile", self.log_path, "--daemonize", "no"]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if wait_until(lambda: self.proc.poll() is not None or cli(self.port, "PING") == "PONG",
                          timeout=15.0) and self.proc.poll() is None:
                return self
            stop_process(self.proc)
        raise RuntimeError("redis-server (cluster node) did not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cmd(self, *args):
        return cli(self.port, *args)

    def role(self):
        out = self.cmd("ROLE").splitlines()
        return out[0] if out else ""

    def node_id(self):
        return self.cmd("CLUSTER", "MYID")


class RedisCluster:
    def __init__(self, dirpath, primaries=3, replicas=1, appendfsync="always"):
        self.dir = dirpath
        self.n_primaries = primaries
        self.nodes = [RedisNode(dirpath, "redis-%d" % i, appendfsync)
                      for i in range(primaries * (1 + replicas))]
        self.replicas = replicas

    # --- what cluster_stack.Redis offers
    @property
    def port(self):
        for n in self.nodes:
            if n.alive():
                return n.port
        return None

    def start(self):
        for n in self.nodes:
            n.start()
        addrs = ["127.0.0.1:%d" % n.port for n in self.nodes]
        out = subprocess.run([REDIS_CLI, "--cluster", "create"] + addrs +
                             ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed:\n" + out.stdout + out.stderr)
        ok = wait_until(lambda: all("cluster_state:ok" in n.cmd("CLUSTER", "INFO") for n in self.nodes) and
                        len(self.primaries()) == self.n_primaries, timeout=30.0)
        # and every replica in sync (a WAIT before that counts none)
        ok = ok and wait_until(lambda: all(n.cmd("INFO", "replication").count("state=online") == self.replicas
                                           for n in self.primaries()), timeout=30.0)
        if not ok:
            raise RuntimeError("the Redis Cluster did not settle")
        return self

    def stop(self):
        for n in self.nodes:
            if n.proc is not None:
                stop_process(n.proc, timeout=10)

    def cmd(self, *args):
        port = self.port
        return cli(port, *args, cluster=True) if port else ""

    lines = cluster_stack.Redis.lines      # over cmd, which follows redirections
    hgetall = cluster_stack.Redis.hgetall

    # --- cluster specifics
    def seeds(self):
        return ",".join("127.0.0.1:%d" % n.port for n in self.nodes)

    def primaries(self):
        return [n for n in self.nodes if n.alive() and n.role() == "master"]

    def slot(self, key):
        return int(self.cmd("CLUSTER", "KEYSLOT", key) or -1)

    def slots_of(self, node):
        owned = set()
        for line in self.lines("CLUSTER", "NODES"):
            f = line.split()
            if f[1].split("@")[0].endswith(":%d" % node.port):
                for r in f[8:]:
                    lo, _, hi = r.partition("-")
                    if lo.isdigit():
                        owned.update(range(int(lo), int(hi or lo) + 1))
        return owned

    def primary_of(self, key):
        s = self.slot(key)
        for line in self.lines("CLUSTER", "NODES"):
            f = line.split()
            if "master" not in f[2] or "fail" in f[2]:
                continue
            for r in f[8:]:
                lo, _, hi = r.partition("-")
                if lo.isdigit() and int(lo) <= s <= int(hi or lo):
                    port = int(f[1].split("@")[0].rsplit(":", 1)[1])
                    return next(n for n in self.nodes if n.port == port)
        return None

    def kill_primary(self, node):
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)
        return time.monotonic()

    def wait_promoted(self, dead, timeout=30.0):
        """A replica of the dead primary is a primary and the cluster is ok."""
        def ok():
            live = [n for n in self.nodes if n.alive()]
            return (len([n for n in live if n.role() == "master"]) == self.n_primaries and
                    all("cluster_state:ok" in n.cmd("CLUSTER", "INFO") for n in live))
        return wait_until(ok, timeout=timeout, interval=0.1)

    def move_slot(self, slot, src, dst, pause=0.5, finish=True):
        """Migrates one slot from src to dst the way redis-cli --cluster
        reshard does (IMPORTING/MIGRATING, MIGRATE the keys, SETSLOT NODE),
        keys moved one at a time with `pause` seconds in the middle, so
        clients meet ASK while it runs. finish=False stops before SETSLOT
        NODE: every key is on dst, src answers ASK for all (finish_move)."""
        sid, did = src.node_id(), dst.node_id()
        assert dst.cmd("CLUSTER", "SETSLOT", slot, "IMPORTING", sid) == "OK"
        assert src.cmd("CLUSTER", "SETSLOT", slot, "MIGRATING", did) == "OK"
        first = True
        while True:
            keys = src.cmd("CLUSTER", "GETKEYSINSLOT", slot, 1).split()
            if not keys:
                break
            out = src.cmd("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *keys)
            assert out in ("OK", "NOKEY"), out
            if first:
                time.sleep(pause)  # half moved: ASK for what left
                first = False
        if finish:
            self.finish_move(slot, src, dst)

    def finish_move(self, slot, src, dst):
        did = dst.node_id()
        for n in (dst, src) + tuple(x for x in self.primaries() if x not in (src, dst)):
            n.cmd("CLUSTER", "SETSLOT", slot, "NODE", did)

    def move_slots(self, src, dst, n, timeout=120):
        out = subprocess.run([REDIS_CLI, "--cluster", "reshard", "127.0.0.1:%d" % src.port,
                              "--cluster-from", src.node_id(), "--cluster-to", dst.node_id(),
                              "--cluster-slots", str(n), "--cluster-yes",
                              "--cluster-pipeline", "10"],
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("reshard failed:\n" + out.stdout[-2000:] + out.stderr[-2000:])
        return out.stdout
