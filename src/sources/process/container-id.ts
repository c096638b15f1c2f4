import { parseCgroupPath } from '../lib/cgroup/cgroup-path.js';

/**
 * The container id in a process's cgroup path (`/docker/<id>`, `…/cri-containerd-<id>.scope`,
 * `…/pod<uid>/<id>`, a nested cgroup inside one of those …). The path formats and their rules
 * live in one place, src/sources/lib/cgroup/cgroup-path.ts; this keeps the process source's
 * one-question interface.
 */
export function containerIdFromCgroup(cgroupPath: string | undefined): string | undefined {
  return parseCgroupPath(cgroupPath)?.containerId;
}
