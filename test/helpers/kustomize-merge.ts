/** A kustomization or patch uses something the offline renderer does not implement. */
export class KustomizeSubsetError extends Error {
  override name = 'KustomizeSubsetError';
}

/**
 * Strategic-merge patch, for the Kubernetes kinds and fields deploy/kubernetes/ patches:
 *
 * - maps merge key by key; a `null` value removes the key;
 * - a list of maps whose field has a Kubernetes patch merge key (below) merges item by item on
 *   that key: a matching item is merged, a new one added, and an item with `$patch: delete`
 *   removes the match;
 * - every other list (primitive lists such as capabilities.add, supplementalGroups, args; lists
 *   of maps without a merge key such as tolerations) is replaced whole, as the API's
 *   `patchStrategy` (none) says;
 * - any other `$`-directive (`$patch: replace`, `$setElementOrder`, `$retainKeys`,
 *   `$deleteFromPrimitiveList`) is refused, as is patching a field listed in UNIMPLEMENTED.
 *
 * Merge keys are those of the Kubernetes API (`patchMergeKey` in the OpenAPI schema) for the
 * fields of pod specs and the objects in deploy/kubernetes/.
 */
const MERGE_KEYS: ReadonlyMap<string, string> = new Map([
  ['containers', 'name'],
  ['initContainers', 'name'],
  ['volumes', 'name'],
  ['volumeMounts', 'mountPath'],
  ['env', 'name'],
  ['imagePullSecrets', 'name'],
]);

/** Fields whose merge key depends on where they are (container vs Service ports): only a container's `ports` (merge key containerPort) are patched. */
const UNIMPLEMENTED = new Set(['ports', 'volumeDevices', 'hostAliases', 'topologySpreadConstraints', 'resourceClaims']);
/** `at` is a container of a pod spec (its ports merge on containerPort). */
const CONTAINER_AT = /\/(containers|initContainers)\[[^\]]*\]$/;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

export function strategicMerge(target: unknown, patch: unknown, where: string): unknown {
  return mergeValue(target, patch, where, '');
}

function mergeValue(target: unknown, patch: unknown, where: string, at: string): unknown {
  if (isMap(patch)) {
    if (!isMap(target)) return stripDirectives(patch, where, at);
    return mergeMaps(target, patch, where, at);
  }
  // Scalars and lists at a place without a merge key replace the target.
  return clone(patch);
}

function mergeMaps(target: Record<string, unknown>, patch: Record<string, unknown>, where: string, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = clone(target);
  for (const [key, value] of Object.entries(patch)) {
    const here = `${at}/${key}`;
    if (key.startsWith('$')) throw new KustomizeSubsetError(`${where}: directive ${key} at ${at || '/'} is not implemented`);
    const containerPorts = key === 'ports' && CONTAINER_AT.test(at);
    if (UNIMPLEMENTED.has(key) && !containerPorts) throw new KustomizeSubsetError(`${where}: patching ${here} is not implemented`);
    if (value === null) {
      delete out[key];
      continue;
    }
    const mergeKey = containerPorts ? 'containerPort' : MERGE_KEYS.get(key);
    if (mergeKey !== undefined && Array.isArray(value)) {
      out[key] = mergeList(Array.isArray(out[key]) ? (out[key] as unknown[]) : [], value, mergeKey, where, here);
    } else {
      out[key] = mergeValue(out[key], value, where, here);
    }
  }
  return out;
}

function mergeList(target: unknown[], patch: unknown[], mergeKey: string, where: string, at: string): unknown[] {
  // kustomize (kyaml) orders the result as the patch's items first, in patch order (merged into
  // their match or new), then the target's items the patch does not mention, in their order.
  const mentioned = new Set<unknown>();
  const first: unknown[] = [];
  for (const item of patch) {
    if (!isMap(item) || item[mergeKey] === undefined) throw new KustomizeSubsetError(`${where}: items of ${at} need their merge key "${mergeKey}"`);
    const key = item[mergeKey];
    mentioned.add(key);
    const match = target.find((t) => isMap(t) && t[mergeKey] === key);
    const directive = item['$patch'];
    if (directive !== undefined) {
      if (directive !== 'delete') throw new KustomizeSubsetError(`${where}: $patch: ${String(directive)} at ${at} is not implemented`);
      if (Object.keys(item).length !== 2) throw new KustomizeSubsetError(`${where}: a $patch: delete item at ${at} carries only its merge key`);
      continue;
    }
    first.push(match === undefined ? stripDirectives(item, where, at) : mergeMaps(match as Record<string, unknown>, item, where, `${at}[${String(key)}]`));
  }
  const rest = target.filter((t) => !(isMap(t) && mentioned.has(t[mergeKey]))).map((t) => clone(t));
  return [...first, ...rest];
}

/** A new value (nothing to merge into) may not carry directives. */
function stripDirectives(value: Record<string, unknown>, where: string, at: string): Record<string, unknown> {
  const text = JSON.stringify(value);
  if (text.includes('"$patch"') || text.includes('"$setElementOrder') || text.includes('"$retainKeys"')) {
    throw new KustomizeSubsetError(`${where}: a directive inside new content at ${at} is not implemented`);
  }
  const out = clone(value);
  for (const [k, v] of Object.entries(out)) if (v === null) delete out[k];
  return out;
}
