#!/usr/bin/env bash
# Brings up the real container runtimes Sextant's integration tests talk to:
#   - a Docker engine on /var/run/docker.sock (reused when one already answers there),
#   - a second containerd with its CRI plugin on its own socket, root and state dirs,
#   - a busybox image in Docker, and busybox + pause (sandbox) OCI images in containerd's
#     k8s.io namespace, all built locally from /bin/busybox (no registry is reachable).
# Runs as root on Debian 12 with no input; safe to run again (it reuses what is up).
# Prints KEY=value lines on stdout (and writes them to $STATE_DIR/env); all chatter goes to stderr.
# test/runtimes/teardown.sh undoes it. See test/runtimes/README.md.
set -euo pipefail

STATE_DIR=${SEXTANT_RUNTIMES_DIR:-/tmp/sextant-runtimes}
DOCKER_SOCK=/var/run/docker.sock
CRI_DIR=$STATE_DIR/containerd
CRI_SOCK=$CRI_DIR/containerd.sock
# Fully qualified refs: CRI normalises "sextant-test/x:latest" to "docker.io/sextant-test/x:latest",
# and Docker strips "docker.io/", so these names work unchanged with docker, ctr and CRI.
BUSYBOX_IMAGE=docker.io/sextant-test/busybox:latest
PAUSE_IMAGE=docker.io/sextant-test/pause:latest
# Containers the tests create carry this label so teardown.sh can find them.
TEST_LABEL=io.sextant.test
WAIT_S=${SEXTANT_RUNTIMES_WAIT_S:-30}

T0=$(date +%s%N)
log() { printf 'setup.sh: %s\n' "$*" >&2; }
die() { printf 'setup.sh: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 )) ms"; }

[ "$(id -u)" = 0 ] || die "must run as root (starts dockerd/containerd, writes cgroups)"
if [ ! -d "$STATE_DIR" ]; then
  mkdir -p "$STATE_DIR"
  # Shims and runc leave empty dirs under these even after a clean stop; teardown.sh removes
  # the empty ones only when they did not exist before us.
  for d in /run/containerd /run/docker; do [ -e "$d" ] || echo "$d"; done >"$STATE_DIR/created-run-dirs"
fi
chmod 755 "$STATE_DIR"

# ---------------------------------------------------------------- packages
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in docker.io containerd runc busybox-static; do pkg_installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get update first)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
fi
for c in dockerd containerd ctr runc docker; do
  command -v "$c" >/dev/null || die "$c not on PATH after install"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (package busybox-static)"
# A dynamically linked busybox would not run inside an image with no libc.
# (ldd, from libc-bin, exits non-zero for a static executable.)
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is dynamically linked; install busybox-static"; fi

# ---------------------------------------------------------------- helpers
# A daemon that died while this script runs is our zombie until we exit: kill -0 would still
# succeed, so read the state letter from /proc/<pid>/stat instead.
pid_alive() {
  local pid state
  [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
docker_up() { [ -S "$DOCKER_SOCK" ] && timeout 5 docker -H "unix://$DOCKER_SOCK" version >/dev/null 2>&1; }
# ctr waits for a socket that is not there yet (its dial blocks): test for the file first.
cri_up() { [ -S "$CRI_SOCK" ] && timeout 5 ctr --connect-timeout 2s -a "$CRI_SOCK" version >/dev/null 2>&1; }

# wait_for NAME PIDFILE LOGFILE CHECK-FUNCTION: bounded wait; fails early when the daemon died.
wait_for() {
  local name=$1 pidfile=$2 logfile=$3 check=$4 i
  for ((i = 0; i < WAIT_S * 5; i++)); do
    if "$check"; then return 0; fi
    if [ -f "$pidfile" ] && ! pid_alive "$pidfile"; then
      tail -n 30 "$logfile" >&2 || true
      die "$name exited during start-up (log: $logfile)"
    fi
    sleep 0.2
  done
  tail -n 30 "$logfile" >&2 || true
  die "$name did not answer within ${WAIT_S}s (log: $logfile)"
}

# start_daemon PIDFILE LOGFILE CMD...: detached into its own session so a test runner that kills
# our process group does not take the daemon with it. setsid does not fork here (a background job
# of a non-interactive shell is not a group leader), so $! is the daemon's own pid.
start_daemon() {
  local pidfile=$1 logfile=$2; shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

# ---------------------------------------------------------------- dockerd
if docker_up; then
  log "dockerd already answers on $DOCKER_SOCK; reusing it"
else
  if pid_alive "$STATE_DIR/dockerd.pid"; then
    die "dockerd (pid $(cat "$STATE_DIR/dockerd.pid")) started earlier does not answer; run teardown.sh"
  fi
  # dockerd bind-mounts /var/lib/docker onto itself (shared propagation) and undoes that only on
  # a clean shutdown; note whether it was a mount point before, for teardown.sh.
  if awk '$5 == "/var/lib/docker" { f = 1 } END { exit !f }' /proc/self/mountinfo; then
    rm -f "$STATE_DIR/docker-root-bind"
  else
    touch "$STATE_DIR/docker-root-bind"
  fi
  log "starting dockerd (log $STATE_DIR/dockerd.log)"
  # No internet and no need for a bridge: --iptables=false --bridge=none; tests use --network none
  # or host. Our own pid file (not /var/run/docker.pid) marks it as ours for teardown.sh.
  start_daemon "$STATE_DIR/dockerd.pid" "$STATE_DIR/dockerd.log" \
    dockerd --iptables=false --ip6tables=false --bridge=none --host "unix://$DOCKER_SOCK" \
    --pidfile "$STATE_DIR/dockerd.daemon.pid"
  wait_for dockerd "$STATE_DIR/dockerd.pid" "$STATE_DIR/dockerd.log" docker_up
  log "dockerd up after $(elapsed)"
fi

# ---------------------------------------------------------------- containerd (CRI)
write_containerd_config() {
  # pods/: where tests put each sandbox's log_directory (<CRI_ROOT>/pods/<ns>_<name>_<uid>).
  mkdir -p "$CRI_DIR/root" "$CRI_DIR/state" "$CRI_DIR/opt" "$CRI_DIR/cni/bin" "$CRI_DIR/cni/net.d" "$CRI_DIR/pods"
  # cgroupfs driver (SystemdCgroup = false): pods land in /kubepods/<qos>/pod<uid>/<id>.
  # restrict_oom_score_adj: these VMs lack CAP_SYS_RESOURCE, and the sandbox's oom_score_adj
  # of -998 would otherwise fail every RunPodSandbox ("can't get final child's PID from pipe").
  # Empty CNI dirs: tests run host-network pods, so NetworkReady=false is expected and harmless.
  cat >"$CRI_DIR/config.toml" <<EOF
version = 2
root = "$CRI_DIR/root"
state = "$CRI_DIR/state"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = "$CRI_SOCK"

[ttrpc]
  address = "$CRI_SOCK.ttrpc"

[debug]
  address = "$CRI_DIR/debug.sock"
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CRI_DIR/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    restrict_oom_score_adj = true
    disable_apparmor = true
    enable_selinux = false
    systemd_cgroup = false
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CRI_DIR/cni/bin"
      conf_dir = "$CRI_DIR/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$CRI_DIR/state/runc"
EOF
}

if cri_up; then
  log "containerd (CRI) already answers on $CRI_SOCK; reusing it"
else
  if pid_alive "$STATE_DIR/containerd.pid"; then
    die "containerd (pid $(cat "$STATE_DIR/containerd.pid")) started earlier does not answer; run teardown.sh"
  fi
  write_containerd_config
  rm -f "$CRI_SOCK" "$CRI_SOCK.ttrpc" "$CRI_DIR/debug.sock"
  log "starting containerd with CRI (log $STATE_DIR/containerd.log)"
  start_daemon "$STATE_DIR/containerd.pid" "$STATE_DIR/containerd.log" \
    containerd --config "$CRI_DIR/config.toml"
  wait_for containerd "$STATE_DIR/containerd.pid" "$STATE_DIR/containerd.log" cri_up
  log "containerd up after $(elapsed)"
fi
# The CRI plugin loads after the socket answers on a slow machine; "ok" means it is serving.
cri_plugin_ok() { ctr -a "$CRI_SOCK" plugins ls 2>/dev/null | awk '$2 == "cri" { print $NF }' | grep -qx ok; }
wait_for "containerd CRI plugin" "$STATE_DIR/containerd.pid" "$STATE_DIR/containerd.log" cri_plugin_ok

# ---------------------------------------------------------------- images
IMG_DIR=$STATE_DIR/images
ARCH=$(dpkg --print-architecture)   # amd64, arm64: the same words OCI uses

# The rootfs both images share: static busybox plus one symlink per applet, and the few files
# a shell expects. Built once per state dir.
make_rootfs() {
  local r=$IMG_DIR/rootfs a
  rm -rf "$r"
  mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/root" "$r/tmp" "$r/var"
  chmod 1777 "$r/tmp"
  cp "$BUSYBOX" "$r/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  # Fixed owner, order and mtime: the layer (and so every digest) is identical on every run.
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$r" -cf "$IMG_DIR/layer.tar" .
}

# add_blob LAYOUT FILE: moves FILE into LAYOUT/blobs/sha256/<digest>; sets BLOB_DIGEST, BLOB_SIZE.
add_blob() {
  BLOB_DIGEST=$(sha256sum "$2" | cut -d' ' -f1)
  BLOB_SIZE=$(stat -c %s "$2")
  mv "$2" "$1/blobs/sha256/$BLOB_DIGEST"
}

# oci_image OUT.tar REF CMD-JSON: an OCI image layout tar (index -> manifest -> config + layer)
# with a real image config, which `ctr images import` names after io.containerd.image.name.
oci_image() {
  local out=$1 ref=$2 cmd=$3 lay layer_digest layer_size cfg_digest cfg_size
  lay=$(mktemp -d "$IMG_DIR/layout.XXXXXX")
  mkdir -p "$lay/blobs/sha256"
  cp "$IMG_DIR/layer.tar" "$lay/layer"
  add_blob "$lay" "$lay/layer"; layer_digest=$BLOB_DIGEST; layer_size=$BLOB_SIZE
  cat >"$lay/config" <<EOF
{"architecture":"$ARCH","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":$cmd,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$layer_digest"]},"history":[{"created_by":"test/runtimes/setup.sh"}]}
EOF
  add_blob "$lay" "$lay/config"; cfg_digest=$BLOB_DIGEST; cfg_size=$BLOB_SIZE
  cat >"$lay/manifest" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg_digest","size":$cfg_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_digest","size":$layer_size}]}
EOF
  add_blob "$lay" "$lay/manifest"
  cat >"$lay/index.json" <<EOF
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$BLOB_DIGEST","size":$BLOB_SIZE,"platform":{"architecture":"$ARCH","os":"linux"},"annotations":{"io.containerd.image.name":"$ref","org.opencontainers.image.ref.name":"${ref##*:}"}}]}
EOF
  echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
  tar -C "$lay" -cf "$out" oci-layout index.json blobs
  rm -rf "$lay"
}

cri_has_image() { ctr -a "$CRI_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -qxF "$1"; }
need_docker_image=0; need_cri_images=0
docker -H "unix://$DOCKER_SOCK" image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 || need_docker_image=1
{ cri_has_image "$BUSYBOX_IMAGE" && cri_has_image "$PAUSE_IMAGE"; } || need_cri_images=1

if [ $need_docker_image = 1 ] || [ $need_cri_images = 1 ]; then
  mkdir -p "$IMG_DIR"
  make_rootfs
fi
if [ $need_docker_image = 1 ]; then
  log "importing $BUSYBOX_IMAGE into Docker"
  # docker import gives no config beyond --change; PATH and a default Cmd are enough for Docker.
  docker -H "unix://$DOCKER_SOCK" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' "$IMG_DIR/layer.tar" "$BUSYBOX_IMAGE" >/dev/null
fi
if [ $need_cri_images = 1 ]; then
  log "building and importing $BUSYBOX_IMAGE and $PAUSE_IMAGE into containerd (k8s.io)"
  oci_image "$IMG_DIR/busybox.tar" "$BUSYBOX_IMAGE" '["sh"]'
  # A sandbox's Cmd must run until killed, and exit promptly on SIGTERM/SIGKILL.
  oci_image "$IMG_DIR/pause.tar" "$PAUSE_IMAGE" '["sleep","2147483647"]'
  for t in busybox pause; do
    ctr -a "$CRI_SOCK" -n k8s.io images import "$IMG_DIR/$t.tar" >/dev/null
  done
  cri_has_image "$BUSYBOX_IMAGE" && cri_has_image "$PAUSE_IMAGE" || die "images missing from containerd after import"
fi
rm -rf "$IMG_DIR/rootfs"

log "ready after $(elapsed)"
{
  echo "DOCKER_SOCK=$DOCKER_SOCK"
  echo "CRI_SOCK=$CRI_SOCK"
  echo "CRI_ROOT=$CRI_DIR"
  echo "STATE_DIR=$STATE_DIR"
  echo "BUSYBOX_IMAGE=$BUSYBOX_IMAGE"
  echo "PAUSE_IMAGE=$PAUSE_IMAGE"
  echo "TEST_LABEL=$TEST_LABEL"
} | tee "$STATE_DIR/env"
