import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PodMetadata, PodMetadataLookup } from '../enrich/k8s/pod-metadata-index.js';
import { parseCgroupPath } from '../sources/lib/cgroup/cgroup-path.js';
import { parseProcCgroup } from '../sources/lib/cgroup/proc-cgroup.js';

/**
 * Who sent a request: the three ways the receiver finds the pod and container, strongest first.
 *
 * - `socket`: the unix socket's peer credentials (SO_PEERCRED: the kernel's, not the sender's
 *   word) → `/proc/<pid>/cgroup` → container id and pod uid. Proves pod and container.
 * - `peer`: the TCP peer address is the IP of a pod of this node (pod index from the API). Proves
 *   the pod; which of its containers sent it the address cannot say.
 * - `resource`: the sender's own resource names `k8s.pod.uid` (host-network pods, whose address
 *   is the node's), and the uid is a pod of this node. The sender's claim: proves nothing, so
 *   everything the sender set itself stays.
 */
export type IdentifiedBy = 'socket' | 'peer' | 'resource' | 'none';
export const IDENTIFIED_BY: readonly IdentifiedBy[] = ['socket', 'peer', 'resource', 'none'];

/** What the connection says about the sender, found once per connection. */
export interface ConnectionIdentity {
  readonly by: 'socket' | 'peer' | 'none';
  readonly podUid: string | undefined;
  readonly containerId: string | undefined;
  /** The sender is on this node (loopback, the socket, a pod of this node): host.* is proven. */
  readonly local: boolean;
}

const UNKNOWN_REMOTE: ConnectionIdentity = Object.freeze({ by: 'none', podUid: undefined, containerId: undefined, local: false });
export const UNKNOWN_LOCAL: ConnectionIdentity = Object.freeze({ by: 'none', podUid: undefined, containerId: undefined, local: true });

/** Longest /proc/<pid>/cgroup read (a v1 host lists ~16 lines). */
const MAX_CGROUP_FILE = 16 * 1024;

export class SenderIdentifier {
  readonly #procDir: string;
  #pods: PodMetadataLookup | undefined;

  constructor(hostRoot: string, pods?: PodMetadataLookup) {
    this.#procDir = path.join(hostRoot, 'proc');
    this.#pods = pods;
  }

  setPods(pods: PodMetadataLookup): void {
    this.#pods = pods;
  }

  get pods(): PodMetadataLookup | undefined {
    return this.#pods;
  }

  /** A TCP sender: a pod of this node by its address, or not. */
  byAddress(address: string, local: boolean): ConnectionIdentity {
    const pod = this.#pods?.byIp(normalizeAddress(address));
    if (pod === undefined) return local ? UNKNOWN_LOCAL : UNKNOWN_REMOTE;
    return { by: 'peer', podUid: pod.attributes['k8s.pod.uid'] as string, containerId: undefined, local: true };
  }

  /** A unix-socket sender by its pid (0 or negative: the credentials could not be had). */
  byPid(pid: number): ConnectionIdentity {
    if (!(pid > 0)) return UNKNOWN_LOCAL;
    let text: string;
    try {
      const b = readFileSync(path.join(this.#procDir, String(pid), 'cgroup'));
      text = b.toString('utf8', 0, Math.min(b.length, MAX_CGROUP_FILE));
    } catch {
      // Gone already, or no host /proc (no hostPID): nothing proven.
      return UNKNOWN_LOCAL;
    }
    const cg = parseProcCgroup(text);
    const cgroupPath = cg.unified ?? cg.v1.values().next().value;
    const id = parseCgroupPath(cgroupPath);
    if (id === undefined || (id.containerId === undefined && id.podUid === undefined)) return UNKNOWN_LOCAL;
    let podUid = id.podUid;
    // A container that is not under a kubepods cgroup (Docker under cri-dockerd's cgroupfs
    // layout, a test's container): the pod index knows it by its container id.
    if (podUid === undefined && id.containerId !== undefined) podUid = this.#podOfContainer(id.containerId);
    return { by: 'socket', podUid, containerId: id.containerId, local: true };
  }

  /** The pod with this uid, when it is one of this node's (the `resource` way). */
  pod(uid: string): PodMetadata | undefined {
    return this.#pods?.byUid(uid);
  }

  #podOfContainer(containerId: string): string | undefined {
    return this.#pods?.byContainerId(containerId)?.attributes['k8s.pod.uid'] as string | undefined;
  }
}

/** `::ffff:10.1.2.3` (an IPv4 peer on a dual-stack listener) → `10.1.2.3`. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a.startsWith('127.') || a === '::1';
}
