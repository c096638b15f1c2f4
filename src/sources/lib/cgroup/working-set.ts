/**
 * The working set: memory the cgroup uses that the kernel could not simply drop under
 * pressure — usage minus the inactive file cache, never below zero. kubelet (eviction, `kubectl
 * top`) and cAdvisor (`container_memory_working_set_bytes`) compute it this way, with
 * `total_inactive_file` on v1 and `inactive_file` on v2; Docker's CLI shows the same number.
 * Without an inactive-file figure the usage itself is the working set.
 */
export function workingSetBytes(usage: number | undefined, inactiveFile: number | undefined): number | undefined {
  if (usage === undefined) return undefined;
  if (inactiveFile === undefined || inactiveFile > usage) return inactiveFile === undefined ? usage : 0;
  return usage - inactiveFile;
}

/**
 * `container.memory.available`: the limit less the working set, never below zero; undefined
 * without a limit (`Infinity`) or a working set.
 */
export function availableBytes(limit: number | undefined, workingSet: number | undefined): number | undefined {
  if (limit === undefined || workingSet === undefined || limit === Number.POSITIVE_INFINITY) return undefined;
  return limit > workingSet ? limit - workingSet : 0;
}
