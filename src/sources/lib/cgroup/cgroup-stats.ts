import { access } from 'node:fs/promises';
import { HOST_MALFORMED, HOST_MIN_OUT, HOST_PRESSURE, PSI_FULL, PSI_SOME } from '../../../native/host-layout.js';
import { NameList, parseHostBytes } from '../../../native/host-parse.js';
import { parseBlkioStat, type BlkioStat } from './blkio-stat.js';
import type { CgroupFileReader } from './cgroup-file.js';
import { SyncCgroupFileReader } from './cgroup-file-sync.js';
import { cgroupDir, type CgroupLayout, type CgroupMount } from './cgroup-mounts.js';
import { parseLimit, parseValue, readUnsigned, valueEnd } from './cgroup-number.js';
import { USER_HZ } from './cpu-stat.js';
import { parseIoStat } from './io-stat.js';
import { readKeyed } from './keyed-file.js';
import type { ProcCgroup } from './proc-cgroup.js';
import { workingSetBytes } from './working-set.js';

/**
 * One container's cgroup files read into numbers, on v1, v2 and hybrid hosts alike. Which files
 * exist is decided once, from the mount table (the layout) and, for v1 block IO, from the files
 * the controller's root offers; a read then opens only the files it needs, one after another,
 * through one CgroupFileReader that counts what was gone, unsupported or failed.
 *
 * Units: seconds for CPU time and stall time, bytes for memory and IO, plain counts otherwise.
 */
export interface PressureTotals {
  /** Seconds some task of the cgroup was stalled on the resource (PSI `some` total). */
  readonly someSeconds: number | undefined;
  /** Seconds all non-idle tasks were stalled at once (PSI `full` total); cpu's only since 5.13. */
  readonly fullSeconds: number | undefined;
}

export interface CgroupIoDevice {
  readonly major: number;
  readonly minor: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  /** Undefined on v1 when the `io_serviced` file could not be read or lacked the device. */
  readonly readOps: number | undefined;
  readonly writeOps: number | undefined;
}

/** Every field is undefined when its file is absent, unreadable or did not parse. */
export interface CgroupStats {
  cpuUserSeconds?: number;
  cpuSystemSeconds?: number;
  cpuUsageSeconds?: number;
  cpuPeriods?: number;
  cpuThrottledPeriods?: number;
  cpuThrottledSeconds?: number;
  memoryUsageBytes?: number;
  /** Usage less the inactive file cache (working-set.ts), as kubelet and Docker compute it. */
  memoryWorkingSetBytes?: number;
  /** v1 `total_rss`, v2 `anon`. */
  memoryRssBytes?: number;
  /** v1 `total_cache`, v2 `file`. */
  memoryCacheBytes?: number;
  /** Undefined when unlimited (`max`, or v1's huge value). */
  memoryLimitBytes?: number;
  /** v2 `memory.events` oom_kill; v1 `memory.oom_control` oom_kill (Linux ≥ 4.13). */
  memoryOomKills?: number;
  memoryPageFaults?: number;
  memoryMajorPageFaults?: number;
  /** Devices the cgroup did IO on; empty when none (or the files could not be read). */
  io: CgroupIoDevice[];
  pidsCurrent?: number;
  /** Undefined when unlimited. */
  pidsLimit?: number;
  /** v2 and the unified mount of a hybrid host; undefined where PSI is off (counted as unsupported). */
  cpuPressure?: PressureTotals;
  memoryPressure?: PressureTotals;
  ioPressure?: PressureTotals;
  /** CPUs the quota allows (quota ÷ period); undefined when unlimited. */
  cpuLimitCpus?: number;
}

/** The hierarchies a container's paths may differ in: v1 controllers, and the unified tree. */
export type CgroupHierarchy = 'cpu' | 'cpuacct' | 'memory' | 'blkio' | 'pids' | 'unified';

/**
 * Where one container's cgroup is, as /proc/<pid>/cgroup or discovery names it. Runtimes and
 * kubelet (cgroupfs and systemd drivers) give a container the same path under every v1
 * controller and in the unified tree, so `path` is normally all there is; `overrides` carries
 * the hierarchies where the process's /proc/<pid>/cgroup says otherwise.
 */
export interface ContainerCgroupPaths {
  readonly path: string;
  /** A hierarchy's own path; null: the container has no cgroup of its own there (skipped). */
  readonly overrides?: Readonly<Partial<Record<CgroupHierarchy, string | null>>>;
}

/**
 * The paths of a process from its parsed /proc/<pid>/cgroup: overrides only where they differ.
 * On a hybrid host a runtime that leaves its processes in the unified root (`0::/`) gives the
 * container no unified cgroup: that hierarchy is skipped rather than the root's PSI read as the
 * container's.
 */
export function pathsFromProcCgroup(proc: ProcCgroup): ContainerCgroupPaths | undefined {
  const path = proc.unified !== undefined && proc.unified !== '/' ? proc.unified : proc.v1.get('memory') ?? proc.unified;
  if (path === undefined) return undefined;
  let overrides: Partial<Record<CgroupHierarchy, string | null>> | undefined;
  for (const h of V1_HIERARCHIES) {
    const p = proc.v1.get(h);
    if (p !== undefined && p !== path) (overrides ??= {})[h] = p;
  }
  if (proc.unified !== undefined && proc.unified !== path) (overrides ??= {}).unified = proc.unified === '/' ? null : proc.unified;
  return overrides === undefined ? { path } : { path, overrides };
}

const V1_HIERARCHIES = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'] as const;

/** v1 block IO files, best first: the throttle files count all IO at the block layer (any scheduler). */
const BLKIO_VARIANTS: ReadonlyArray<readonly [bytes: string, ops: string]> = [
  ['blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_serviced_recursive'],
  ['blkio.throttle.io_service_bytes', 'blkio.throttle.io_serviced'],
  ['blkio.io_service_bytes_recursive', 'blkio.io_serviced_recursive'], // CFQ, before Linux 5.0
  ['blkio.bfq.io_service_bytes_recursive', 'blkio.bfq.io_serviced_recursive'],
];

// Keys of the keyed files, in the order of the Float64Arrays that receive them.
const V1_CPU_STAT = ['nr_periods', 'nr_throttled', 'throttled_time'];
const V2_CPU_STAT = ['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec'];
const CPUACCT_STAT = ['user', 'system'];
/** Hierarchical (`total_*`) first; the cgroup's own lines where a kernel lacks them. */
const V1_MEMORY_STAT = [
  'total_rss', 'total_cache', 'total_inactive_file', 'total_pgfault', 'total_pgmajfault',
  'rss', 'cache', 'inactive_file', 'pgfault', 'pgmajfault',
];
const V2_MEMORY_STAT = ['anon', 'file', 'inactive_file', 'pgfault', 'pgmajfault'];
const OOM_KILL = ['oom_kill'];

/** PSI text longer than this is not the kernel's two lines. */
const PSI_MAX = 1024;

/** Where each group of numbers is read from; decided once per reader from the layout. */
interface Plan {
  /** v1 cpuacct mount, or undefined: CPU time comes from the unified `cpu.stat`. */
  readonly cpuacct: CgroupMount | undefined;
  /** v1 cpu mount (cpu.stat throttling, cfs quota), or undefined: v2 `cpu.stat` and `cpu.max`. */
  readonly cpu: CgroupMount | undefined;
  readonly memory: CgroupMount | undefined;
  readonly blkio: CgroupMount | undefined;
  readonly pids: CgroupMount | undefined;
  /** The unified tree: PSI everywhere, and every controller v1 does not have. */
  readonly unified: CgroupMount | undefined;
}

export class CgroupStatsReader {
  /** Counts of files gone (the container exited), unsupported (PSI off), failed; reset by the caller. */
  readonly files: CgroupFileReader;
  /** Lines or files that did not parse (binary junk, a number past u64); reset by the caller. */
  malformed = 0;

  readonly #hostRoot: string;
  readonly #plan: Plan;
  #blkio: readonly [string, string] | undefined;
  #blkioProbed = false;
  // Parser output buffers, one per file kind, reused by every read.
  readonly #v1CpuStat = new Float64Array(V1_CPU_STAT.length);
  readonly #v2CpuStat = new Float64Array(V2_CPU_STAT.length);
  readonly #cpuacct = new Float64Array(CPUACCT_STAT.length);
  readonly #v1Memory = new Float64Array(V1_MEMORY_STAT.length);
  readonly #v2Memory = new Float64Array(V2_MEMORY_STAT.length);
  readonly #oom = new Float64Array(OOM_KILL.length);
  readonly #psiBytes = Buffer.allocUnsafe(PSI_MAX);
  readonly #psiOut = new Float64Array(HOST_MIN_OUT);
  readonly #psiNames = new NameList();

  /**
   * `files` defaults to the synchronous reader (cgroup-file-sync.ts: a tenth of the CPU of
   * fs.promises for these small in-kernel files); pass a CgroupFileReader to read asynchronously.
   */
  constructor(hostRoot: string, layout: CgroupLayout, files: CgroupFileReader = new SyncCgroupFileReader()) {
    this.#hostRoot = hostRoot;
    this.files = files;
    const v1 = layout.mode === 'v1' || layout.mode === 'hybrid';
    const unified = layout.unified;
    const pick = (c: string): CgroupMount | undefined => (v1 ? layout.v1.get(c) : undefined);
    this.#plan = { cpuacct: pick('cpuacct'), cpu: pick('cpu'), memory: pick('memory'), blkio: pick('blkio'), pids: pick('pids'), unified };
  }

  /**
   * Undefined when the cgroup is gone (or its path lies outside every mount). `limits` false
   * skips the limit files (memory, CPU quota, pids: 3–4 of ~16 files), which change only when
   * someone updates the container; their fields are then undefined.
   */
  async read(paths: ContainerCgroupPaths, limits = true): Promise<CgroupStats | undefined> {
    const plan = this.#plan;
    if (plan.blkio !== undefined && !this.#blkioProbed) await this.#probeBlkio(plan.blkio);
    const goneBefore = this.files.gone;
    const uDir = plan.unified === undefined ? undefined : this.#dir(plan.unified, paths, 'unified');
    // One object shape for every read, all fields present.
    const s: CgroupStats = {
      cpuUserSeconds: undefined, cpuSystemSeconds: undefined, cpuUsageSeconds: undefined,
      cpuPeriods: undefined, cpuThrottledPeriods: undefined, cpuThrottledSeconds: undefined,
      memoryUsageBytes: undefined, memoryWorkingSetBytes: undefined, memoryRssBytes: undefined,
      memoryCacheBytes: undefined, memoryLimitBytes: undefined, memoryOomKills: undefined,
      memoryPageFaults: undefined, memoryMajorPageFaults: undefined,
      io: [],
      pidsCurrent: undefined, pidsLimit: undefined,
      cpuPressure: undefined, memoryPressure: undefined, ioPressure: undefined,
      cpuLimitCpus: undefined,
    };
    let anyDir = uDir !== undefined;

    // CPU. v2 cpu.stat serves time and throttling at once when neither is on v1.
    const needV2Cpu = (plan.cpuacct === undefined || plan.cpu === undefined) && uDir !== undefined;
    if (needV2Cpu) await this.#readV2CpuStat(uDir, s, plan.cpuacct === undefined, plan.cpu === undefined);
    if (plan.cpuacct !== undefined) {
      const d = this.#dir(plan.cpuacct, paths, 'cpuacct');
      if (d !== undefined) {
        anyDir = true;
        await this.#readCpuacct(d, s);
      }
    }
    if (plan.cpu !== undefined) {
      const d = this.#dir(plan.cpu, paths, 'cpu');
      if (d !== undefined) {
        anyDir = true;
        await this.#readV1Cpu(d, s, limits);
      }
    } else if (uDir !== undefined && limits) {
      const text = await this.files.read(uDir + '/cpu.max');
      if (text !== undefined) s.cpuLimitCpus = this.#cpuMax(text);
    }

    // Memory.
    let primary = uDir;
    if (plan.memory !== undefined) {
      const d = this.#dir(plan.memory, paths, 'memory');
      if (d !== undefined) {
        anyDir = true;
        primary = d;
        await this.#readV1Memory(d, s, limits);
      }
    } else if (uDir !== undefined) {
      await this.#readV2Memory(uDir, s, limits);
    }

    // Block IO.
    if (plan.blkio !== undefined) {
      const d = this.#dir(plan.blkio, paths, 'blkio');
      if (d !== undefined) {
        anyDir = true;
        if (this.#blkio !== undefined) s.io = await this.#readBlkio(d, this.#blkio);
      }
    } else if (uDir !== undefined) {
      const text = await this.files.read(uDir + '/io.stat');
      if (text !== undefined) s.io = this.#ioStat(text);
    }

    // Pids: the same two files on v1 and v2.
    const pidsDir = plan.pids !== undefined ? this.#dir(plan.pids, paths, 'pids') : uDir;
    if (pidsDir !== undefined) {
      anyDir = true;
      let text = await this.files.read(pidsDir + '/pids.current');
      if (text !== undefined) s.pidsCurrent = this.#value(text);
      if (limits) {
        text = await this.files.read(pidsDir + '/pids.max');
        if (text !== undefined) s.pidsLimit = this.#limit(text);
      }
    }

    // PSI, from the unified tree on v2 and hybrid hosts alike.
    let psiGone = 0;
    if (uDir !== undefined) {
      const g = this.files.gone;
      let text = await this.files.read(uDir + '/cpu.pressure');
      if (text !== undefined) s.cpuPressure = this.#pressure(text);
      text = await this.files.read(uDir + '/memory.pressure');
      if (text !== undefined) s.memoryPressure = this.#pressure(text);
      text = await this.files.read(uDir + '/io.pressure');
      if (text !== undefined) s.ioPressure = this.#pressure(text);
      psiGone = this.files.gone - g;
    }

    if (!anyDir) return undefined;
    // A file that vanished is a container exiting now; gone when its directory went with it.
    // Only then one more syscall: a live container reads without it.
    if (this.files.gone !== goneBefore) {
      if (primary !== undefined && !(await exists(primary))) return undefined;
      // A cgroup with `cgroup.pressure` set to 0 hides its PSI files (ENOENT, Linux ≥ 5.19):
      // PSI switched off, not a container going away.
      if (psiGone > 0 && (uDir === primary || (await exists(uDir!)))) {
        this.files.gone -= psiGone;
        this.files.unsupported += psiGone;
      }
    }
    return s;
  }

  /** The directory of `paths` in `mount`; an out-of-tree path is counted as failed. */
  #dir(mount: CgroupMount, paths: ContainerCgroupPaths, h: CgroupHierarchy): string | undefined {
    const override = paths.overrides?.[h];
    if (override === null) return undefined;
    const dir = cgroupDir(this.#hostRoot, mount, override ?? paths.path);
    if (dir === undefined) this.files.failed++;
    return dir;
  }

  async #readV2CpuStat(dir: string, s: CgroupStats, time: boolean, throttling: boolean): Promise<void> {
    const text = await this.files.read(dir + '/cpu.stat');
    if (text === undefined) return;
    const v = this.#v2CpuStat;
    this.malformed += readKeyed(text, V2_CPU_STAT, v);
    if (time) {
      s.cpuUsageSeconds = scaled(v[0]!, 1e6);
      s.cpuUserSeconds = scaled(v[1]!, 1e6);
      s.cpuSystemSeconds = scaled(v[2]!, 1e6);
    }
    if (throttling) {
      s.cpuPeriods = opt(v[3]!);
      s.cpuThrottledPeriods = opt(v[4]!);
      s.cpuThrottledSeconds = scaled(v[5]!, 1e6);
    }
  }

  async #readCpuacct(dir: string, s: CgroupStats): Promise<void> {
    let text = await this.files.read(dir + '/cpuacct.usage');
    if (text !== undefined) {
      const ns = this.#value(text);
      if (ns !== undefined) s.cpuUsageSeconds = ns / 1e9;
    }
    text = await this.files.read(dir + '/cpuacct.stat');
    if (text === undefined) return;
    const v = this.#cpuacct;
    this.malformed += readKeyed(text, CPUACCT_STAT, v);
    s.cpuUserSeconds = scaled(v[0]!, USER_HZ);
    s.cpuSystemSeconds = scaled(v[1]!, USER_HZ);
  }

  async #readV1Cpu(dir: string, s: CgroupStats, limits: boolean): Promise<void> {
    let text = await this.files.read(dir + '/cpu.stat');
    if (text !== undefined) {
      const v = this.#v1CpuStat;
      this.malformed += readKeyed(text, V1_CPU_STAT, v);
      s.cpuPeriods = opt(v[0]!);
      s.cpuThrottledPeriods = opt(v[1]!);
      s.cpuThrottledSeconds = scaled(v[2]!, 1e9);
    }
    if (!limits) return;
    text = await this.files.read(dir + '/cpu.cfs_quota_us');
    if (text === undefined) return;
    const quota = this.#quota(text);
    if (quota === undefined) return; // -1: unlimited, no need for the period
    text = await this.files.read(dir + '/cpu.cfs_period_us');
    if (text === undefined) return;
    const period = this.#value(text);
    if (period !== undefined && period > 0) s.cpuLimitCpus = quota / period;
  }

  async #readV1Memory(dir: string, s: CgroupStats, limits: boolean): Promise<void> {
    let text = await this.files.read(dir + '/memory.usage_in_bytes');
    if (text !== undefined) s.memoryUsageBytes = this.#value(text);
    text = await this.files.read(dir + '/memory.stat');
    let inactiveFile: number | undefined;
    if (text !== undefined) {
      const v = this.#v1Memory;
      this.malformed += readKeyed(text, V1_MEMORY_STAT, v);
      s.memoryRssBytes = opt(either(v[0]!, v[5]!));
      s.memoryCacheBytes = opt(either(v[1]!, v[6]!));
      inactiveFile = opt(either(v[2]!, v[7]!));
      s.memoryPageFaults = opt(either(v[3]!, v[8]!));
      s.memoryMajorPageFaults = opt(either(v[4]!, v[9]!));
    }
    s.memoryWorkingSetBytes = workingSetBytes(s.memoryUsageBytes, inactiveFile);
    if (limits) {
      text = await this.files.read(dir + '/memory.limit_in_bytes');
      if (text !== undefined) s.memoryLimitBytes = this.#limit(text);
    }
    text = await this.files.read(dir + '/memory.oom_control');
    if (text !== undefined) s.memoryOomKills = this.#oomKill(text);
  }

  async #readV2Memory(dir: string, s: CgroupStats, limits: boolean): Promise<void> {
    let text = await this.files.read(dir + '/memory.current');
    if (text !== undefined) s.memoryUsageBytes = this.#value(text);
    text = await this.files.read(dir + '/memory.stat');
    let inactiveFile: number | undefined;
    if (text !== undefined) {
      const v = this.#v2Memory;
      this.malformed += readKeyed(text, V2_MEMORY_STAT, v);
      s.memoryRssBytes = opt(v[0]!);
      s.memoryCacheBytes = opt(v[1]!);
      inactiveFile = opt(v[2]!);
      s.memoryPageFaults = opt(v[3]!);
      s.memoryMajorPageFaults = opt(v[4]!);
    }
    s.memoryWorkingSetBytes = workingSetBytes(s.memoryUsageBytes, inactiveFile);
    if (limits) {
      text = await this.files.read(dir + '/memory.max');
      if (text !== undefined) s.memoryLimitBytes = this.#limit(text);
    }
    text = await this.files.read(dir + '/memory.events');
    if (text !== undefined) s.memoryOomKills = this.#oomKill(text);
  }

  async #readBlkio(dir: string, files: readonly [string, string]): Promise<CgroupIoDevice[]> {
    const bytesText = await this.files.read(dir + '/' + files[0]);
    if (bytesText === undefined) return [];
    const bytes = this.#blkioStat(bytesText);
    if (bytes.devices.length === 0) return [];
    const opsText = await this.files.read(dir + '/' + files[1]);
    const ops = opsText === undefined ? undefined : this.#blkioStat(opsText);
    const out: CgroupIoDevice[] = [];
    const od = ops?.devices;
    for (let i = 0; i < bytes.devices.length; i++) {
      const b = bytes.devices[i]!;
      // Both files list devices in the same order; look elsewhere only if they do not.
      let o = od?.[i];
      if (o !== undefined && (o.major !== b.major || o.minor !== b.minor)) o = od!.find((d) => d.major === b.major && d.minor === b.minor);
      out.push({ major: b.major, minor: b.minor, readBytes: b.read, writeBytes: b.write, readOps: o?.read, writeOps: o?.write });
    }
    return out;
  }

  #blkioStat(text: string): BlkioStat {
    const st = parseBlkioStat(text);
    this.malformed += st.malformed;
    return st;
  }

  #ioStat(text: string): CgroupIoDevice[] {
    const st = parseIoStat(text);
    this.malformed += st.malformed;
    const out: CgroupIoDevice[] = [];
    for (const d of st.devices) {
      out.push({ major: d.major, minor: d.minor, readBytes: d.rbytes, writeBytes: d.wbytes, readOps: d.rios, writeOps: d.wios });
    }
    return out;
  }

  /**
   * The first v1 block IO variant the controller's root cgroup has (the root has every file a
   * child has). Probed once, so a missing variant is never mistaken for a vanished container.
   */
  async #probeBlkio(mount: CgroupMount): Promise<void> {
    this.#blkioProbed = true;
    const root = cgroupDir(this.#hostRoot, mount, mount.root);
    if (root === undefined) return;
    for (const v of BLKIO_VARIANTS) {
      if (await exists(root + '/' + v[0])) {
        this.#blkio = v;
        return;
      }
    }
  }

  #value(text: string): number | undefined {
    const v = parseValue(text);
    if (v === undefined) this.malformed++;
    return v;
  }

  /** A limit, undefined for "no limit" as for an unreadable one (the latter counted). */
  #limit(text: string): number | undefined {
    const v = parseLimit(text);
    if (v === undefined) this.malformed++;
    return v === Number.POSITIVE_INFINITY ? undefined : v;
  }

  #oomKill(text: string): number | undefined {
    this.malformed += readKeyed(text, OOM_KILL, this.#oom);
    return opt(this.#oom[0]!);
  }

  /** v1 `cpu.cfs_quota_us`: microseconds per period, `-1` for none. */
  #quota(text: string): number | undefined {
    const e = valueEnd(text);
    if (e === 2 && text.startsWith('-1')) return undefined;
    const v = readUnsigned(text, 0, e);
    if (Number.isNaN(v)) {
      this.malformed++;
      return undefined;
    }
    return v;
  }

  /** v2 `cpu.max`: `$MAX $PERIOD`, `max` for none. */
  #cpuMax(text: string): number | undefined {
    const e = valueEnd(text);
    const sp = text.indexOf(' ');
    if (sp <= 0 || sp >= e) {
      this.malformed++;
      return undefined;
    }
    const period = readUnsigned(text, sp + 1, e);
    const unlimited = sp === 3 && text.startsWith('max');
    const quota = unlimited ? 0 : readUnsigned(text, 0, sp);
    if (Number.isNaN(period) || Number.isNaN(quota)) {
      this.malformed++;
      return undefined;
    }
    return unlimited || period === 0 ? undefined : quota / period;
  }

  /** PSI through the host's one parser (its byte form, so nothing is allocated per file). */
  #pressure(text: string): PressureTotals | undefined {
    if (text.length > PSI_MAX) {
      this.malformed++;
      return undefined;
    }
    // latin1 writes one byte per UTF-16 unit; the kernel's text is ASCII, junk stays junk.
    const n = this.#psiBytes.write(text, 0, 'latin1');
    const out = this.#psiOut;
    parseHostBytes(HOST_PRESSURE, this.#psiBytes, n, out, this.#psiNames);
    this.malformed += out[HOST_MALFORMED]!;
    const some = out[PSI_SOME + 3]!;
    const full = out[PSI_FULL + 3]!;
    if (Number.isNaN(some) && Number.isNaN(full)) return undefined;
    return { someSeconds: scaled(some, 1e6), fullSeconds: scaled(full, 1e6) };
  }
}

function opt(v: number): number | undefined {
  return Number.isNaN(v) ? undefined : v;
}

/** `v` in a unit `per` times smaller (µs → s: 1e6); a division keeps exact inputs exact. */
function scaled(v: number, per: number): number | undefined {
  return Number.isNaN(v) ? undefined : v / per;
}

function either(a: number, b: number): number {
  return Number.isNaN(a) ? b : a;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
