/**
 * Who a cgroup belongs to, read from its path alone (no runtime socket needed). The runtimes and
 * kubelet name cgroups after the container id and the pod uid:
 *
 *   /docker/<id>                                   Docker, cgroupfs driver (v1, and the hybrid v2 line)
 *   /system.slice/docker-<id>.scope                Docker, systemd driver
 *   /k8s.io/<id>                                   containerd, its namespace as the parent
 *   /kubepods/<qos>/pod<uid>/<id>                  kubelet cgroupfs driver (any CRI runtime)
 *   /kubepods/pod<uid>/<id>                        … a guaranteed pod has no QoS level
 *   /kubepods/burstable/pod<uid>/crio-<id>         … CRI-O under the cgroupfs driver
 *   /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope
 *   /kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope   systemd driver (guaranteed)
 *
 * Systemd unit names cannot hold `-` inside a component, so kubelet writes the uid's dashes as
 * underscores there. The container segment may be followed by nested cgroups of the container's
 * own (`…/docker-<id>.scope/init.scope`), and the whole tree may sit under another container
 * (minikube's docker driver: `/docker/<node>/kubepods/…`): the id nearest the end wins.
 */

export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';
export type CgroupRuntime = 'docker' | 'containerd' | 'cri-o';

export interface CgroupIdentity {
  /** 64 lower-case hex; absent for a pod-level cgroup (the pod slice, CRI-O's conmon). */
  readonly containerId?: string;
  /** With dashes, as the Kubernetes API writes it. */
  readonly podUid?: string;
  readonly qosClass?: QosClass;
  /** Only where the path says so; a bare id under kubepods may be any CRI runtime. */
  readonly runtime?: CgroupRuntime;
}

/** A cgroup path longer than this is not one the kernel wrote (PATH_MAX). */
const MAX_PATH = 4096;
/** How many trailing segments may hold the container id (the rest are its nested cgroups). */
const LAST_SEGMENTS = 3;
const ID_LENGTH = 64;

/** Segment bounds, reused across calls: the parser keeps no state between calls but these. */
const starts = new Int32Array(LAST_SEGMENTS + 3);
const ends = new Int32Array(LAST_SEGMENTS + 3);

export function parseCgroupPath(path: string | undefined): CgroupIdentity | undefined {
  if (typeof path !== 'string' || path.length < 2 || path.length > MAX_PATH || path.charCodeAt(0) !== 47 /* / */) {
    return undefined;
  }
  // Split the last few segments from the end (a trailing slash is tolerated).
  let end = path.length;
  if (path.charCodeAt(end - 1) === 47) end--;
  let count = 0;
  while (count < starts.length && end > 0) {
    const slash = path.lastIndexOf('/', end - 1);
    starts[count] = slash + 1;
    ends[count] = end;
    count++;
    end = slash;
  }
  for (let k = 0; k < count && k < LAST_SEGMENTS; k++) {
    const s = starts[k]!;
    const e = ends[k]!;
    if (e - s < ID_LENGTH) continue;
    const found = containerSegment(path, s, e);
    if (found === NOT_CONTAINER) break; // conmon: the pod's, not a container's
    if (found === undefined) continue;
    const idStart = found.idStart;
    const containerId = path.slice(idStart, idStart + ID_LENGTH);
    const pod = k + 1 < count ? podSegment(path, k + 1, count) : undefined;
    let runtime = found.runtime;
    if (runtime === undefined && found.bare && k + 1 < count) runtime = bareParentRuntime(path, starts[k + 1]!, ends[k + 1]!);
    if (pod) {
      return runtime === undefined
        ? { containerId, podUid: pod.podUid, qosClass: pod.qosClass }
        : { containerId, podUid: pod.podUid, qosClass: pod.qosClass, runtime };
    }
    return runtime === undefined ? { containerId } : { containerId, runtime };
  }
  // No container: the pod's own cgroup, or something directly inside it (conmon).
  for (let k = 0; k < count && k < 2; k++) {
    const pod = podSegment(path, k, count);
    if (pod) return pod;
  }
  return undefined;
}

interface ContainerSegment {
  readonly idStart: number;
  readonly runtime: CgroupRuntime | undefined;
  /** The segment is the id and nothing else; the parent may name the runtime. */
  readonly bare: boolean;
}

const NOT_CONTAINER = Symbol('not-container');
const SCOPE = '.scope';
/** Scope prefixes that name a runtime; another lower-case prefix (podman's `libpod`) is accepted without one. */
const PREFIX_RUNTIME: ReadonlyArray<readonly [string, CgroupRuntime]> = [
  ['docker', 'docker'],
  ['cri-containerd', 'containerd'],
  ['crio', 'cri-o'],
];

/**
 * `<id>`, `<prefix>-<id>` or `<prefix>-<id>.scope`, the id 64 lower-case hex at the end.
 * CRI-O's monitor (`crio-conmon-<id>.scope`) wraps an id but is not the container.
 */
function containerSegment(path: string, s: number, e: number): ContainerSegment | undefined | typeof NOT_CONTAINER {
  let idEnd = e;
  if (path.endsWith(SCOPE, e)) idEnd = e - SCOPE.length;
  const idStart = idEnd - ID_LENGTH;
  if (idStart < s || !isLowerHex(path, idStart, idEnd)) return undefined;
  if (idStart === s) {
    // A bare id; `<id>.scope` is not a name any runtime writes.
    return idEnd === e ? { idStart, runtime: undefined, bare: true } : undefined;
  }
  // `<prefix>-<id>`: the prefix is a lower-case word with inner dashes.
  if (path.charCodeAt(idStart - 1) !== 45 /* - */ || idStart - 1 === s || !isPrefix(path, s, idStart - 1)) return undefined;
  const prefixLength = idStart - 1 - s;
  // `conmon` anywhere in the prefix (`crio-conmon`, `libpod-conmon`) is the runtime's monitor.
  const conmon = path.indexOf('conmon', s);
  if (conmon !== -1 && conmon < idStart) return NOT_CONTAINER;
  for (const [prefix, runtime] of PREFIX_RUNTIME) {
    if (prefix.length === prefixLength && path.startsWith(prefix, s)) return { idStart, runtime, bare: false };
  }
  return { idStart, runtime: undefined, bare: false };
}

/** The parent of a bare id names the runtime for Docker's cgroupfs driver and containerd's namespace. */
function bareParentRuntime(path: string, s: number, e: number): CgroupRuntime | undefined {
  if (segmentIs(path, s, e, 'docker')) return 'docker';
  if (segmentIs(path, s, e, 'k8s.io')) return 'containerd';
  return undefined;
}

interface PodIdentity {
  readonly podUid: string;
  readonly qosClass: QosClass;
}

const KUBEPODS = 'kubepods';
const POD = 'pod';
const SLICE = '.slice';

/**
 * The pod segment at index `k` (counted from the end): `pod<uid>` under `kubepods[/<qos>]`
 * (cgroupfs driver), or `kubepods[-<qos>]-pod<uid_>.slice` (systemd driver).
 */
function podSegment(path: string, k: number, count: number): PodIdentity | undefined {
  const s = starts[k]!;
  const e = ends[k]!;
  if (path.startsWith(POD, s) && !path.endsWith(SLICE, e)) {
    const podUid = podUidAt(path, s + POD.length, e, false);
    if (podUid === undefined || k + 1 >= count) return undefined;
    const ps = starts[k + 1]!;
    const pe = ends[k + 1]!;
    if (segmentIs(path, ps, pe, KUBEPODS)) return { podUid, qosClass: 'guaranteed' };
    const qos = qosAt(path, ps, pe);
    if (qos === undefined || k + 2 >= count || !segmentIs(path, starts[k + 2]!, ends[k + 2]!, KUBEPODS)) return undefined;
    return { podUid, qosClass: qos };
  }
  if (!path.startsWith(KUBEPODS + '-', s) || !path.endsWith(SLICE, e)) return undefined;
  let i = s + KUBEPODS.length + 1;
  let qosClass: QosClass = 'guaranteed';
  if (!path.startsWith(POD, i)) {
    const dash = path.indexOf('-', i);
    if (dash === -1 || dash >= e) return undefined;
    const qos = qosAt(path, i, dash);
    if (qos === undefined) return undefined;
    qosClass = qos;
    i = dash + 1;
    if (!path.startsWith(POD, i)) return undefined;
  }
  const podUid = podUidAt(path, i + POD.length, e - SLICE.length, true);
  return podUid === undefined ? undefined : { podUid, qosClass };
}

function qosAt(path: string, s: number, e: number): QosClass | undefined {
  if (segmentIs(path, s, e, 'burstable')) return 'burstable';
  if (segmentIs(path, s, e, 'besteffort')) return 'besteffort';
  return undefined;
}

/**
 * A pod uid: a UUID (8-4-4-4-12 lower-case hex) from the API server, or the 32-hex hash kubelet
 * gives a static pod. Under systemd the dashes are underscores; the answer always has dashes.
 */
function podUidAt(path: string, s: number, e: number, underscores: boolean): string | undefined {
  const n = e - s;
  if (n === 32) return isLowerHex(path, s, e) ? path.slice(s, e) : undefined;
  if (n !== 36) return undefined;
  const sep = underscores ? 95 /* _ */ : 45; /* - */
  for (let i = 0; i < 36; i++) {
    const c = path.charCodeAt(s + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== sep) return undefined;
    } else if (!isLowerHexCode(c)) return undefined;
  }
  const uid = path.slice(s, e);
  return underscores ? uid.replaceAll('_', '-') : uid;
}

function segmentIs(path: string, s: number, e: number, name: string): boolean {
  return e - s === name.length && path.startsWith(name, s);
}

function isLowerHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

function isLowerHex(path: string, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (!isLowerHexCode(path.charCodeAt(i))) return false;
  return true;
}

/** `[a-z][a-z0-9-]*`: the prefix of a runtime's scope name. */
function isPrefix(path: string, s: number, e: number): boolean {
  const first = path.charCodeAt(s);
  if (first < 97 || first > 122) return false;
  for (let i = s + 1; i < e; i++) {
    const c = path.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return false;
  }
  return true;
}
