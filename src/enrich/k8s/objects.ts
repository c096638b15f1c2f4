/**
 * The parts of Kubernetes objects Sextant keeps, converted from the API's JSON once on arrival.
 * Everything else (spec, status, managedFields, the last-applied-configuration annotation) is
 * dropped there, so memory is bounded by what enrichment uses, not by what users put in objects.
 * A converter returns undefined for anything not in the API's shape.
 */

export interface OwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface ObjectMeta {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion: string;
  /** Only the keys the key filter wants. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The owner reference with `controller: true`, the one that manages the object. */
  readonly controller: OwnerRef | undefined;
}

/** One container of a pod as its status reports it: what ties a runtime container id to its name. */
export interface PodContainerStatus {
  readonly name: string;
  /** The runtime's id without the `containerd://` / `docker://` / `cri-o://` scheme; empty before it starts. */
  readonly id: string;
  readonly restartCount: number;
}

/** What enrichment reads of a pod (its attributes, its workload): the node agent's pods and the cluster monitor's alike. */
export interface PodIdentity extends ObjectMeta {
  readonly nodeName: string;
}

/** A pod as the node agent keeps it: its identity, and what tells a sending application's pod and container. */
export interface PodMeta extends PodIdentity {
  /** `status.podIPs` (or `status.podIP`): the receiver knows a sending pod by them. */
  readonly ips: readonly string[];
  /** `spec.hostNetwork`: such a pod's IP is the node's and names no pod. */
  readonly hostNetwork: boolean;
  /** `status.containerStatuses` and `initContainerStatuses`, capped. */
  readonly containers: readonly PodContainerStatus[];
}

/** Most container statuses kept per pod (a pod has a handful; a bound all the same). */
const MAX_CONTAINERS = 64;

function podIps(status: Record<string, unknown>): string[] {
  const out: string[] = [];
  const list = status['podIPs'];
  if (Array.isArray(list)) {
    for (const e of list) {
      const ip = isObject(e) ? str(e['ip']) : undefined;
      if (ip !== undefined && ip.length > 0 && ip.length <= 64 && !out.includes(ip)) out.push(ip);
      if (out.length >= 4) break;
    }
  }
  const single = str(status['podIP']);
  if (single !== undefined && single.length > 0 && single.length <= 64 && !out.includes(single)) out.push(single);
  return out;
}

function containerStatuses(status: Record<string, unknown>): PodContainerStatus[] {
  const out: PodContainerStatus[] = [];
  for (const field of ['containerStatuses', 'initContainerStatuses']) {
    const list = status[field];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isObject(c) || out.length >= MAX_CONTAINERS) continue;
      const name = str(c['name']);
      if (name === undefined || name.length === 0) continue;
      const raw = str(c['containerID']) ?? '';
      const sep = raw.indexOf('://');
      const restarts = c['restartCount'];
      out.push({ name, id: sep === -1 ? raw : raw.slice(sep + 3), restartCount: typeof restarts === 'number' && Number.isInteger(restarts) && restarts >= 0 ? restarts : 0 });
    }
  }
  return out;
}

export type NamespaceMeta = ObjectMeta;

/** Which label and annotation keys are kept (decided once from the configuration). */
export interface KeyFilter {
  label(key: string): boolean;
  annotation(key: string): boolean;
}

export const KEEP_ALL: KeyFilter = { label: () => true, annotation: () => true };

/** Longest label or annotation value kept; a longer one is cut (annotations may hold 256 KiB). */
export const MAX_VALUE_CHARS = 4096;
/** Most labels or annotations kept per object. */
const MAX_ENTRIES = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function stringMap(v: unknown, keep: (key: string) => boolean): Readonly<Record<string, string>> {
  if (!isObject(v)) return EMPTY;
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const k in v) {
    const value = v[k];
    if (typeof value !== 'string' || !keep(k)) continue;
    if (++n > MAX_ENTRIES) break;
    out ??= {};
    out[k] = value.length > MAX_VALUE_CHARS ? value.slice(0, MAX_VALUE_CHARS) : value;
  }
  return out === undefined ? EMPTY : Object.freeze(out);
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

function controllerOf(refs: unknown): OwnerRef | undefined {
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    if (!isObject(r) || r['controller'] !== true) continue;
    const apiVersion = str(r['apiVersion']);
    const kind = str(r['kind']);
    const name = str(r['name']);
    const uid = str(r['uid']);
    if (apiVersion === undefined || kind === undefined || name === undefined || name.length === 0) return undefined;
    return { apiVersion, kind, name, uid: uid ?? '' };
  }
  return undefined;
}

/** `metadata` of any object; undefined without a uid and a name. */
export function objectMeta(obj: unknown, filter: KeyFilter): ObjectMeta | undefined {
  if (!isObject(obj)) return undefined;
  const m = obj['metadata'];
  if (!isObject(m)) return undefined;
  const uid = str(m['uid']);
  const name = str(m['name']);
  if (uid === undefined || uid.length === 0 || name === undefined || name.length === 0) return undefined;
  return {
    uid,
    name,
    namespace: str(m['namespace']) ?? '',
    resourceVersion: str(m['resourceVersion']) ?? '',
    labels: stringMap(m['labels'], filter.label),
    annotations: stringMap(m['annotations'], filter.annotation),
    controller: controllerOf(m['ownerReferences']),
  };
}

export function podMeta(obj: unknown, filter: KeyFilter): PodMeta | undefined {
  const meta = objectMeta(obj, filter);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const spec = (obj as Record<string, unknown>)['spec'];
  const status = (obj as Record<string, unknown>)['status'];
  const nodeName = isObject(spec) ? (str(spec['nodeName']) ?? '') : '';
  const hostNetwork = isObject(spec) && spec['hostNetwork'] === true;
  if (!isObject(status)) return { ...meta, nodeName, ips: [], hostNetwork, containers: [] };
  return { ...meta, nodeName, ips: podIps(status), hostNetwork, containers: containerStatuses(status) };
}

export function namespaceMeta(obj: unknown, filter: KeyFilter): NamespaceMeta | undefined {
  return objectMeta(obj, filter);
}

/** `metadata.resourceVersion` of a list or a bookmark; undefined when missing. */
export function resourceVersionOf(obj: unknown): string | undefined {
  if (!isObject(obj)) return undefined;
  const m = obj['metadata'];
  if (!isObject(m)) return undefined;
  const rv = str(m['resourceVersion']);
  return rv !== undefined && rv.length > 0 ? rv : undefined;
}

/** The `continue` token of a list page; undefined on the last page. */
export function continueOf(list: unknown): string | undefined {
  if (!isObject(list)) return undefined;
  const m = list['metadata'];
  if (!isObject(m)) return undefined;
  const c = str(m['continue']);
  return c !== undefined && c.length > 0 ? c : undefined;
}

/** A `Status` object's code and message (410 in an ERROR event, 403 in a response body). */
export function statusOf(obj: unknown): { code: number; reason: string; message: string } | undefined {
  if (!isObject(obj) || obj['kind'] !== 'Status') return undefined;
  const code = typeof obj['code'] === 'number' ? obj['code'] : 0;
  return { code, reason: str(obj['reason']) ?? '', message: str(obj['message']) ?? '' };
}
