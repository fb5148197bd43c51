// Validates rendered Kubernetes manifests offline: every object against its
// kubernetes-models schema (the Kubernetes OpenAPI), then the cross-object
// facts Roost's deployment relies on (selectors, ports, probes, resources,
// references). Usage: node validate-k8s.mjs FILE... (multi-document YAML)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const problems = [];
const bad = (where, msg) => problems.push(`${where}: ${msg}`);

async function schemaCheck(obj, where) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
  let mod;
  try {
    mod = await import(path);
  } catch {
    return bad(where, `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
  }
  try {
    new mod[obj.kind](obj).validate();
  } catch (e) {
    bad(where, `schema: ${e.message}`);
  }
}

const objects = [];
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { bad(file, `YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    objects.push({ obj, where: `${file}: ${obj.kind}/${obj.metadata?.name}` });
  }
}
if (!objects.length) bad("input", "no objects");
for (const { obj, where } of objects) await schemaCheck(obj, where);

// ------------------------------------------------------- cross-object checks
const byKind = (k) => objects.filter((o) => o.obj.kind === k);
const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels?.[k] === v);
const names = (k) => new Set(byKind(k).map((o) => o.obj.metadata.name));
const configMaps = names("ConfigMap"), secrets = names("Secret");
const secretKeys = (name) => {
  const o = byKind("Secret").find((x) => x.obj.metadata.name === name)?.obj;
  return new Set([...Object.keys(o?.data || {}), ...Object.keys(o?.stringData || {})]);
};

for (const { obj, where } of workloads) {
  const spec = obj.spec, pod = spec.template.spec;
  if (!matches(spec.selector.matchLabels, spec.template.metadata.labels))
    bad(where, "selector does not match its pod template labels");
  if (pod.terminationGracePeriodSeconds === undefined) bad(where, "no terminationGracePeriodSeconds");
  for (const c of pod.containers) {
    const cw = `${where} container ${c.name}`;
    if (!c.readinessProbe) bad(cw, "no readinessProbe");
    if (!c.livenessProbe) bad(cw, "no livenessProbe");
    for (const k of ["requests", "limits"])
      for (const r of ["cpu", "memory"]) if (!c.resources?.[k]?.[r]) bad(cw, `no resources.${k}.${r}`);
    const portNames = new Set((c.ports || []).map((p) => p.name));
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
      if (typeof port === "string" && !portNames.has(port)) bad(cw, `probe on unknown port ${port}`);
    }
    for (const ef of c.envFrom || []) {
      if (ef.configMapRef && !ef.configMapRef.optional && !configMaps.has(ef.configMapRef.name))
        bad(cw, `envFrom ConfigMap ${ef.configMapRef.name} missing`);
      if (ef.secretRef && !ef.secretRef.optional && !secrets.has(ef.secretRef.name))
        bad(cw, `envFrom Secret ${ef.secretRef.name} missing`);
    }
    for (const e of c.env || []) {
      const s = e.valueFrom?.secretKeyRef;
      if (s && !s.optional && !secrets.has(s.name)) bad(cw, `env ${e.name}: Secret ${s.name} missing`);
      if (s && secrets.has(s.name) && !secretKeys(s.name).has(s.key)) bad(cw, `env ${e.name}: Secret ${s.name} has no key ${s.key}`);
    }
    if (c.securityContext?.allowPrivilegeEscalation !== false) bad(cw, "allowPrivilegeEscalation not false");
  }
  for (const v of pod.volumes || []) {
    const s = v.secret;
    if (s && secrets.has(s.secretName))
      for (const it of s.items || []) if (!secretKeys(s.secretName).has(it.key)) bad(where, `volume ${v.name}: Secret ${s.secretName} has no key ${it.key}`);
  }
  if (pod.securityContext?.runAsNonRoot !== true) bad(where, "pods do not set runAsNonRoot");
}

for (const { obj, where } of byKind("Service")) {
  const targets = workloads.filter((w) => matches(obj.spec.selector, w.obj.spec.template.metadata.labels));
  if (!targets.length) { bad(where, "selects no workload"); continue; }
  for (const p of obj.spec.ports) {
    if (typeof p.targetPort !== "string") continue;
    for (const t of targets) {
      const ok = t.obj.spec.template.spec.containers.some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort));
      if (!ok) bad(where, `targetPort ${p.targetPort} not a named port of ${t.obj.metadata.name}`);
    }
  }
}
for (const { obj, where } of byKind("StatefulSet"))
  if (!names("Service").has(obj.spec.serviceName)) bad(where, `serviceName ${obj.spec.serviceName} missing`);
for (const { obj, where } of byKind("HorizontalPodAutoscaler")) {
  const t = obj.spec.scaleTargetRef;
  if (!byKind(t.kind).some((o) => o.obj.metadata.name === t.name)) bad(where, `target ${t.kind}/${t.name} missing`);
}
for (const { obj, where } of byKind("PodDisruptionBudget"))
  if (!workloads.some((w) => matches(obj.spec.selector.matchLabels, w.obj.spec.template.metadata.labels)))
    bad(where, "selects no workload");

// Roost specifics: the brokers advertise their pod IP on the bus, sit behind
// a LoadBalancer on 1883, and drain within their grace period.
const broker = workloads.find((w) => w.obj.metadata.name.endsWith("roost-broker"));
if (broker) {
  const pod = broker.obj.spec.template.spec, c = pod.containers[0];
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  if (env.POD_IP?.valueFrom?.fieldRef?.fieldPath !== "status.podIP") bad(broker.where, "POD_IP not from status.podIP");
  if (env.ROOST_BUS_ADVERTISE?.value !== "tcp://$(POD_IP):7000") bad(broker.where, "bus not advertised as the pod IP");
  if (pod.terminationGracePeriodSeconds < 10) bad(broker.where, "grace period shorter than the drain");
  if (!byKind("Service").some((s) => s.obj.spec.type === "LoadBalancer" && s.obj.spec.ports.some((p) => p.port === 1883)))
    bad(broker.where, "no LoadBalancer Service on 1883");
  if (!byKind("HorizontalPodAutoscaler").length) bad(broker.where, "no HPA");
}

// Secure by default (issue 13): every Roost service gets its CurveZMQ keys
// and Redis password from the Secret, required (no pod starts without
// them), and Redis runs with AUTH.
const required = {
  "roost-broker": ["ROOST_BUS_CURVE_SECRET", "ROOST_AUTHD_SERVER_KEY", "ROOST_AUTHD_CLIENT_KEY", "ROOST_ADMIN_CURVE_PUBLIC",
    "ROOST_REDIS_USER", "ROOST_REDIS_PASSWORD"],
  "roost-authd": ["ROOST_AUTHD_CURVE_SECRET", "ROOST_AUTHD_CURVE_CLIENTS", "ROOST_ADMIN_CURVE_PUBLIC",
    "ROOST_REDIS_USER", "ROOST_REDIS_PASSWORD"],
  "roost-admin": ["ROOST_ADMIN_CURVE_SECRET", "ROOST_REDIS_USER", "ROOST_REDIS_PASSWORD"],
  "roost-forwarder": ["ROOST_REDIS_USER", "ROOST_REDIS_PASSWORD"],
};
const workload = (name) => workloads.find((w) => w.obj.metadata.name === name);
for (const [name, vars] of Object.entries(required)) {
  const w = workload(name);
  if (!w) continue;
  const env = Object.fromEntries((w.obj.spec.template.spec.containers[0].env || []).map((e) => [e.name, e]));
  for (const v of vars) {
    const ref = env[v]?.valueFrom?.secretKeyRef;
    if (!ref) bad(w.where, `${v} not from a Secret`);
    else if (ref.optional) bad(w.where, `${v} optional: the pod would start without it`);
  }
}
const redis = workload("roost-redis");
if (redis) {
  const args = (redis.obj.spec.template.spec.containers[0].args || []).join(" ");
  if (/protected-mode no/.test(args) || !/\.conf\b/.test(args)) bad(redis.where, "Redis without its AUTH config (redis.conf from the Secret)");
}

// NetworkPolicies: who may reach each internal port. A source is "anywhere",
// "namespace" (any pod here) or a workload name.
const policies = byKind("NetworkPolicy").map((p) => p.obj);
const podLabels = (w) => w.obj.spec.template.metadata.labels;
const selects = (sel, labels) => matches(sel?.matchLabels, labels) &&
  (sel?.matchExpressions || []).every((e) => e.operator === "In" ? e.values.includes(labels?.[e.key]) : false);
function sources(w, portName) {
  const c = w.obj.spec.template.spec.containers[0];
  const port = (c.ports || []).find((p) => p.name === portName);
  const mine = policies.filter((p) => selects(p.spec.podSelector, podLabels(w)) && (p.spec.policyTypes || ["Ingress"]).includes("Ingress"));
  if (!mine.length) return new Set(["anywhere"]);
  const out = new Set();
  for (const p of mine)
    for (const rule of p.spec.ingress || []) {
      const hit = !rule.ports || rule.ports.some((rp) => rp.port === portName || rp.port === port?.containerPort);
      if (!hit) continue;
      if (!rule.from) { out.add("anywhere"); continue; }
      for (const f of rule.from) {
        if (f.namespaceSelector || f.ipBlock) out.add("anywhere");
        else if (f.podSelector && !f.podSelector.matchLabels && !f.podSelector.matchExpressions) out.add("namespace");
        else for (const x of workloads) if (selects(f.podSelector, podLabels(x))) out.add(x.obj.metadata.name);
      }
    }
  return out;
}
const expect = [
  ["roost-redis", "redis", ["roost-admin", "roost-authd", "roost-broker", "roost-forwarder"]],
  ["roost-forwarder", "http", ["namespace"]],
  ["roost-broker", "mqtt", ["anywhere"]],
  ["roost-broker", "bus", ["roost-broker"]],
  ["roost-authd", "auth", ["roost-broker"]],
  ["roost-admin", "events", ["roost-authd", "roost-broker", "roost-forwarder"]],
  ["roost-admin", "rpc", ["namespace"]],
];
for (const [name, port, want] of expect) {
  const w = workload(name);
  if (!w) continue;
  const got = [...sources(w, port)].sort();
  if (got.join(",") !== want.join(",")) bad(w.where, `port ${port} reachable from [${got}], want [${want}]`);
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`ok: ${objects.length} objects valid (${[...new Set(objects.map((o) => o.obj.kind))].join(", ")})`);
