#!/usr/bin/env bash
# deploy test: bring deploy/compose/docker-compose.yml up under podman-compose
# (the image from image.sh; Debian-built stand-ins for the redis and haproxy
# images), run e2e.py through it, and take down everything this run started
# (one compose project, named per run). Ports are published on 127.0.0.1 only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_wanted || exit 77
podman image exists "$ROOST_IMAGE" || { echo "no $ROOST_IMAGE: run tests/deploy/image.sh first" >&2; exit 1; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROJECT=roost-e2e-$$
export ROOST_IMAGE ROOST_REDIS_IMAGE=$REDIS_IMAGE ROOST_HAPROXY_IMAGE=$HAPROXY_IMAGE
export ROOST_PUBLISH_ADDR=127.0.0.1 ROOST_MQTT_PORT=$(free_port) ROOST_ADMIN_HTTP_PORT=$(free_port)
export ROOST_ADMIN_TOKEN=e2e-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
COMPOSE=(podman-compose --no-ansi -p "$PROJECT" -f "$ROOT/deploy/compose/docker-compose.yml")
OUT=$ROOT/tests/deploy/out
mkdir -p "$OUT"

down() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    log "failed; container logs in $OUT/$PROJECT.log"
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}'); do
      echo "===== $c" ; podman logs --tail 60 "$c" 2>&1
    done >"$OUT/$PROJECT.log"
  fi
  log "taking down $PROJECT"
  "${COMPOSE[@]}" down -v -t 10 >/dev/null 2>&1
  # whatever the compose tool left behind, by this run's project label only
  podman ps -aq --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman rm -f >/dev/null 2>&1
  podman pod ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman pod rm -f >/dev/null 2>&1
  podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman volume rm -f >/dev/null 2>&1
  podman network ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman network rm -f >/dev/null 2>&1
  exit $rc
}
trap down EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
log "podman-compose up $PROJECT (mqtt 127.0.0.1:$ROOST_MQTT_PORT, admin 127.0.0.1:$ROOST_ADMIN_HTTP_PORT)"
"${COMPOSE[@]}" up -d --no-build >"$OUT/$PROJECT.up.log" 2>&1 || { tail -n 30 "$OUT/$PROJECT.up.log" >&2; exit 1; }
log "up in $((SECONDS - t0))s"

# ports published on loopback only
if podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Ports}}' | grep -E '0\.0\.0\.0:|\[::\]:' ; then
  echo "a port is published beyond 127.0.0.1" >&2; exit 1
fi

export E2E_PROJECT=$PROJECT
/usr/bin/python3 "$DEPLOY_TESTS/e2e.py"
log "e2e passed ($((SECONDS - t0))s)"
