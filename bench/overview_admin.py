#!/usr/bin/python3
"""Admin's cost of the Overview (issue 20): a stack (redis, admin, authd, two
cluster brokers) from ROOST_BUILD_DIR (default build/), N devices held by
roost-bench idle (half on each broker, one shared credential), then admin's
CPU (% of one core) and RSS over 60 s with no console open, and over 60 s
with the Overview open in headless Chromium (bench/overview_browse.mjs,
playwright-core from tests/web). Prints three lines; never a test.

    bench/overview_admin.py [N]        # default 10000
"""
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ROOST_BUILD_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("ROOST_TEST_LOG_LEVEL", "warn")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import stack as S  # noqa: E402

# brokers started here listen on the ports they are given only
# (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
os.environ.setdefault("ROOST_WS_PORT", "0")
os.environ.setdefault("ROOST_WSS_PORT", "0")


def cpu_rss(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
    return cpu, rss


def window(pid, fn):
    c0, _ = cpu_rss(pid)
    t0 = time.time()
    out = fn()
    c1, r1 = cpu_rss(pid)
    return (c1 - c0) / (time.time() - t0) * 100, r1 / 2**20, out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    st = S.Stack()
    benches = []
    try:
        st.start_redis(persist=False)
        shutil.copytree(os.path.join(REPO, "services", "admin", "console"), st.dir, dirs_exist_ok=True)
        st.start_admin()
        st.start_authd(changes=True)
        brokers = [st.start_broker("b%d" % i, cluster=True, extra=("--max-connections", str(n))) for i in (1, 2)]
        c = st.add_client("dev", "dev-password-1")
        g = st.add_group("g", [("allow", "publish", "x/#")])
        st.add_rule("client", c["id"], [g["id"]])
        bench = os.path.join(S.BUILD, "bench", "roost-bench")
        for b in brokers:
            benches.append(subprocess.Popen(
                [bench, "idle", "--port", str(b.port), "--count", str(n // 2), "--username", "dev",
                 "--password", "dev-password-1", "--users", "1", "--hold", "400", "--timeout", "120",
                 "--keepalive", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        now = lambda: st.api("GET", "/api/v1/overview?cursor=9999999999999")[1]["now"]["connections"]  # noqa: E731
        if not S.wait_for(lambda: now() == n, timeout=180, interval=1):
            sys.exit("only %d of %d devices connected" % (now(), n))
        pid = st.admin.proc.pid
        time.sleep(5)
        cpu, rss, _ = window(pid, lambda: time.sleep(60))
        print("devices %d; console closed: admin CPU %.2f %% of one core, RSS %.1f MiB (60 s)" % (n, cpu, rss))
        browse = [shutil.which("node") or "node", os.path.join(REPO, "bench", "overview_browse.mjs"),
                  "http://127.0.0.1:%d" % st.admin.http_port, S.TOKEN, "60"]
        cpu, rss, out = window(pid, lambda: subprocess.run(browse, capture_output=True, text=True, timeout=300))
        print("Overview open: admin CPU %.2f %% of one core, RSS %.1f MiB; browser: %s%s"
              % (cpu, rss, out.stdout.strip(), out.stderr.strip()[-300:]))
    finally:
        for p in benches:
            p.terminate()
            p.wait(30)
        st.close()


if __name__ == "__main__":
    main()
