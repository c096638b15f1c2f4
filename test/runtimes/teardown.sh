#!/usr/bin/env bash
# Undoes test/runtimes/setup.sh: removes the containers tests created (Docker containers labelled
# io.sextant.test; every task and container of the CRI containerd, which is ours alone), stops
# the daemons setup.sh started (by their pid files; a dockerd that was already running is left
# alone), unmounts what containerd left under the state dir, removes the pod-level cgroup dirs
# containerd never removes, and deletes the state dir.
# Idempotent: everything already gone is skipped; it reports problems on stderr and exits 0.
set -euo pipefail

STATE_DIR=${SEXTANT_RUNTIMES_DIR:-/tmp/sextant-runtimes}
DOCKER_SOCK=/var/run/docker.sock
CRI_DIR=$STATE_DIR/containerd
CRI_SOCK=$CRI_DIR/containerd.sock
TEST_LABEL=io.sextant.test
CGROUP_ROOT=/sys/fs/cgroup

T0=$(date +%s%N)
log() { printf 'teardown.sh: %s\n' "$*" >&2; }
warn() { printf 'teardown.sh: WARNING: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { warn "must run as root; nothing done"; exit 0; }

docker_up() { [ -S "$DOCKER_SOCK" ] && command -v docker >/dev/null && timeout 5 docker -H "unix://$DOCKER_SOCK" version >/dev/null 2>&1; }
cri_up() { [ -S "$CRI_SOCK" ] && command -v ctr >/dev/null && timeout 5 ctr --connect-timeout 2s -a "$CRI_SOCK" version >/dev/null 2>&1; }
cri() { timeout 20 ctr --connect-timeout 2s -a "$CRI_SOCK" -n k8s.io "$@"; }

# stop_pidfile FILE COMM SECONDS: SIGTERM the process named in FILE if it is still COMM (a pid
# file can outlive its process and the pid be reused), then SIGKILL after SECONDS.
stop_pidfile() {
  local file=$1 comm=$2 secs=$3 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "$comm" ]; then
    rm -f "$file"; return 0
  fi
  log "stopping $comm (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    warn "$comm (pid $pid) ignored SIGTERM for ${secs}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$file"
}

# pids_in_cgroups DIR...: every pid in those cgroup dirs and below.
pids_in_cgroups() { find "$@" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u; }

kubepods_dirs() { compgen -G "$CGROUP_ROOT/*/kubepods*" || true; }

# ---------------------------------------------------------------- Docker: labelled containers
if docker_up; then
  ids=$(docker -H "unix://$DOCKER_SOCK" ps -aq --filter "label=$TEST_LABEL" || true)
  if [ -n "$ids" ]; then
    log "removing $(echo "$ids" | wc -l) labelled Docker container(s)"
    # shellcheck disable=SC2086
    docker -H "unix://$DOCKER_SOCK" rm -f -v $ids >/dev/null || warn "docker rm failed for some of: $ids"
  fi
fi

# ---------------------------------------------------------------- containerd (CRI)
if cri_up; then
  # Bypassing CRI's StopPodSandbox/RemovePodSandbox is fine: the whole store goes with the state
  # dir. Killing every task first matters: stopping containerd leaves shims and containers running.
  tasks=$(cri tasks ls -q 2>/dev/null || true)
  for t in $tasks; do cri tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  # The CRI plugin deletes a task itself once it sees the exit; delete what is still listed.
  for i in 1 2 3 4 5 6 7 8 9 10; do
    tasks=$(cri tasks ls -q 2>/dev/null || true)
    [ -n "$tasks" ] || break
    for t in $tasks; do cri tasks delete -f "$t" >/dev/null 2>&1 || true; done
    sleep 0.2
  done
  [ -z "$tasks" ] || warn "tasks still listed after SIGKILL: $tasks"
  ctrs=$(cri containers ls -q 2>/dev/null || true)
  [ -z "$ctrs" ] || log "removing $(echo "$ctrs" | wc -l) containerd container(s)"
  for c in $ctrs; do cri containers delete "$c" >/dev/null 2>&1 || warn "could not delete container $c"; done
fi
stop_pidfile "$STATE_DIR/containerd.pid" containerd 10
if cri_up; then
  warn "a containerd not started by setup.sh answers on $CRI_SOCK; keeping $STATE_DIR"
  exit 0
fi

# Shims our containerd started (their -address names our socket), in case a task could not be
# deleted or containerd died first.
for d in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null || true)
  case $cmd in
    *containerd-shim*"-address $CRI_SOCK "*)
      pid=${d#/proc/}; warn "killing leftover shim $pid"; kill -KILL "$pid" 2>/dev/null || true ;;
  esac
done

# Pod processes still alive in kubepods cgroups: only setup.sh's containerd puts them there when
# no kubelet runs. With a kubelet on the machine they are its pods: leave them be.
kubelet_runs=0
for c in /proc/[0-9]*/comm; do
  [ "$(cat "$c" 2>/dev/null || true)" = kubelet ] && { kubelet_runs=1; break; }
done
mapfile -t kp < <(kubepods_dirs)
if [ ${#kp[@]} -gt 0 ] && [ $kubelet_runs = 0 ]; then
  for i in 1 2 3 4 5; do
    pids=$(pids_in_cgroups "${kp[@]}")
    [ -n "$pids" ] || break
    [ "$i" = 1 ] && warn "killing $(echo "$pids" | wc -l) process(es) left in kubepods cgroups"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
fi

# ---------------------------------------------------------------- mounts under the state dir
# Container rootfs overlays and sandbox /dev/shm tmpfs mounts that containerd left behind.
# mountinfo field 5 is the mount point (octal escapes for blanks; our paths have none).
unmount_under() {
  local m
  awk -v p="$1/" 'index($5, p) == 1 { print length($5), $5 }' /proc/self/mountinfo |
    sort -rn | cut -d' ' -f2- | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "cannot unmount $m"
    done
}
if [ -d "$STATE_DIR" ]; then unmount_under "$STATE_DIR"; fi

# ---------------------------------------------------------------- pod-level cgroup dirs
# containerd removes a container's own cgroup, never the pod-level cgroup_parent (kubelet's job):
# rmdir every kubepods* dir, deepest first, in every hierarchy (v1 controllers and unified).
# rmdir only removes empty cgroups, so a live one is reported, never forced.
if [ ${#kp[@]} -gt 0 ] && [ $kubelet_runs = 0 ]; then
  find "${kp[@]}" -depth -type d -print 2>/dev/null | while read -r d; do
    rmdir "$d" 2>/dev/null || warn "cannot remove cgroup $d"
  done
fi
# `ctr run` in the k8s.io namespace puts containers under /k8s.io; remove it when empty.
for d in "$CGROUP_ROOT"/*/k8s.io; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done

# ---------------------------------------------------------------- dockerd (only if ours)
if [ -f "$STATE_DIR/dockerd.pid" ]; then
  stop_pidfile "$STATE_DIR/dockerd.pid" dockerd 20
  # Its per-container cgroups go with the containers; the /docker parent stays. Empty only.
  for d in "$CGROUP_ROOT"/*/docker; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  # The self bind mount of /var/lib/docker outlives a dockerd that died or was killed.
  if [ -f "$STATE_DIR/docker-root-bind" ]; then
    while awk '$5 == "/var/lib/docker" { f = 1 } END { exit !f }' /proc/self/mountinfo; do
      umount /var/lib/docker 2>/dev/null || { warn "cannot unmount /var/lib/docker"; break; }
    done
  fi
fi

# What shims, runc and Docker's own containerd leave under /run (pitfall 6: empty dirs, stale
# sockets, a generated containerd.toml), only for dirs setup.sh found absent. While any dockerd
# or containerd still runs, only the empty dirs go.
if [ -f "$STATE_DIR/created-run-dirs" ]; then
  daemons=0
  for c in /proc/[0-9]*/comm; do
    case $(cat "$c" 2>/dev/null || true) in dockerd | containerd) daemons=1; break ;; esac
  done
  while read -r d; do
    [ -d "$d" ] || continue
    if [ $daemons = 0 ]; then
      rm -rf --one-file-system "$d" 2>/dev/null || warn "could not remove $d"
    else
      find "$d" -depth -type d -empty -delete 2>/dev/null || true
    fi
  done <"$STATE_DIR/created-run-dirs"
fi

# ---------------------------------------------------------------- state dir
if [ -d "$STATE_DIR" ]; then
  if awk -v p="$STATE_DIR/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    warn "mounts remain under $STATE_DIR; not removing it"
  else
    rm -rf --one-file-system "$STATE_DIR" || warn "could not remove $STATE_DIR"
  fi
fi
log "done after $(( ($(date +%s%N) - T0) / 1000000 )) ms"
exit 0
