# Shared by the deploy tests (sourced). Paths, podman settings, and the
# locally made Debian base image that stands in for debian:bookworm-slim.
DEPLOY_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DEPLOY_TESTS/../.." && pwd)
export CONTAINERS_CONF=$DEPLOY_TESTS/containers.conf
CACHE=${ROOST_DEPLOY_CACHE:-/var/cache/roost-deploy}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
ROOST_IMAGE=${ROOST_IMAGE:-localhost/roost:test}
REDIS_IMAGE=localhost/roost-test-redis:bookworm
HAPROXY_IMAGE=localhost/roost-test-haproxy:bookworm

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Whether the image build and the compose e2e run. They do by default, cold
# cache included: a cold run here (debootstrap + first build) adds about
# 3 minutes, well inside script/test's budget (deploy/README.md "Tests").
# ROOST_DEPLOY_E2E=0 skips them; so does a machine where rootful podman
# cannot run. The reason goes to stdout; callers exit 77 (ctest: skipped).
e2e_wanted() {
  if [[ ${ROOST_DEPLOY_E2E:-1} == 0 ]]; then
    echo "skipped: ROOST_DEPLOY_E2E=0"; return 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "skipped: the deploy e2e needs rootful podman (run as root)"; return 1
  fi
  if ! command -v podman >/dev/null || ! command -v podman-compose >/dev/null; then
    echo "skipped: podman/podman-compose missing (script/bootstrap installs them)"; return 1
  fi
}
