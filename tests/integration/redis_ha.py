"""Redis with Sentinel for the HA tests (test_66..test_68): a primary, its
replicas and three redis-sentinel processes, all on free 127.0.0.1 ports,
added to a stack.Stack as Procs (so stack.close() stops each by PID), with
passwords everywhere (Redis requirepass/masterauth, Sentinel requirepass
and auth-pass), as script/server's ROOST_REDIS_HA=1 runs them.

    st = Stack()
    ha = RedisHA(st, replicas=2, down_after_ms=1000).start()
    st.env_extra.update(ha.env())      # every service finds Redis through the Sentinels
    st.start_admin(); ...
    ha.master()                        # (host, port) the Sentinels name now
    ha.cut_replicas()                  # replicas fall behind: lag a WAIT must cover
    ha.kill_primary()                  # SIGKILL by PID; returns the time it was killed
    ha.wait_switch(old_port)           # monotonic time the Sentinels named another one
"""

import os
import signal
import socket
import subprocess
import time

from stack import Proc, free_port, wait_for

REDIS_BIN = "/usr/bin/redis-server"
SENTINEL_BIN = "/usr/bin/redis-sentinel"
MASTER = "roost-test"


def resp_cmd(port, password, *args, timeout=1.0):
    """One command over a fresh connection (AUTH first); the raw reply
    decoded by redis-cli-like rules: str, int, list, None, or an Exception
    for an error reply; None also when the server cannot be reached."""
    out = subprocess.run(["redis-cli", "--no-auth-warning", "-p", str(port), "-a", password] +
                         [str(a) for a in args], capture_output=True, text=True, timeout=5)
    if out.returncode != 0:
        return None
    return out.stdout.strip()


class RedisHA:
    def __init__(self, stack, replicas=1, down_after_ms=1000, failover_timeout_ms=3000,
                 password="ha-redis-pw-0123", sentinel_password="ha-sentinel-pw-4567"):
        self.st = stack
        self.n_replicas = replicas
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.password = password
        self.sentinel_password = sentinel_password
        self.nodes = []       # Procs: [primary, replica...]
        self.sentinels = []   # Procs

    # ------------------------------------------------------------- nodes
    def _node(self, name, replica_of=None):
        port = free_port()
        d = os.path.join(self.st.dir, name)
        os.makedirs(d, exist_ok=True)
        argv = [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no",
                "--requirepass", self.password, "--masterauth", self.password,
                "--repl-diskless-sync", "no", "--maxclients", "10000"]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        hello = b"AUTH %s\r\nPING\r\n" % self.password.encode()

        def ready(p):
            try:
                with socket.create_connection(("127.0.0.1", port), 0.3) as s:
                    s.sendall(hello)
                    return b"+PONG" in s.recv(64)
            except OSError:
                return False
        p = self.st._add(Proc(self.st, name, argv, ready))
        p.port = port
        self.nodes.append(p)
        return p.start()

    def _sentinel(self, name, primary_port):
        port = free_port()
        conf = os.path.join(self.st.dir, name + ".conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"
                    "requirepass %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel auth-pass %s %s\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s %d\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, self.st.dir, self.sentinel_password, MASTER, primary_port,
                       MASTER, self.password, MASTER, self.down_after_ms,
                       MASTER, self.failover_timeout_ms, MASTER))
        argv = [SENTINEL_BIN, conf]

        def ready(p):
            return self.ask(port) is not None
        p = self.st._add(Proc(self.st, name, argv, ready))
        p.port = port
        self.sentinels.append(p)
        return p.start()

    def start(self):
        primary = self._node("redis-a")
        for i in range(self.n_replicas):
            self._node("redis-%s" % "bcdefg"[i], replica_of=primary.port)
        # replicas in sync before the Sentinels look, so every one is a candidate
        assert wait_for(lambda: self.info(primary.port).get("connected_slaves") == str(self.n_replicas),
                        15), "replicas did not attach: %r" % self.info(primary.port)
        for i in range(3):
            self._sentinel("sentinel-%d" % (i + 1), primary.port)
        # every Sentinel sees the replicas and the other Sentinels
        def settled():
            for s in self.sentinels:
                out = resp_cmd(s.port, self.sentinel_password, "SENTINEL", "master", MASTER) or ""
                kv = out.splitlines()
                d = dict(zip(kv[0::2], kv[1::2]))
                if d.get("num-slaves") != str(self.n_replicas) or d.get("num-other-sentinels") != "2":
                    return False
            return True
        assert wait_for(settled, 20, 0.1), "sentinels did not settle"
        return self

    # ------------------------------------------------------------- facts
    def addrs(self):
        return ",".join("127.0.0.1:%d" % s.port for s in self.sentinels)

    def env(self):
        return {"ROOST_REDIS_SENTINELS": self.addrs(), "ROOST_REDIS_MASTER": MASTER,
                "ROOST_REDIS_SENTINEL_PASSWORD": self.sentinel_password,
                "ROOST_REDIS_PASSWORD": self.password}

    def ask(self, sentinel_port):
        out = resp_cmd(sentinel_port, self.sentinel_password, "SENTINEL", "get-master-addr-by-name", MASTER)
        if not out:
            return None
        parts = out.split()
        return (parts[0], int(parts[1])) if len(parts) == 2 else None

    def master(self):
        for s in self.sentinels:
            if s.alive():
                m = self.ask(s.port)
                if m:
                    return m
        return None

    def node_by_port(self, port):
        for n in self.nodes:
            if n.port == port:
                return n
        return None

    def info(self, port):
        out = resp_cmd(port, self.password, "INFO", "replication") or ""
        return dict(l.split(":", 1) for l in out.splitlines() if ":" in l)

    def cli(self, *args):
        """A command on the primary the Sentinels name now."""
        m = self.master()
        return resp_cmd(m[1], self.password, *args) if m else None

    # ------------------------------------------------------------- failover
    def kill_primary(self):
        host, port = self.master()
        node = self.node_by_port(port)
        t = time.monotonic()
        node.kill()
        return node, t

    def cut_replicas(self, cut=True):
        """cut: every replica of the current primary drops its link to it and
        cannot make it again (a wrong masterauth), so writes from now on are
        on the primary only: replication lag made visible (a stopped replica
        would not do: what the primary sent waits in its socket buffer).
        cut=False puts the password back (they resync, or follow a new
        primary). Returns the replicas touched."""
        _, port = self.master()
        touched = [n for n in self.nodes if n.port != port and n.alive()]
        for n in touched:
            resp_cmd(n.port, self.password, "CONFIG", "SET", "masterauth",
                     "wrong-on-purpose" if cut else self.password)
            if cut:
                resp_cmd(n.port, self.password, "CLIENT", "KILL", "TYPE", "master")
        return touched

    def wait_switch(self, old_port, timeout=30.0):
        """Polls a Sentinel until it names another primary; returns (monotonic time, port)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.master()
            if m and m[1] != old_port:
                return time.monotonic(), m[1]
            time.sleep(0.01)
        raise AssertionError("no failover within %ss" % timeout)
