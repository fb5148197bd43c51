#!/usr/bin/env bash
# deploy test (fast, every run): the compose file validates with
# docker-compose (no engine needed) and its haproxy.cfg with haproxy -c; the
# kustomize base, the example overlay, and the overlay with the external-Redis
# patch render with kubectl kustomize and validate offline (validate-k8s.mjs:
# kubernetes-models schemas plus Roost's cross-object checks).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

log "compose: docker-compose config -q"
(cd "$ROOT/deploy/compose" && docker-compose -f docker-compose.yml config -q)
# the services the deployment promises
services=$(cd "$ROOT/deploy/compose" && docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
[[ $services == "admin authd1 authd2 broker1 broker2 broker3 forwarder haproxy keys redis " ]] ||
  { echo "compose services: $services" >&2; exit 1; }
# published ports only on loopback by default
if (cd "$ROOT/deploy/compose" && docker-compose -f docker-compose.yml config) | grep -E 'host_ip: (0\.0\.0\.0|::)|published: .*:' ; then
  echo "compose publishes beyond 127.0.0.1 by default" >&2; exit 1
fi
log "compose: the TLS override (tls.yml): 8883 on 127.0.0.1, the brokers' certificate files"
tls_cfg=$(cd "$ROOT/deploy/compose" && docker-compose -f docker-compose.yml -f tls.yml config)
if grep -qE 'host_ip: (0\.0\.0\.0|::)|0\.0\.0\.0:8883' <<<"$tls_cfg" || ! grep -q '127\.0\.0\.1:8883:8883' <<<"$tls_cfg" ||
   [[ $(grep -c 'ROOST_TLS_KEY: /etc/roost/tls/tls.key' <<<"$tls_cfg") -ne 3 ]]; then
  echo "tls.yml: 8883 not published on 127.0.0.1 only, or not every broker reads the certificate" >&2; exit 1
fi
log "compose: secure defaults (validate-compose.py)"
(cd "$ROOT/deploy/compose" && docker-compose -f docker-compose.yml config) | /usr/bin/python3 "$DEPLOY_TESTS/validate-compose.py"
log "compose: haproxy -c"
haproxy -c -q -f "$ROOT/deploy/compose/haproxy.cfg"

# npm ci only when the lockfile changed since the last install
lock_sum=$(sha256sum "$DEPLOY_TESTS/package-lock.json" | cut -d' ' -f1)
if [[ ! -d $DEPLOY_TESTS/node_modules || $(cat "$DEPLOY_TESTS/node_modules/.roost-lock" 2>/dev/null) != "$lock_sum" ]]; then
  log "npm ci (tests/deploy)"
  (cd "$DEPLOY_TESTS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_sum" >"$DEPLOY_TESTS/node_modules/.roost-lock"
fi

log "k8s: kubectl kustomize + validate-k8s.mjs"
kubectl kustomize "$ROOT/deploy/k8s/base" >"$OUT/base.yaml"
kubectl kustomize "$ROOT/deploy/k8s/overlays/example" >"$OUT/example.yaml"
# the example overlay with its commented option on: the external-Redis component
mkdir -p "$OUT/external"
cp -r "$ROOT/deploy/k8s" "$OUT/external/"
sed -i -e 's|^# components:|components:|' -e 's|^#   - ../../components/external-redis|  - ../../components/external-redis|' \
  "$OUT/external/k8s/overlays/example/kustomization.yaml"
kubectl kustomize "$OUT/external/k8s/overlays/example" >"$OUT/external.yaml"
if grep -qE 'kind: StatefulSet|  name: roost-redis' "$OUT/external.yaml" || ! grep -q 'ROOST_REDIS: redis.example.internal:6379' "$OUT/external.yaml"; then
  echo "the external-Redis patch did not take" >&2; exit 1
fi
# and with Sentinel: the external Redis plus the Sentinels every service is given
mkdir -p "$OUT/sentinel"
cp -r "$ROOT/deploy/k8s" "$OUT/sentinel/"
sed -i -e 's|^# components:|components:|' \
  -e 's|^#   - ../../components/external-redis|  - ../../components/external-redis\n  - ../../components/redis-sentinel|' \
  "$OUT/sentinel/k8s/overlays/example/kustomization.yaml"
kubectl kustomize "$OUT/sentinel/k8s/overlays/example" >"$OUT/sentinel.yaml"
if grep -q 'kind: StatefulSet' "$OUT/sentinel.yaml" || ! grep -q 'ROOST_REDIS_SENTINELS: redis-sentinel-0' "$OUT/sentinel.yaml" ||
   ! grep -q 'ROOST_REDIS_MASTER: roost' "$OUT/sentinel.yaml"; then
  echo "the redis-sentinel component did not take" >&2; exit 1
fi
# and with the TLS component: 8883 on both Services, the certificate from the Secret roost-tls
mkdir -p "$OUT/tls"
cp -r "$ROOT/deploy/k8s" "$OUT/tls/"
sed -i -e 's|^# components:|components:|' -e 's|^#   - ../../components/external-redis|  - ../../components/tls|' \
  "$OUT/tls/k8s/overlays/example/kustomization.yaml"
kubectl kustomize "$OUT/tls/k8s/overlays/example" >"$OUT/tls.yaml"
if [[ $(grep -c 'port: 8883' "$OUT/tls.yaml") -ne 2 ]] || ! grep -q 'secretName: roost-tls' "$OUT/tls.yaml" ||
   ! grep -q 'value: /etc/roost/tls/tls.key' "$OUT/tls.yaml"; then
  echo "the TLS component did not take" >&2; exit 1
fi
# each render with the Secret the pods require (made out of band by roost-keys)
for f in base example external sentinel tls; do
  echo -n "$f: "; node "$DEPLOY_TESTS/validate-k8s.mjs" "$OUT/$f.yaml" "$ROOT/deploy/k8s/base/secret.example.yaml"
done
if grep -q 'name: roost-redis$' <(grep -A3 'kind: NetworkPolicy' "$OUT/external.yaml"); then
  echo "the external-Redis component left the Redis NetworkPolicy" >&2; exit 1
fi
# the example Secret names exactly the keys roost-keys --k8s-secret makes (and the token)
made=$(sed -n 's/^  \([A-Za-z_.]*\): .*/\1/p' "$ROOT/deploy/docker/roost-keys" | grep -v '^$' | sort | tr '\n' ' ')
shown=$(sed -n 's/^  \([A-Za-z_.]*\): .*/\1/p' "$ROOT/deploy/k8s/base/secret.example.yaml" | grep -v '^ROOST_ADMIN_TOKEN$' | sort | tr '\n' ' ')
[[ "$made" == "$shown" && -n "$made" ]] || { echo "roost-keys makes [$made], secret.example.yaml shows [$shown]" >&2; exit 1; }
echo -n "secret.example.yaml: "; node "$DEPLOY_TESTS/validate-k8s.mjs" "$ROOT/deploy/k8s/base/secret.example.yaml"
grep -q 'namespace: roost' "$OUT/example.yaml"
grep -q 'image: registry.example.com/roost:0.1.0' "$OUT/example.yaml"
log "manifests ok"
