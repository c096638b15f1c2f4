/**
 * Filesystems: the host's mounts (from init's mountinfo, else our own under the host root),
 * selected by type and mount point and re-selected only when the table changes; then space and
 * inodes of each through statfs, guarded so a hung network mount neither stalls the cycle nor
 * ties up the threadpool (statfs-guard.ts).
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import path from 'node:path';
import type { Attributes } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Registry } from '../../self/registry.js';
import { type Mount, parseMountinfo } from '../lib/mountinfo.js';
import type { RecordSink } from '../types.js';
import type { HostFiles } from './host-files.js';
import * as M from './metrics.js';
import { type MountFilterOptions, selectMounts } from './mount-filter.js';
import type { PointFactory } from './point-factory.js';
import { type StatfsFn, StatfsGuard } from './statfs-guard.js';

interface FsAttrs {
  readonly used: Attributes;
  readonly free: Attributes;
  readonly reserved: Attributes;
  readonly base: Attributes;
  readonly inodesUsed: Attributes;
  readonly inodesFree: Attributes;
}

interface SelectedMount {
  readonly mount: Mount;
  /** Where statfs looks: the mount point under the host root. */
  readonly statPath: string;
  readonly attrs: FsAttrs;
}

export interface FilesystemCollectorOptions {
  readonly points: PointFactory;
  /** mountinfo, its failures, and the statfs error count. */
  readonly files: HostFiles;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly hostRoot: string;
  readonly filter: MountFilterOptions;
  /** statfs(2); Node's by default. */
  readonly statfs: StatfsFn | undefined;
  readonly statfsTimeoutMs: number;
  /** Hung calls past which filesystems without a block device are not asked. */
  readonly maxHungStatfs: number;
}

export class FilesystemCollector {
  readonly #points: PointFactory;
  readonly #files: HostFiles;
  readonly #logger: Logger;
  readonly #hostRoot: string;
  readonly #filter: MountFilterOptions;
  readonly #statfs: StatfsGuard;
  readonly #statfsTimeoutMs: number;
  readonly #maxHungStatfs: number;
  readonly #skipped: BoundCounter;
  #mountinfoText = '';
  #mounts: SelectedMount[] = [];
  #mountinfoFile: 'host' | 'self' | undefined;

  constructor(options: FilesystemCollectorOptions) {
    this.#points = options.points;
    this.#files = options.files;
    this.#logger = options.logger;
    this.#hostRoot = options.hostRoot;
    this.#filter = options.filter;
    this.#statfs = new StatfsGuard(options.statfs ?? defaultStatfs, options.statfsTimeoutMs);
    this.#statfsTimeoutMs = options.statfsTimeoutMs;
    this.#maxHungStatfs = options.maxHungStatfs;
    this.#skipped = options.registry
      .counter('sextant_host_statfs_skipped_total', 'statfs calls not made because an earlier one on the mount (or too many) had not returned.')
      .bind();
  }

  /** Mount points whose statfs has outlived its deadline and not returned yet. */
  get hungMounts(): number {
    return this.#statfs.pendingCount;
  }

  async collect(sink: RecordSink, now: bigint): Promise<void> {
    await this.#refreshMounts();
    const guard = this.#statfs;
    const points = this.#points;
    for (const sel of this.#mounts) {
      // Past the limit of stuck threadpool threads, only filesystems on a block device (whose
      // statfs answers from memory) are asked; network and FUSE mounts wait for the probes.
      if (guard.isHung(sel.statPath) || (sel.mount.major === 0 && guard.pendingCount >= this.#maxHungStatfs)) {
        this.#skipped.inc();
        continue;
      }
      const r = await guard.stat(sel.statPath);
      if (r.status === 'timeout') {
        this.#files.countReadError('statfs');
        this.#logger.warn({ mountPoint: sel.mount.mountPoint, timeoutMs: this.#statfsTimeoutMs }, 'statfs timed out; mount skipped until the call returns');
        continue;
      }
      if (r.status === 'hung') {
        this.#skipped.inc();
        continue;
      }
      if (r.status === 'error') {
        // A mount that vanished between mountinfo and statfs, or EACCES: counted, not logged per cycle.
        this.#files.countReadError('statfs');
        continue;
      }
      const st = r.stats;
      if (st.blocks === 0) continue; // nothing to report (some FUSE and virtual filesystems)
      const bs = st.bsize;
      const used = (st.blocks - st.bfree) * bs;
      const free = st.bavail * bs;
      const reserved = Math.max(0, st.bfree - st.bavail) * bs;
      const a = sel.attrs;
      sink.offerMetric(points.point(M.FS_USAGE, a.used, 0n, now, used));
      sink.offerMetric(points.point(M.FS_USAGE, a.free, 0n, now, free));
      sink.offerMetric(points.point(M.FS_USAGE, a.reserved, 0n, now, reserved));
      sink.offerMetric(points.point(M.FS_LIMIT, a.base, 0n, now, st.blocks * bs));
      if (used + free > 0) sink.offerMetric(points.point(M.FS_UTILIZATION, a.base, 0n, now, used / (used + free)));
      if (st.files > 0) {
        sink.offerMetric(points.point(M.FS_INODES_USAGE, a.inodesUsed, 0n, now, Math.max(0, st.files - st.ffree)));
        sink.offerMetric(points.point(M.FS_INODES_USAGE, a.inodesFree, 0n, now, st.ffree));
      }
    }
  }

  /**
   * The host's mounts: `<root>/proc/1/mountinfo` (init's mount namespace — the host's, whatever
   * namespace the agent runs in), else the agent's own `/proc/self/mountinfo`, whose host mounts
   * appear under the host root. Re-selected only when the text changed.
   */
  async #refreshMounts(): Promise<void> {
    const root = path.resolve(this.#hostRoot);
    const files = this.#files;
    let text = await files.readQuiet(path.join(files.procDir, '1/mountinfo'));
    let source: 'host' | 'self' = 'host';
    if (text === undefined) {
      source = 'self';
      text = await files.read('mountinfo', path.join(files.procDir, 'self/mountinfo'));
      if (text === undefined) return;
    } else if (files.clearFailure('mountinfo')) {
      this.#logger.info('host mountinfo readable again');
    }
    if (text === this.#mountinfoText && source === this.#mountinfoFile) return;
    if (source !== this.#mountinfoFile) this.#logger.debug({ source }, 'filesystem mounts read from this mountinfo');
    this.#mountinfoText = text;
    this.#mountinfoFile = source;
    const parsed = parseMountinfo(text);
    if (parsed.malformed > 0) files.countMalformed('mountinfo', parsed.malformed);
    let mounts = parsed.mounts;
    if (source === 'self' && root !== '/') {
      // Our own namespace: keep the host's mounts (under the root) and name them as the host does.
      const strip: Mount[] = [];
      for (const m of mounts) {
        if (m.mountPoint === root) strip.push({ ...m, mountPoint: '/' });
        else if (m.mountPoint.startsWith(root + '/')) strip.push({ ...m, mountPoint: m.mountPoint.slice(root.length) });
      }
      mounts = strip;
    }
    const old = new Map(this.#mounts.map((s) => [fsKey(s.mount), s.attrs]));
    const base = source === 'host' && root !== '/' ? await this.#hostInitRoot(root) : root;
    this.#mounts = selectMounts(mounts, this.#filter).map((mount) => ({
      mount,
      statPath: base === '/' ? mount.mountPoint : mount.mountPoint === '/' ? base : path.join(base, mount.mountPoint),
      attrs: old.get(fsKey(mount)) ?? fsAttributes(mount),
    }));
  }

  /**
   * Where the host's mounts are statfs'd from inside a container. The mount table is init's, but
   * a DaemonSet mounts only some host paths under the root (not `/`, so the agent cannot read
   * every host file through it), and `<root>/` would then be the container's own filesystem,
   * reported as the host's. `<root>/proc/1/root` is init's view of the filesystem (the host's,
   * with hostPID), every mount in that table included; reaching it needs ptrace-read access to
   * init (CAP_SYS_PTRACE, which the process source needs anyway). Without it: the mounts under
   * the root, as before.
   */
  async #hostInitRoot(root: string): Promise<string> {
    const initRoot = path.join(root, 'proc/1/root');
    try {
      await fsStatfs(initRoot);
      return initRoot;
    } catch (err) {
      this.#logger.debug({ err: (err as Error).message }, "init's root is not reachable; filesystems are read under the host root");
      return root;
    }
  }
}

function defaultStatfs(p: string): ReturnType<StatfsFn> {
  return fsStatfs(p);
}

function fsKey(m: Mount): string {
  return `${m.source}\u0000${m.mountPoint}\u0000${m.fsType}\u0000${m.readOnly ? 'ro' : 'rw'}`;
}

function fsAttributes(m: Mount): FsAttrs {
  const base = {
    'system.device': m.source,
    'system.filesystem.mountpoint': m.mountPoint,
    'system.filesystem.type': m.fsType,
    'system.filesystem.mode': m.readOnly ? 'ro' : 'rw',
  };
  return {
    base: Object.freeze(base),
    used: Object.freeze({ ...base, 'system.filesystem.state': 'used' }),
    free: Object.freeze({ ...base, 'system.filesystem.state': 'free' }),
    reserved: Object.freeze({ ...base, 'system.filesystem.state': 'reserved' }),
    inodesUsed: Object.freeze({ ...base, 'system.filesystem.state': 'used' }),
    inodesFree: Object.freeze({ ...base, 'system.filesystem.state': 'free' }),
  };
}
