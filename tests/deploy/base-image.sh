#!/usr/bin/env bash
# Makes docker.io/library/debian:bookworm-slim exist in podman's local store
# without any registry: debootstrap a minbase bookworm from Debian's archive
# once, keep its tarball under $CACHE, and import it. Quick when present.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if podman image exists "$BASE_IMAGE"; then exit 0; fi
mkdir -p "$CACHE"
TAR=$CACHE/debian-bookworm-minbase.tar
if [[ ! -s $TAR ]]; then
  MIRROR=${ROOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  DIR=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$DIR"' EXIT
  log "debootstrap bookworm (minbase) from $MIRROR into $DIR"
  debootstrap --variant=minbase bookworm "$DIR" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
  # the same apt sources as the official image (updates and security too)
  rm -f "$DIR/etc/apt/sources.list"
  cat >"$DIR/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/tmp/*
  tar -C "$DIR" --numeric-owner -cf "$TAR.tmp" .
  mv "$TAR.tmp" "$TAR"
fi
log "importing $TAR as $BASE_IMAGE"
podman import --change 'CMD ["bash"]' "$TAR" localhost/debian:bookworm >/dev/null
podman tag localhost/debian:bookworm "$BASE_IMAGE"
