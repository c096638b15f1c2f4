/**
 * Who wrote a log file, from its path alone (no runtime socket needed):
 *
 *   <root>/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log       kubelet (CRI format)
 *     … also the rotated `<restart>.log.<YYYYMMDD-HHMMSS>` and `<…>.gz`
 *   <root>/var/log/containers/<pod>_<ns>_<container>-<64 hex id>.log     kubelet's symlinks
 *   <root>/var/lib/docker/containers/<id>/<id>-json.log(.N)              Docker json-file
 *
 * Namespaces and container names are DNS-1123 labels and pod names DNS-1123 subdomains: none
 * may hold `_`, which is what makes the `_` splits unambiguous. Anything not exactly one of these
 * shapes (a `.tmp` of kubelet's gzip step, a name with `_` in the wrong place, an upper-case id)
 * gives undefined. `<root>` is any prefix (`/host` in a container); the shape is matched on the
 * last components.
 */

export interface PodLogPath {
  readonly kind: 'pod';
  readonly namespace: string;
  readonly podName: string;
  /** `k8s.pod.uid` (a UUID, or the config hash of a static pod). */
  readonly podUid: string;
  readonly containerName: string;
  readonly restartCount: number;
  /** True for `<n>.log.<timestamp>` and its `.gz`. */
  readonly rotated: boolean;
  /** True for the gzipped rotated file. */
  readonly compressed: boolean;
}

export interface ContainerLinkLogPath {
  readonly kind: 'container-link';
  readonly podName: string;
  readonly namespace: string;
  readonly containerName: string;
  readonly containerId: string;
}

export interface DockerLogPath {
  readonly kind: 'docker';
  readonly containerId: string;
  /** 0 for the live `-json.log`, N for `-json.log.N`. */
  readonly rotation: number;
}

export type LogPathIdentity = PodLogPath | ContainerLinkLogPath | DockerLogPath;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const POD_UID = /^[a-zA-Z0-9][-a-zA-Z0-9]{0,63}$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;
/** `<restart>.log`, `<restart>.log.<YYYYMMDD-HHMMSS>`, `<…>.gz`. */
const POD_LOG_FILE = /^(0|[1-9][0-9]{0,8})\.log(\.[0-9]{8}-[0-9]{6}(\.gz)?)?$/;
const LINK_FILE = /^([^_/]+)_([^_/]+)_([^_/]+)-([0-9a-f]{64})\.log$/;
const DOCKER_FILE = /^([0-9a-f]{64})-json\.log(?:\.([1-9][0-9]{0,5}))?$/;

/** The identity `path` names, or undefined when it is none of the known shapes. */
export function parseLogPath(path: string): LogPathIdentity | undefined {
  return parsePodLogPath(path) ?? parseContainerLinkLogPath(path) ?? parseDockerLogPath(path);
}

/** `/`-separated components, the last `count` of them, or undefined when there are fewer. */
function tail(path: string, count: number): string[] | undefined {
  const parts = path.split('/');
  if (parts.length < count + 1) return undefined; // needs a leading '/' or a root before `var`
  return parts.slice(parts.length - count);
}

export function parsePodLogPath(path: string): PodLogPath | undefined {
  // kubelet's pod log directory is /var/log/pods by default and configurable (podLogsDir), so
  // only its last component is required; the strict `<ns>_<pod>_<uid>` below carries the weight.
  if (!path.startsWith('/')) return undefined;
  const p = tail(path, 4);
  if (p === undefined) return undefined;
  const [pods, dir, container, file] = p as [string, string, string, string];
  if (pods !== 'pods') return undefined;
  const f = POD_LOG_FILE.exec(file);
  if (f === null) return undefined;
  const parts = dir.split('_');
  if (parts.length !== 3) return undefined;
  const [namespace, podName, podUid] = parts as [string, string, string];
  if (!DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(podName) || !POD_UID.test(podUid)) return undefined;
  if (!DNS_LABEL.test(container)) return undefined;
  return {
    kind: 'pod',
    namespace,
    podName,
    podUid,
    containerName: container,
    restartCount: Number(f[1]),
    rotated: f[2] !== undefined,
    compressed: f[3] !== undefined,
  };
}

export function parseContainerLinkLogPath(path: string): ContainerLinkLogPath | undefined {
  if (!path.startsWith('/')) return undefined;
  const p = tail(path, 4);
  if (p === undefined) return undefined;
  const [v, log, containers, file] = p as [string, string, string, string];
  if (v !== 'var' || log !== 'log' || containers !== 'containers') return undefined;
  const m = LINK_FILE.exec(file);
  if (m === null) return undefined;
  const [, podName, namespace, containerName, containerId] = m as unknown as [string, string, string, string, string];
  if (!DNS_SUBDOMAIN.test(podName) || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(containerName)) return undefined;
  return { kind: 'container-link', podName, namespace, containerName, containerId };
}

export function parseDockerLogPath(path: string): DockerLogPath | undefined {
  const p = tail(path, 6);
  if (p === undefined) return undefined;
  const [v, lib, docker, containers, dir, file] = p as [string, string, string, string, string, string];
  if (v !== 'var' || lib !== 'lib' || docker !== 'docker' || containers !== 'containers') return undefined;
  if (!CONTAINER_ID.test(dir)) return undefined;
  const m = DOCKER_FILE.exec(file);
  if (m === null || m[1] !== dir) return undefined;
  return { kind: 'docker', containerId: dir, rotation: m[2] === undefined ? 0 : Number(m[2]) };
}
