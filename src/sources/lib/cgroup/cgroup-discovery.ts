import type { Dirent } from 'node:fs';
import { readdirSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { cgroupDir, type CgroupLayout, type CgroupMount } from './cgroup-mounts.js';
import { parseCgroupPath, type CgroupIdentity, type QosClass } from './cgroup-path.js';

/**
 * Finds the containers on a host from the cgroup tree alone, with no runtime to ask: a walk
 * under the mount that names containers best — the unified root on v2, the memory controller's
 * hierarchy on v1 and hybrid hosts (every container has a memory cgroup; cpuacct, cpu, pids as
 * fallbacks) — starting only at the parents runtimes and kubelet put containers under:
 *
 *   docker          Docker, cgroupfs driver
 *   system.slice    Docker, systemd driver (docker-<id>.scope); not its *.service units
 *   kubepods        kubelet, cgroupfs driver (any CRI runtime)
 *   kubepods.slice  kubelet, systemd driver
 *   k8s.io          containerd's CRI namespace without kubelet's parents
 *   machine.slice   podman and systemd-nspawn (libpod-<id>.scope): an id without a runtime name,
 *                   cheap to look at, and a container all the same
 *
 * Every directory whose path parseCgroupPath names a container is reported once: the shallowest
 * wins, and the cgroups a container makes inside itself (`init.scope`, systemd's slices) are not
 * containers of their own. A container may host a node of its own — minikube's and kind's
 * docker drivers (`/docker/<node>/kubepods/…`), docker-in-docker — and those inner containers
 * are the ones with workload identity, so the walk looks inside a container too, but only into
 * children named like the roots above, and reports what it finds there with `enclosingPath`
 * set to the node container's path (which is reported as well: the caller decides whether a
 * container that hosts others is one to show).
 *
 * Bounded: `maxDepth` directories below the mount (6 is `/docker/<node>/kubepods/<qos>/pod<uid>/<id>`)
 * and `maxDirs` directories listed per walk (counted in `truncated` when hit). Symlinks are never
 * followed; a directory that vanishes mid-walk (a container exiting) or cannot be listed is
 * counted, never thrown.
 */
export interface DiscoveredContainer {
  /** The path as /proc/<pid>/cgroup names it; give it to CgroupStatsReader.read as `path`. */
  readonly cgroupPath: string;
  /** Always with a containerId. */
  readonly identity: CgroupIdentity;
  /** The cgroup path of the container this one runs inside (a minikube/kind node), if any. */
  readonly enclosingPath?: string;
}

export interface DiscoveredPod {
  readonly podUid: string;
  /** The pod-level cgroup (kubelet's `pod<uid>` or `kubepods-…-pod<uid_>.slice`). */
  readonly cgroupPath: string;
  readonly qosClass: QosClass | undefined;
}

export interface CgroupDiscoveryResult {
  readonly containers: DiscoveredContainer[];
  /** podUid → its pod cgroup, for the pods the walk passed. */
  readonly pods: Map<string, DiscoveredPod>;
  /** Directories listed. */
  readonly dirs: number;
  /** True when `maxDirs` stopped the walk early: the lists may be incomplete. */
  readonly truncated: boolean;
  /** Directories that were gone when listed (ENOENT/ENOTDIR: a container exiting mid-walk). */
  readonly vanished: number;
  /** Directories that could not be listed for another reason (permission, I/O). */
  readonly unreadable: number;
}

export interface CgroupDiscoveryOptions {
  /** Top-level directories to walk; DEFAULT_DISCOVERY_ROOTS unless given. */
  readonly roots?: readonly string[];
  readonly maxDepth?: number;
  readonly maxDirs?: number;
}

export const DEFAULT_DISCOVERY_ROOTS: readonly string[] = ['docker', 'system.slice', 'kubepods', 'kubepods.slice', 'k8s.io', 'machine.slice'];
const DEFAULT_MAX_DEPTH = 6;
const DEFAULT_MAX_DIRS = 20_000;
/** Directories listed between two yields to the event loop (~2 ms of listing). */
const YIELD_EVERY = 128;
/** What a node inside a container names its containers' parents: looked into, whatever `roots` says. */
const NESTED_ROOTS: ReadonlySet<string> = new Set(DEFAULT_DISCOVERY_ROOTS);
/** systemd units that hold services, not containers: never walked into. */
const NOT_CONTAINER_UNITS = ['.service', '.socket', '.mount', '.swap'];

interface Frame {
  /** Path relative to the mount directory, with a leading `/`. */
  readonly rel: string;
  readonly depth: number;
  /** The innermost container this directory is inside, if any. */
  readonly enclosingId: string | undefined;
  readonly enclosingPath: string | undefined;
}

/**
 * A container directory is listed only to find a node nested in it (minikube, kind,
 * docker-in-docker), which appears rarely and lives long: its listing is taken again every this
 * many walks and the nested roots it showed are reused in between. That is most of a walk's
 * cost on a node of many containers (each container directory holds ~40 files on v1).
 */
const CONTAINER_RELIST_EVERY = 6;

export class CgroupDiscovery {
  /** The hierarchy walked; undefined on a host without cgroups (discover() then finds nothing). */
  readonly mount: CgroupMount | undefined;
  readonly #mountDir: string | undefined;
  /** What the mount's top is called in cgroup paths (`` for `/`). */
  readonly #base: string;
  readonly #roots: ReadonlySet<string>;
  readonly #maxDepth: number;
  readonly #maxDirs: number;
  /** Container directory (relative path) → the walk that listed it and the nested roots it held. */
  readonly #nested = new Map<string, { readonly walk: number; readonly dirs: Dirent[] }>();
  #walks = 0;

  constructor(hostRoot: string, layout: CgroupLayout, options: CgroupDiscoveryOptions = {}) {
    const v1 = layout.mode === 'v1' || layout.mode === 'hybrid';
    this.mount = v1
      ? (layout.v1.get('memory') ?? layout.v1.get('cpuacct') ?? layout.v1.get('cpu') ?? layout.v1.get('pids') ?? layout.unified)
      : layout.unified;
    this.#mountDir = this.mount === undefined ? undefined : cgroupDir(hostRoot, this.mount, this.mount.root);
    this.#base = this.mount === undefined || this.mount.root === '/' ? '' : this.mount.root;
    this.#roots = new Set(options.roots ?? DEFAULT_DISCOVERY_ROOTS);
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#maxDirs = options.maxDirs ?? DEFAULT_MAX_DIRS;
  }

  async discover(): Promise<CgroupDiscoveryResult> {
    const containers: DiscoveredContainer[] = [];
    const pods = new Map<string, DiscoveredPod>();
    const walk = { dirs: 0, truncated: false, vanished: 0, unreadable: 0 };
    const result = (): CgroupDiscoveryResult => ({ containers, pods, ...walk });
    const mountDir = this.#mountDir;
    if (mountDir === undefined) return result();

    const walkNo = ++this.#walks;
    const containerDirs = new Set<string>();
    const stack: Frame[] = [];
    const top = await this.#list(mountDir, walk);
    if (!top) return result();
    // A mount that shows a container's sub-tree (an agent inside a node container with its own
    // cgroup namespace view): everything below is inside that container, which is not reported.
    const baseId = this.#base === '' ? undefined : parseCgroupPath(this.#base)?.containerId;
    const baseEnclosing = baseId === undefined ? undefined : this.#base;
    // Pushed in reverse so the walk visits roots in the order listed.
    for (let i = top.length - 1; i >= 0; i--) {
      const e = top[i]!;
      if (e.isDirectory() && this.#roots.has(e.name)) stack.push({ rel: '/' + e.name, depth: 1, enclosingId: baseId, enclosingPath: baseEnclosing });
    }

    while (stack.length > 0) {
      const f = stack.pop()!;
      const path = this.#base + f.rel;
      const id = parseCgroupPath(path);
      const containerId = id?.containerId;
      const isNew = containerId !== undefined && containerId !== f.enclosingId;
      // At the depth limit nothing is listed: the parent's listing has just seen the directory.
      let entries: Dirent[] | undefined;
      const known = isNew ? this.#nested.get(f.rel) : undefined;
      if (known !== undefined && walkNo - known.walk < CONTAINER_RELIST_EVERY && f.depth < this.#maxDepth) {
        // Not listed this walk: a container gone since is found gone by whoever reads its files.
        entries = known.dirs;
      } else if (f.depth < this.#maxDepth) {
        if (walk.dirs >= this.#maxDirs) {
          walk.truncated = true;
          break;
        }
        const listed = await this.#list(mountDir + f.rel, walk);
        if (listed === null) continue; // gone: a container that exited is not reported
        entries = listed;
        if (isNew && listed !== undefined) {
          this.#nested.set(f.rel, { walk: walkNo, dirs: listed.filter((e) => e.isDirectory() && NESTED_ROOTS.has(e.name)) });
        }
      }
      if (isNew) containerDirs.add(f.rel);
      if (containerId === undefined && id?.podUid !== undefined && !pods.has(id.podUid)) {
        pods.set(id.podUid, { podUid: id.podUid, cgroupPath: path, qosClass: id.qosClass });
      }
      if (isNew) {
        containers.push(f.enclosingPath === undefined ? { cgroupPath: path, identity: id! } : { cgroupPath: path, identity: id!, enclosingPath: f.enclosingPath });
      }
      if (entries === undefined) continue;
      const enclosingId = isNew ? containerId : f.enclosingId;
      const enclosingPath = isNew ? path : f.enclosingPath;
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i]!;
        if (!e.isDirectory()) continue; // files, and symlinks (never followed)
        // Inside a container only a nested node's parents lead to other containers.
        if (isNew ? !NESTED_ROOTS.has(e.name) : isUnit(e.name)) continue;
        stack.push({ rel: f.rel + '/' + e.name, depth: f.depth + 1, enclosingId, enclosingPath });
      }
    }
    for (const rel of this.#nested.keys()) if (!containerDirs.has(rel)) this.#nested.delete(rel);
    return result();
  }

  /** The entries of `dir`; null when it is gone, undefined when it cannot be listed. */
  async #list(dir: string, walk: { dirs: number; vanished: number; unreadable: number }): Promise<Dirent[] | null | undefined> {
    if (++walk.dirs % YIELD_EVERY === 0) await yieldToLoop();
    try {
      return await this.listDir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') {
        walk.vanished++;
        return null;
      }
      walk.unreadable++;
      return undefined;
    }
  }

  /**
   * One directory's entries, symlinks as symlinks (not followed). Synchronous, as cgroupfs
   * listings come from kernel memory: ~10 µs where fs.promises.readdir costs ~70 µs of CPU in
   * threadpool hand-offs; the walk yields to the event loop every YIELD_EVERY directories.
   * Overridable for tests that race the walk.
   */
  protected listDir(dir: string): Promise<Dirent[]> | Dirent[] {
    return readdirSync(dir, { withFileTypes: true });
  }
}

function isUnit(name: string): boolean {
  for (const suffix of NOT_CONTAINER_UNITS) if (name.endsWith(suffix)) return true;
  return false;
}
