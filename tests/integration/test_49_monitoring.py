"""deploy/monitoring (issue 20): the Grafana dashboard parses and every metric
it (or an alerting rule) queries exists on the services' /metrics; the rules
pass `promtool check rules`; and a real prometheus started here scrapes a
real stack (redis, admin, authd, a cluster broker), evaluates every rule
without error, answers every dashboard query, and puts RoostBrokerDown in
pending when the broker is killed.
"""

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from stack import ADMIN_BIN, BROKER_BIN, Proc, free_port, http_get, stack, wait_for  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MON = os.path.join(REPO, "deploy", "monitoring")
DASHBOARD = os.path.join(MON, "grafana-dashboard.json")
ALERTS = os.path.join(MON, "alerts.yaml")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = pytest.mark.skipif(not (os.path.exists(ADMIN_BIN) and os.path.exists(BROKER_BIN)),
                                reason="binaries not built")

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "le", "inf", "nan"}


def dashboard_exprs():
    with open(DASHBOARD) as f:
        doc = json.load(f)
    exprs = []
    for p in doc["panels"]:
        assert p["targets"], p["title"]
        for t in p["targets"]:
            exprs.append(t["expr"])
    return doc, exprs


def alert_exprs():
    # expr lines of the rules file (one expression per line there)
    with open(ALERTS) as f:
        return [m.group(1) for m in re.finditer(r"^\s+expr: (.+)$", f.read(), re.M)]


def metric_names(expr):
    """The metric names a PromQL expression reads (selectors, not functions,
    labels, keywords or durations)."""
    e = re.sub(r'"[^"]*"', '""', expr)              # strings
    e = re.sub(r"\{[^}]*\}", "", e)                 # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                # ranges
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word, rest = m.group(0), e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def exposed(text):
    out = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return out


def start_stack(st):
    st.start_redis()
    st.start_admin()
    a = st.start_authd()
    http = free_port()
    b = st.start_broker("broker-mon", cluster=True, extra=("--http-port", str(http)))
    b.http_port = http
    return a, b


def test_dashboard_and_rules_read_only_metrics_the_services_expose(stack):
    doc, exprs = dashboard_exprs()
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 30
    rules = alert_exprs()
    assert len(rules) >= 5
    a, b = start_stack(stack)
    names = set()
    for port in (a.http_port, b.http_port, stack.admin.http_port):
        status, text = http_get(port, "/metrics")
        assert status == 200
        names |= exposed(text)
    wanted = set()
    for e in exprs + rules:
        wanted |= metric_names(e)
    assert "roost_broker_connack_total" in wanted and "authd_cache_hits_total" in wanted
    missing = sorted(n for n in wanted - names if n != "up")  # up: made by Prometheus for each target
    assert not missing, "queried but exposed by no service: %s" % missing


def test_promtool_accepts_the_rules():
    p = subprocess.run([PROMTOOL, "check", "rules", ALERTS], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 8 rules found" in p.stdout, p.stdout


def prom_get(port, path, **params):
    url = "http://127.0.0.1:%d%s?%s" % (port, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.mark.skipif(not os.path.exists(PROMETHEUS), reason="prometheus is not installed")
def test_prometheus_scrapes_every_service_and_evaluates_the_rules(stack):
    a, b = start_stack(stack)
    _, exprs = dashboard_exprs()
    port = free_port()
    cfg = os.path.join(stack.dir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "rule_files: [%s]\n"
                "scrape_configs:\n"
                "  - {job_name: roost-broker, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
                "  - {job_name: roost-authd, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
                "  - {job_name: roost-admin, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
                % (json.dumps(ALERTS), b.http_port, a.http_port, stack.admin.http_port))
    argv = [PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path", os.path.join(stack.dir, "tsdb"),
            "--web.listen-address", "127.0.0.1:%d" % port, "--log.level", "warn"]
    prom = stack._add(Proc(stack, "prometheus", argv, lambda p: http_get(port, "/-/ready", 1.0)[0] == 200))
    prom.start(timeout=30)

    def targets_up():
        t = prom_get(port, "/api/v1/targets")["data"]["activeTargets"]
        return len(t) == 3 and all(x["health"] == "up" for x in t) and t
    assert wait_for(targets_up, timeout=20), prom_get(port, "/api/v1/targets")

    def rules_ok():
        groups = prom_get(port, "/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return len(rules) == 8 and all(r["health"] == "ok" and r["lastEvaluation"][:4] != "0001" for r in rules)
    assert wait_for(rules_ok, timeout=20), prom_get(port, "/api/v1/rules")
    for e in exprs:  # every dashboard query is valid PromQL over these series
        r = prom_get(port, "/api/v1/query", query=e)
        assert r["status"] == "success", (e, r)
    r = prom_get(port, "/api/v1/query", query='sum(roost_broker_connections)')
    assert r["data"]["result"], r

    def alert_state(name):
        alerts = prom_get(port, "/api/v1/alerts")["data"]["alerts"]
        return {x["state"] for x in alerts if x["labels"]["alertname"] == name}
    assert alert_state("RoostBrokerDown") == set()
    b.kill()
    assert wait_for(lambda: alert_state("RoostBrokerDown") == {"pending"}, timeout=20)
    assert wait_for(lambda: alert_state("RoostNoBrokerServing") == {"pending"}, timeout=20)
    assert alert_state("RoostAuthdUnavailable") == set()
