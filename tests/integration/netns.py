"""Linux network namespaces for the multi-host test (test_69): a bridge in
the test's own namespace, and one namespace per "host", each joined to the
bridge by a veth pair and given its own address, so every server runs on a
real address of its own and a link can be cut (a partition).

    net = Net()                          # unique names, a free 10.231.N.0/24
    h = net.host("b1")                   # namespace + veth + address h.ip
    p = net.popen(h, argv, log)          # a process inside it (stopped by PID)
    net.cut(h) / net.mend(h)             # the host's link down / up
    net.close()                          # processes by PID, namespaces, veths,
                                         # bridge by name, even after a failure

Needs root (ip netns, ip link). Names carry a per-run id, so runs beside
each other never share one; close() removes exactly what this run made.
"""

import os
import random
import signal
import subprocess
import uuid


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=10)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def usable():
    """(True, '') when this process may make namespaces and bridges."""
    if os.geteuid() != 0:
        return False, "needs root"
    probe = "rprobe%s" % uuid.uuid4().hex[:6]
    p = ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        return False, "ip netns add: %s" % p.stderr.strip()
    ip("netns", "del", probe, check=False)
    return True, ""


class Host:
    def __init__(self, name, ns, ip_addr, veth_out, veth_in):
        self.name, self.ns, self.ip = name, ns, ip_addr
        self.veth_out, self.veth_in = veth_out, veth_in


class Net:
    def __init__(self):
        self.id = uuid.uuid4().hex[:5]
        self.bridge = "rbr%s" % self.id
        self.hosts = []
        self.procs = []
        self.subnet = None
        used = ip("-4", "-o", "addr", "show").stdout
        for _ in range(50):
            n = random.randrange(1, 250)
            if " 10.231.%d." % n not in used:
                self.subnet = "10.231.%d" % n
                break
        if not self.subnet:
            raise RuntimeError("no free 10.231.N.0/24")
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", self.subnet + ".1/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    def host(self, name):
        k = len(self.hosts) + 10
        ns = "r%s-%s" % (self.id, name)
        h = Host(name, ns, "%s.%d" % (self.subnet, k), "rv%s%d" % (self.id, k), "rp%s%d" % (self.id, k))
        self.hosts.append(h)  # recorded first: close() removes whatever part was made
        ip("netns", "add", ns)
        ip("link", "add", h.veth_out, "type", "veth", "peer", "name", h.veth_in)
        ip("link", "set", h.veth_in, "netns", ns)
        ip("link", "set", h.veth_out, "master", self.bridge)
        ip("link", "set", h.veth_out, "up")
        ip("-n", ns, "addr", "add", h.ip + "/24", "dev", h.veth_in)
        ip("-n", ns, "link", "set", h.veth_in, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        return h

    def popen(self, h, argv, log_path, env=None):
        """argv inside h's namespace; `ip netns exec` execs it, so the PID is
        the server's own."""
        log = open(log_path, "ab")
        try:
            p = subprocess.Popen(["ip", "netns", "exec", h.ns] + list(argv), stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, env=env)
        finally:
            log.close()
        self.procs.append(p)
        return p

    def cut(self, h):
        """The host's cable pulled: its veth down on the bridge side."""
        ip("link", "set", h.veth_out, "down")

    def mend(self, h):
        ip("link", "set", h.veth_out, "up")

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
                except ProcessLookupError:
                    pass
        for h in self.hosts:
            ip("link", "del", h.veth_out, check=False)  # its peer goes with it
            ip("netns", "del", h.ns, check=False)
        ip("link", "del", self.bridge, check=False)
