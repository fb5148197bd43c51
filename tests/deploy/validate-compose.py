"""Checks the rendered compose file (stdin: `docker-compose config`) is
secure by default (issue 13): Redis runs with the AUTH config the keys
service writes; every Roost service reads its CurveZMQ keys and Redis
password from the keys volume, read-only; authd answers only the brokers'
key. Exit 1 with one line per problem."""

import sys

import yaml

doc = yaml.safe_load(sys.stdin)
svc = doc["services"]
problems = []
KEYS = "/var/lib/roost-keys/"
NEEDS = {
    "broker": ["ROOST_BUS_CURVE_SECRET", "ROOST_AUTHD_SERVER_KEY", "ROOST_AUTHD_CLIENT_KEY",
               "ROOST_ADMIN_CURVE_PUBLIC", "ROOST_REDIS_PASSWORD_FILE"],
    "authd": ["ROOST_AUTHD_CURVE_SECRET", "ROOST_AUTHD_CURVE_CLIENTS", "ROOST_ADMIN_CURVE_PUBLIC",
              "ROOST_REDIS_PASSWORD_FILE"],
    "admin": ["ROOST_ADMIN_CURVE_SECRET", "ROOST_REDIS_PASSWORD_FILE"],
    "forwarder": ["ROOST_REDIS_PASSWORD_FILE"],
}
MADE = {"%s.%s" % (n, k) for n in ("bus", "authd", "broker", "admin") for k in ("secret", "public")}
MADE |= {"redis-roost.password", "redis-default.password", "redis.conf"}

redis = svc["redis"]
cmd = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
if "protected-mode no" in cmd or "/keys/redis.conf" not in cmd:
    problems.append("redis: not started with the keys volume's redis.conf (AUTH)")
if "REDISCLI_AUTH" not in " ".join(redis["healthcheck"]["test"]):
    problems.append("redis: health check does not authenticate")
if svc.get("keys", {}).get("command", [None])[0] != "keys":
    problems.append("no one-shot keys service")

for name, s in svc.items():
    kind = next((k for k in NEEDS if name.startswith(k)), None)
    if kind is None:
        continue
    env = s.get("environment", {})
    for var in NEEDS[kind]:
        v = env.get(var, "")
        if not v.startswith(KEYS) or v[len(KEYS):] not in MADE:
            problems.append("%s: %s=%r is not a file roost-keys makes" % (name, var, v))
    if env.get("ROOST_REDIS_USER") != "roost":
        problems.append("%s: not logging in to Redis as the ACL user roost" % name)
    vols = [v if isinstance(v, str) else "%s:%s:%s" % (v.get("source"), v.get("target"),
                                                       "ro" if v.get("read_only") else "rw")
            for v in s.get("volumes", [])]
    if not any("roost-keys" in v and v.startswith("roost-keys") and v.endswith(":ro") for v in vols):
        problems.append("%s: keys volume not mounted read-only (%r)" % (name, vols))

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("compose secure defaults ok: %d services checked" % sum(1 for n in svc if any(n.startswith(k) for k in NEEDS)))
