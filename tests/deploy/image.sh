#!/usr/bin/env bash
# deploy test: build deploy/docker/Dockerfile with podman from the locally
# made Debian base (nothing pulled), then check the image: non-root user,
# every service starts far enough to print --help, console assets present.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_wanted || exit 77
mkdir -p "$CACHE"
"$DEPLOY_TESTS/base-image.sh"

t0=$SECONDS
log "podman build -> $ROOST_IMAGE"
# Both stages are tagged and labelled, so the images an earlier build left
# behind become dangling and can be pruned by that label (and only those);
# the tagged build stage keeps its package layer cached for the next run.
# The image's build stage fetches the console's uPlot from the npm registry;
# where HTTPS goes through an inspecting proxy (this machine), the host's CA
# bundle is handed to it as the build secret "ca".
secret=()
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $ca ]] && secret=(--secret "id=ca,src=$ca")
build() {
  podman build --pull=never --layers --label io.roost.deploy-test=1 "${secret[@]}" \
    -f "$ROOT/deploy/docker/Dockerfile" "$@" "$ROOT" >>"$CACHE/image-build.log" 2>&1 ||
    { tail -n 40 "$CACHE/image-build.log" >&2; exit 1; }
}
: >"$CACHE/image-build.log"
build --target build -t localhost/roost-build:test
build -t "$ROOST_IMAGE"
podman image prune -f --filter label=io.roost.deploy-test=1 >/dev/null
log "built in $((SECONDS - t0))s"

user=$(podman image inspect -f '{{.Config.User}}' "$ROOST_IMAGE")
[[ $user == roost:roost ]] || { echo "image user is '$user', want roost:roost" >&2; exit 1; }
[[ $(podman run --rm "$ROOST_IMAGE" id -u) == 10001 ]]
# output captured first: `cmd | grep -q` under pipefail fails when grep
# exits before cmd has written everything (SIGPIPE), as a long --help does
for svc in broker authd admin forwarder; do
  out=$(podman run --rm "$ROOST_IMAGE" "$svc" --help 2>&1) && grep -q -- '--redis' <<<"$out" ||
    { echo "'$svc --help' failed in the image" >&2; exit 1; }
done
out=$(podman run --rm "$ROOST_IMAGE" roostctl --help 2>&1)
grep -q 'nouns:' <<<"$out"
podman run --rm "$ROOST_IMAGE" test -f /usr/share/roost/console/index.html
# the Overview's charts: uPlot where admin serves /vendor/ from
podman run --rm "$ROOST_IMAGE" sh -c 'test -s "$ROOST_ADMIN_CONSOLE_VENDOR_DIR/uPlot.iife.min.js" &&
  test -s "$ROOST_ADMIN_CONSOLE_VENDOR_DIR/uPlot.min.css"' ||
  { echo "the console's uPlot is missing from the image" >&2; exit 1; }
# no compiler, headers or sources in the shipped image
if podman run --rm "$ROOST_IMAGE" sh -c 'command -v cc || command -v cmake || test -e /src || test -e /usr/include/zmq.h'; then
  echo "build tools or sources leaked into the runtime image" >&2; exit 1
fi
size=$(podman image inspect -f '{{.Size}}' "$ROOST_IMAGE")
log "image ok: $ROOST_IMAGE, $((size / 1024 / 1024)) MiB, user $user"

# Stand-ins for the official redis and haproxy images, which this machine
# cannot pull: the same programs from Debian's packages, used only by the e2e
# test (the compose file takes their names from ROOST_REDIS_IMAGE and
# ROOST_HAPROXY_IMAGE).
build_standin() { # image, package, user
  podman build --pull=never --layers --label io.roost.deploy-test=1 -t "$1" -f - "$ROOT/tests/deploy" >>"$CACHE/image-build.log" 2>&1 <<DOCKERFILE
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y -q --no-install-recommends $2 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /usr/local/etc/haproxy && chown $3 /data
WORKDIR /data
USER $3
DOCKERFILE
}
build_standin "$REDIS_IMAGE" redis-server redis
build_standin "$HAPROXY_IMAGE" haproxy haproxy
log "stand-in images ok ($((SECONDS - t0))s in all)"
