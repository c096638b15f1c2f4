/**
 * The container id in a process's cgroup path. Runtimes name the cgroup of a container after
 * its 64-hex id, as a whole segment (`/docker/<id>`, cgroupfs-driver kubepods
 * `/kubepods/burstable/pod<uid>/<id>`) or inside a systemd scope (`docker-<id>.scope`,
 * `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>.scope`). The id sits in one of the
 * last segments: a process in a nested cgroup (`…/<id>/init.scope`) is still in the container.
 * M1.3 brings the full cgroup parser; this only finds the id.
 */

/** A segment that is, or wraps, a container id; conmon (CRI-O's monitor) is not the container. */
const SEGMENT = /^(?:([a-z][a-z0-9-]*)-)?([0-9a-f]{64})(?:\.scope)?$/;
/** How many trailing segments are searched. */
const LAST_SEGMENTS = 3;
/** A cgroup path longer than this is not one the kernel wrote (PATH_MAX). */
const MAX_PATH = 4096;

export function containerIdFromCgroup(cgroupPath: string | undefined): string | undefined {
  if (cgroupPath === undefined || cgroupPath.length > MAX_PATH) return undefined;
  let end = cgroupPath.length;
  for (let i = 0; i < LAST_SEGMENTS && end > 0; i++) {
    const slash = cgroupPath.lastIndexOf('/', end - 1);
    const segment = cgroupPath.slice(slash + 1, end);
    end = slash < 0 ? 0 : slash;
    // 64 hex plus the longest prefix we accept; anything shorter cannot hold an id.
    if (segment.length < 64) continue;
    const m = SEGMENT.exec(segment);
    if (m && !(m[1] ?? '').includes('conmon')) return m[2];
  }
  return undefined;
}
