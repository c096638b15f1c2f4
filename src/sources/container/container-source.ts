import { readFileSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import type { PodMetadataLookup } from '../../enrich/k8s/pod-metadata-index.js';
import { type Attributes, EMPTY_ATTRIBUTES, type MetricDescriptor, type MetricPoint, type Resource, type Scope, createScope, nowUnixNano } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { Counter, Gauge, Registry } from '../../self/registry.js';
import { cgroupDir, type CgroupLayout, controllerMount } from '../lib/cgroup/cgroup-mounts.js';
import { type CgroupIdentity, parseCgroupPath } from '../lib/cgroup/cgroup-path.js';
import { firstPidSync, type PidCounts } from '../lib/cgroup/cgroup-procs.js';
import { SyncCgroupFileReader } from '../lib/cgroup/cgroup-file-sync.js';
import { type CgroupStats, type CgroupStatsReader, type ContainerCgroupPaths, pathsFromProcCgroup } from '../lib/cgroup/cgroup-stats.js';
import { parseProcCgroup } from '../lib/cgroup/proc-cgroup.js';
import { availableBytes } from '../lib/cgroup/working-set.js';
import { NET_RX_BYTES, NET_RX_DROP, NET_RX_ERRS, NET_RX_PACKETS, NET_TX_BYTES, NET_TX_DROP, NET_TX_ERRS, NET_TX_PACKETS, } from '../lib/net-dev.js';
import type { RecordSink, Source } from '../types.js';
import { containerResource, podResource } from './container-resource.js';
import { lifecycleRecord } from './lifecycle-records.js';
import type { ContainerMetadataCache } from './metadata-cache.js';
import { CONTAINER, POD } from './metrics.js';
import { netNamespaceId, readNetDev } from './net-namespace.js';
import type { ContainerInfo } from './types.js';

/**
 * The host's own network namespace: init's (pid 1), or where init's is not readable (a sandboxed
 * init refusing even root's ptrace check, as on some VMs) kthreadd's: kernel threads always live
 * in the initial namespaces. Undefined when neither can be read (then no pod is taken for a
 * host-network one, and those pods' interfaces are reported on them).
 */
export function hostNetworkNamespace(hostRoot: string): number | undefined {
  const init = netNamespaceId(hostRoot, 1);
  if (init !== undefined) return init;
  try {
    const root = hostRoot.endsWith('/') ? hostRoot.slice(0, -1) : hostRoot;
    if (readFileSync(`${root}/proc/2/comm`, 'latin1').trim() !== 'kthreadd') return undefined;
  } catch {
    return undefined;
  }
  return netNamespaceId(hostRoot, 2);
}

/** A container cgroup found on the host, with what its path says. */
export interface FoundCgroup {
  readonly cgroupPath: string;
  readonly identity: CgroupIdentity;
}

export interface ContainerSourceDeps {
  readonly hostRoot: string;
  /** The host's resource; container and pod resources add to its attributes. */
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  readonly cache: ContainerMetadataCache;
  readonly layout: CgroupLayout;
  readonly stats: CgroupStatsReader;
  /** Container cgroups on the host now (cgroup-discovery.ts). */
  readonly discover: () => Promise<readonly FoundCgroup[]>;
  /** Where lifecycle events go (they arrive between cycles, from the runtimes). */
  readonly sink: RecordSink;
  /** `k8s.node.name`; undefined leaves it off. */
  readonly nodeName?: string;
  /** Pod metadata from the Kubernetes API (src/enrich/k8s/); also settable later with setPodMetadata. */
  readonly pods?: PodMetadataLookup;
  readonly now?: () => bigint;
}

const NS_PER_S = 1e9;
/**
 * Limits (memory, CPU quota, pids: 4 of a v1 container's 16 files) change only when someone
 * updates the container, so they are read on a container's first cycle and every this many
 * cycles after (a minute at the default 10 s interval); in between the last reading is reported.
 */
const LIMITS_EVERY = 6;

/** One container as the source follows it from cycle to cycle. */
class Tracked {
  info: ContainerInfo | undefined;
  resource: Resource;
  /** Counter series start: the runtime's start time, else when Sextant first saw it. */
  start: bigint;
  seenCycle = 0;
  lastUsage: number | undefined;
  lastAt = 0n;
  oomKills: number | undefined;
  /** A process of the container (its network namespace's), kept while it lives. */
  pid: number | undefined;
  limitsCycle = Number.NEGATIVE_INFINITY;
  memoryLimit: number | undefined;
  cpuLimit: number | undefined;
  pidsLimit: number | undefined;
  /** Last counters, handed to the pod's retired totals when the container goes. */
  readonly last = new Float64Array(RETIRED_FIELDS);
  constructor(
    readonly id: string,
    readonly identity: CgroupIdentity,
    info: ContainerInfo | undefined,
    resource: Resource,
    start: bigint,
  ) {
    this.info = info;
    this.resource = resource;
    this.start = start;
  }
}

// Counters a pod sums from its containers, kept monotonic across containers that go away.
const R_USER = 0;
const R_SYSTEM = 1;
const R_USAGE = 2;
const R_MINOR = 3;
const R_MAJOR = 4;
const R_OOM = 5;
const RETIRED_FIELDS = 6;

/** A pod, summed from its containers each cycle. */
class PodTotals {
  resource: Resource;
  /** The source's metadata version the resource was built at. */
  builtVersion = -1;
  info: ContainerInfo['pod'];
  start: bigint;
  seenCycle = 0;
  /** What containers that are gone had counted: the pod's counters never go back. */
  readonly retired = new Float64Array(RETIRED_FIELDS);
  readonly sum = new Float64Array(RETIRED_FIELDS);
  readonly has = new Uint8Array(RETIRED_FIELDS);
  memoryUsage = 0;
  workingSet = 0;
  rss = 0;
  cache = 0;
  available = 0;
  allLimited = true;
  containers = 0;
  earliestStart: bigint | undefined;
  lastUsage: number | undefined;
  lastAt = 0n;
  /** A process of the pod whose network namespace is the pod's (the sandbox's, when known). */
  pid: number | undefined;
  pidFromSandbox = false;
  constructor(
    readonly uid: string,
    resource: Resource,
    info: ContainerInfo['pod'],
    start: bigint,
  ) {
    this.resource = resource;
    this.info = info;
    this.start = start;
  }
  reset(): void {
    this.sum.fill(0);
    this.has.fill(0);
    this.memoryUsage = this.workingSet = this.rss = this.cache = this.available = 0;
    this.allLimited = true;
    this.containers = 0;
    this.earliestStart = undefined;
    this.pid = undefined;
    this.pidFromSandbox = false;
  }
}

const MODE_USER: Attributes = Object.freeze({ 'cpu.mode': 'user' });
const MODE_SYSTEM: Attributes = Object.freeze({ 'cpu.mode': 'system' });
const FAULT_MINOR: Attributes = Object.freeze({ 'system.paging.fault.type': 'minor' });
const FAULT_MAJOR: Attributes = Object.freeze({ 'system.paging.fault.type': 'major' });
const PSI_ATTRS = (['cpu', 'memory', 'io'] as const).map((resource) => ({
  some: Object.freeze({ 'sextant.pressure.resource': resource, 'sextant.pressure.stall.type': 'some' }) as Attributes,
  full: Object.freeze({ 'sextant.pressure.resource': resource, 'sextant.pressure.stall.type': 'full' }) as Attributes,
}));

/**
 * Every container on the node and the pods they make up: numbers from the kernel's cgroup files,
 * names from the runtimes (ContainerMetadataCache). Per cycle:
 *   1. the cache catches up with the runtimes (a deadline per call; a hung runtime costs that);
 *   2. the cgroup tree is walked for container cgroups, so a container is measured whether or not
 *      a runtime answers; a running container a runtime knows but the walk missed (a layout we do
 *      not recognise) is found from its pid's /proc/<pid>/cgroup;
 *   3. each container's cgroup is read once; its series go out on its resource, and its numbers
 *      are added into its pod's;
 *   4. network counters are read once per network namespace: per pod (the containers of a pod
 *      share the sandbox's), per container otherwise; never for the host's own namespace (host
 *      network containers: the host source reports those interfaces).
 * Lifecycle events (start, exit, OOM, restart) go out as they are derived, between cycles too.
 */
export class ContainerSource implements Source {
  readonly name = 'container';
  readonly #deps: ContainerSourceDeps;
  readonly #hostRoot: string;
  #host: Resource;
  readonly #scope: Scope;
  readonly #now: () => bigint;
  readonly #tracked = new Map<string, Tracked>();
  readonly #pods = new Map<string, PodTotals>();
  readonly #sandboxPids = new Map<string, number>();
  readonly #deviceNames = new Map<string, string>();
  readonly #deviceAttrs = new Map<string, readonly [Attributes, Attributes]>();
  readonly #ifaceAttrs = new Map<string, readonly [Attributes, Attributes]>();
  readonly #pidCounts: PidCounts = { gone: 0, failed: 0 };
  readonly #netFiles = new SyncCgroupFileReader(16 * 1024);
  /** Sandboxes' first pids, by sandbox id, kept while the sandbox lives (its pid never changes). */
  readonly #sandboxPidCache = new Map<string, number>();
  /**
   * Network namespace of each pid read through, kept while the pid is in use: a container's
   * processes do not change namespace, and the readlink (a ptrace access check) is a third of
   * the network read's cost. Entries not used in a cycle are dropped at its end.
   */
  readonly #netnsOf = new Map<number, number>();
  readonly #netnsUsed = new Set<number>();
  #hostNetns: number | undefined | null = null;
  #cycle = 0;
  /** When this source began: a container started later had no OOM kill before we could see it. */
  readonly #since: bigint;
  #metadataVersion = 0;
  #builtVersion = 0;
  #podMeta: PodMetadataLookup | undefined;
  readonly #seenGauge: Gauge;
  readonly #podsGauge: Gauge;
  readonly #readProblems: Counter;

  constructor(deps: ContainerSourceDeps) {
    this.#deps = deps;
    this.#hostRoot = deps.hostRoot.endsWith('/') && deps.hostRoot.length > 1 ? deps.hostRoot.slice(0, -1) : deps.hostRoot;
    this.#host = deps.resource;
    this.#scope = createScope('sextant/container', deps.version);
    this.#now = deps.now ?? nowUnixNano;
    this.#since = this.#now();
    this.#seenGauge = deps.registry.gauge('sextant_containers', 'Containers measured in the last cycle.');
    this.#podsGauge = deps.registry.gauge('sextant_pods', 'Pods measured in the last cycle.');
    this.#readProblems = deps.registry.counter(
      'sextant_container_read_problems_total',
      'Cgroup and /proc files of containers that could not be read, by reason (gone: the container exited mid-read; unsupported; failed; malformed).',
    );
    deps.cache.onChange(() => this.#metadataVersion++);
    if (deps.pods !== undefined) this.setPodMetadata(deps.pods);
    deps.cache.onLifecycle((e) => {
      const t = this.#tracked.get(e.info.id);
      // The cached resource only while it is current: pod metadata may have arrived since the cycle built it.
      const resource = t && t.info === e.info && this.#builtVersion === this.#metadataVersion ? t.resource : this.#containerResource(e.info.id, e.info, t?.identity);
      deps.sink.offerEvent(lifecycleRecord(e, resource, this.#scope));
    });
  }

  /** A later host identity (inventory, SIGHUP): every resource is rebuilt on it. */
  setHostResource(host: Resource): void {
    this.#host = host;
    this.#metadataVersion++;
  }

  /**
   * Kubernetes pod metadata (workload, labels, dt.cost.*) for container and pod resources. A change
   * to any pod's attributes moves the version: resources are rebuilt at the next cycle, once.
   */
  setPodMetadata(pods: PodMetadataLookup): void {
    if (this.#podMeta === pods) return;
    this.#podMeta = pods;
    pods.onChange(() => this.#metadataVersion++);
    this.#metadataVersion++;
  }

  async collect(sink: RecordSink): Promise<void> {
    const cycle = ++this.#cycle;
    await this.#deps.cache.refresh();
    const found = await this.#deps.discover();
    const now = this.#now();
    const rebuild = this.#builtVersion !== this.#metadataVersion;
    this.#builtVersion = this.#metadataVersion;
    if (this.#hostNetns === null) this.#hostNetns = hostNetworkNamespace(this.#hostRoot);

    const where = new Map<string, { paths: ContainerCgroupPaths; identity: CgroupIdentity }>();
    for (const f of found) {
      const id = f.identity.containerId;
      if (id !== undefined && !where.has(id)) where.set(id, { paths: { path: f.cgroupPath }, identity: f.identity });
    }
    // New cgroups the runtimes have not named yet: ask before the first series goes out.
    await this.#deps.cache.resolve(new Set(where.keys()));
    await this.#addFromPids(where);

    for (const pod of this.#pods.values()) pod.reset();
    this.#sandboxPids.clear();
    const sandboxesSeen = new Set<string>();
    let measured = 0;
    for (const [id, w] of where) {
      const info = this.#deps.cache.get(id);
      if (info?.sandbox) {
        this.#noteSandbox(info, w.paths);
        sandboxesSeen.add(id);
        continue;
      }
      let t = this.#tracked.get(id);
      const readLimits = t === undefined || cycle - t.limitsCycle >= LIMITS_EVERY;
      const stats = await this.#deps.stats.read(w.paths, readLimits);
      if (stats === undefined) continue;
      if (t === undefined || (t.info !== info && info !== undefined) || rebuild) {
        const start = info?.startedAtUnixNano ?? t?.start ?? now;
        const resource = this.#containerResource(id, info, w.identity);
        if (t === undefined) {
          t = new Tracked(id, w.identity, info, resource, start);
          // Started after us: every OOM kill its counter shows happened where we can report it,
          // even one before its first reading (a limit too small for its start-up).
          if (info?.startedAtUnixNano !== undefined && info.startedAtUnixNano >= this.#since) t.oomKills = 0;
          this.#tracked.set(id, t);
        } else {
          const started = info?.startedAtUnixNano;
          if (t.info === undefined && info !== undefined) {
            // Named only now (the runtime had not answered, or listed it late). Its counters
            // went on: not a restart, whose reset would add them to the pod's sum twice. Its
            // series take the runtime's start, and one that started after us has had every OOM
            // kill in its counter where we can report it.
            if (started !== undefined) {
              t.start = started;
              if (started >= this.#since) t.oomKills = 0;
            }
          } else if (started !== undefined && started !== t.start) {
            this.#restarted(t, started);
          }
          t.info = info ?? t.info;
          t.resource = resource;
        }
      }
      t.seenCycle = cycle;
      measured++;
      if (readLimits) {
        t.limitsCycle = cycle;
        t.memoryLimit = stats.memoryLimitBytes;
        t.cpuLimit = stats.cpuLimitCpus;
        t.pidsLimit = stats.pidsLimit;
      } else {
        stats.memoryLimitBytes = t.memoryLimit;
        stats.cpuLimitCpus = t.cpuLimit;
        stats.pidsLimit = t.pidsLimit;
      }
      if (stats.io.length > 0) await this.#resolveDevices(stats);
      this.#emitContainer(sink, t, stats, now);
      const podUid = t.info?.pod?.uid ?? w.identity.podUid;
      if (podUid !== undefined) this.#addToPod(podUid, t, stats, now, cycle, w.paths);
      else this.#containerNetwork(sink, t, w.paths, now);
    }

    for (const id of this.#sandboxPidCache.keys()) if (!sandboxesSeen.has(id)) this.#sandboxPidCache.delete(id);
    for (const pid of this.#netnsOf.keys()) if (!this.#netnsUsed.has(pid)) this.#netnsOf.delete(pid);
    this.#netnsUsed.clear();
    this.#retireGone(cycle);
    let pods = 0;
    for (const pod of this.#pods.values()) {
      if (pod.seenCycle !== cycle) continue;
      pods++;
      this.#emitPod(sink, pod, now);
    }
    for (const [uid, pod] of this.#pods) if (pod.seenCycle !== cycle && this.#deps.cache.podContainers(uid).length === 0) this.#pods.delete(uid);

    this.#seenGauge.set(measured);
    this.#podsGauge.set(pods);
    this.#reportProblems();
  }

  async stop(): Promise<void> {
    await this.#deps.cache.stop();
  }

  /** Running containers a runtime knows that the walk did not find: their pid names the cgroup. */
  async #addFromPids(where: Map<string, { paths: ContainerCgroupPaths; identity: CgroupIdentity }>): Promise<void> {
    for (const info of this.#deps.cache.all()) {
      if (where.has(info.id) || info.state !== 'running' || info.pid === undefined) continue;
      const text = await this.#netFiles.read(`${this.#hostRoot}/proc/${info.pid}/cgroup`);
      if (text === undefined) continue;
      const proc = parseProcCgroup(text);
      const paths = pathsFromProcCgroup(proc);
      if (paths === undefined) continue;
      // A pid read from the agent's own cgroup namespace shows `/` or a path outside its view:
      // that does not name the container's cgroup.
      if (paths.path === '/' || paths.path.startsWith('/..')) continue;
      where.set(info.id, { paths, identity: parseCgroupPath(paths.path) ?? { containerId: info.id } });
    }
  }

  #noteSandbox(info: ContainerInfo, paths: ContainerCgroupPaths): void {
    const uid = info.pod?.uid;
    if (uid === undefined) return;
    let pid = info.pid ?? this.#sandboxPidCache.get(info.id);
    if (pid === undefined) {
      pid = this.#firstPid(paths);
      if (pid !== undefined) this.#sandboxPidCache.set(info.id, pid);
    }
    if (pid !== undefined) this.#sandboxPids.set(uid, pid);
  }

  #containerResource(id: string, info: ContainerInfo | undefined, identity: CgroupIdentity | undefined): Resource {
    return containerResource(this.#host, id, info, identity, this.#deps.nodeName, this.#podMeta);
  }

  /** The same id started again (Docker restart): its cgroup counters began again from zero. */
  #restarted(t: Tracked, start: bigint): void {
    const uid = t.info?.pod?.uid ?? t.identity.podUid;
    const pod = uid === undefined ? undefined : this.#pods.get(uid);
    if (pod) for (let i = 0; i < RETIRED_FIELDS; i++) pod.retired[i]! += t.last[i]!;
    t.last.fill(0);
    t.start = start;
    t.lastUsage = undefined;
    t.oomKills = undefined;
  }

  #emitContainer(sink: RecordSink, t: Tracked, s: CgroupStats, now: bigint): void {
    const r = t.resource;
    const start = t.start;
    const C = CONTAINER;
    this.#sum(sink, C.cpuTime, r, MODE_USER, start, now, s.cpuUserSeconds);
    this.#sum(sink, C.cpuTime, r, MODE_SYSTEM, start, now, s.cpuSystemSeconds);
    const usage = s.cpuUsageSeconds ?? (s.cpuUserSeconds !== undefined && s.cpuSystemSeconds !== undefined ? s.cpuUserSeconds + s.cpuSystemSeconds : undefined);
    if (usage !== undefined) this.#usage(sink, C.cpuUsage, r, now, usage, t);
    this.#sum(sink, C.cpuLimit, r, EMPTY_ATTRIBUTES, start, now, s.cpuLimitCpus);
    this.#sum(sink, C.cpuPeriods, r, EMPTY_ATTRIBUTES, start, now, s.cpuPeriods);
    this.#sum(sink, C.cpuThrottledPeriods, r, EMPTY_ATTRIBUTES, start, now, s.cpuThrottledPeriods);
    this.#sum(sink, C.cpuThrottledTime, r, EMPTY_ATTRIBUTES, start, now, s.cpuThrottledSeconds);
    this.#sum(sink, C.memoryUsage, r, EMPTY_ATTRIBUTES, start, now, s.memoryUsageBytes);
    this.#sum(sink, C.memoryWorkingSet, r, EMPTY_ATTRIBUTES, start, now, s.memoryWorkingSetBytes);
    this.#sum(sink, C.memoryAvailable, r, EMPTY_ATTRIBUTES, start, now, availableBytes(s.memoryLimitBytes, s.memoryWorkingSetBytes));
    this.#sum(sink, C.memoryRss, r, EMPTY_ATTRIBUTES, start, now, s.memoryRssBytes);
    this.#sum(sink, C.memoryCache, r, EMPTY_ATTRIBUTES, start, now, s.memoryCacheBytes);
    this.#sum(sink, C.memoryLimit, r, EMPTY_ATTRIBUTES, start, now, s.memoryLimitBytes);
    this.#sum(sink, C.oomKills, r, EMPTY_ATTRIBUTES, start, now, s.memoryOomKills);
    if (s.memoryPageFaults !== undefined && s.memoryMajorPageFaults !== undefined) {
      this.#sum(sink, C.pagingFaults, r, FAULT_MINOR, start, now, Math.max(0, s.memoryPageFaults - s.memoryMajorPageFaults));
      this.#sum(sink, C.pagingFaults, r, FAULT_MAJOR, start, now, s.memoryMajorPageFaults);
    }
    for (const d of s.io) {
      const [read, write] = this.#device(d.major, d.minor);
      this.#sum(sink, C.diskIo, r, read, start, now, d.readBytes);
      this.#sum(sink, C.diskIo, r, write, start, now, d.writeBytes);
      this.#sum(sink, C.diskOperations, r, read, start, now, d.readOps);
      this.#sum(sink, C.diskOperations, r, write, start, now, d.writeOps);
    }
    this.#sum(sink, C.pidsUsage, r, EMPTY_ATTRIBUTES, start, now, s.pidsCurrent);
    this.#sum(sink, C.pidsLimit, r, EMPTY_ATTRIBUTES, start, now, s.pidsLimit);
    const psi = [s.cpuPressure, s.memoryPressure, s.ioPressure];
    for (let i = 0; i < 3; i++) {
      const p = psi[i];
      if (p === undefined) continue;
      this.#sum(sink, C.pressureStallTime, r, PSI_ATTRS[i]!.some, start, now, p.someSeconds);
      this.#sum(sink, C.pressureStallTime, r, PSI_ATTRS[i]!.full, start, now, p.fullSeconds);
    }
    const started = t.info?.startedAtUnixNano;
    if (started !== undefined && now >= started) this.#gauge(sink, C.uptime, r, EMPTY_ATTRIBUTES, now, Number(now - started) / NS_PER_S);

    // OOM kills the runtime does not report itself (cache.reportOomKills ignores Docker's).
    const kills = s.memoryOomKills;
    if (kills !== undefined) {
      if (t.info === undefined) {
        // Not named yet: a report would have no container to name (the cache drops it). The
        // counter is not consumed; the first reading stays the baseline until it is named.
        t.oomKills ??= kills;
      } else {
        if (t.oomKills !== undefined && kills > t.oomKills) this.#deps.cache.reportOomKills(t.id, kills - t.oomKills, now);
        t.oomKills = kills;
      }
    }
    const last = t.last;
    last[R_USER] = s.cpuUserSeconds ?? 0;
    last[R_SYSTEM] = s.cpuSystemSeconds ?? 0;
    last[R_USAGE] = usage ?? 0;
    last[R_MINOR] = s.memoryPageFaults !== undefined && s.memoryMajorPageFaults !== undefined ? Math.max(0, s.memoryPageFaults - s.memoryMajorPageFaults) : 0;
    last[R_MAJOR] = s.memoryMajorPageFaults ?? 0;
    last[R_OOM] = s.memoryOomKills ?? 0;
  }

  #addToPod(uid: string, t: Tracked, s: CgroupStats, now: bigint, cycle: number, paths: ContainerCgroupPaths): void {
    let pod = this.#pods.get(uid);
    const info = t.info?.pod;
    if (pod === undefined) {
      pod = new PodTotals(uid, podResource(this.#host, uid, info, this.#deps.nodeName, this.#podMeta), info, now);
      pod.builtVersion = this.#metadataVersion;
      this.#pods.set(uid, pod);
    } else if ((info !== undefined && pod.info !== info) || pod.seenCycle === 0 || pod.builtVersion !== this.#metadataVersion) {
      pod.info = info ?? pod.info;
      pod.resource = podResource(this.#host, uid, pod.info, this.#deps.nodeName, this.#podMeta);
      pod.builtVersion = this.#metadataVersion;
    }
    pod.seenCycle = cycle;
    pod.containers++;
    for (let i = 0; i < RETIRED_FIELDS; i++) {
      pod.sum[i]! += t.last[i]!;
    }
    if (s.cpuUserSeconds !== undefined) pod.has[R_USER] = 1;
    if (s.cpuSystemSeconds !== undefined) pod.has[R_SYSTEM] = 1;
    if (s.memoryMajorPageFaults !== undefined) pod.has[R_MAJOR] = pod.has[R_MINOR] = 1;
    pod.memoryUsage += s.memoryUsageBytes ?? 0;
    pod.workingSet += s.memoryWorkingSetBytes ?? 0;
    pod.rss += s.memoryRssBytes ?? 0;
    pod.cache += s.memoryCacheBytes ?? 0;
    const available = availableBytes(s.memoryLimitBytes, s.memoryWorkingSetBytes);
    if (available === undefined) pod.allLimited = false;
    else pod.available += available;
    const started = t.info?.startedAtUnixNano;
    if (started !== undefined && (pod.earliestStart === undefined || started < pod.earliestStart)) pod.earliestStart = started;
    // Any container's process reaches the pod's network namespace when the sandbox's is unknown
    // (no runtime): one lookup per pod per cycle at most, kept on the container while it lives.
    if (pod.pid === undefined) pod.pid = t.info?.pid ?? (t.pid ??= this.#firstPid(paths));
  }

  #emitPod(sink: RecordSink, pod: PodTotals, now: bigint): void {
    const r = pod.resource;
    const start = pod.start;
    const P = POD;
    const v = (i: number): number => pod.retired[i]! + pod.sum[i]!;
    if (pod.has[R_USER]) this.#sum(sink, P.cpuTime, r, MODE_USER, start, now, v(R_USER));
    if (pod.has[R_SYSTEM]) this.#sum(sink, P.cpuTime, r, MODE_SYSTEM, start, now, v(R_SYSTEM));
    this.#usage(sink, P.cpuUsage, r, now, v(R_USAGE), pod);
    this.#sum(sink, P.memoryUsage, r, EMPTY_ATTRIBUTES, start, now, pod.memoryUsage);
    this.#sum(sink, P.memoryWorkingSet, r, EMPTY_ATTRIBUTES, start, now, pod.workingSet);
    this.#sum(sink, P.memoryRss, r, EMPTY_ATTRIBUTES, start, now, pod.rss);
    this.#sum(sink, P.memoryCache, r, EMPTY_ATTRIBUTES, start, now, pod.cache);
    if (pod.allLimited && pod.containers > 0) this.#sum(sink, P.memoryAvailable, r, EMPTY_ATTRIBUTES, start, now, pod.available);
    if (pod.has[R_MAJOR]) {
      this.#sum(sink, P.pagingFaults, r, FAULT_MINOR, start, now, v(R_MINOR));
      this.#sum(sink, P.pagingFaults, r, FAULT_MAJOR, start, now, v(R_MAJOR));
    }
    this.#sum(sink, P.oomKills, r, EMPTY_ATTRIBUTES, start, now, v(R_OOM));
    const sandbox = this.#sandboxPids.get(pod.uid);
    const began = pod.earliestStart;
    if (began !== undefined && now >= began) this.#gauge(sink, P.uptime, r, EMPTY_ATTRIBUTES, now, Number(now - began) / NS_PER_S);
    const pid = sandbox ?? pod.pid;
    if (pid !== undefined && !this.#network(sink, r, pid, start, now, true)) {
      // Gone: look it up again next cycle.
      for (const [id, p] of this.#sandboxPidCache) if (p === pid) this.#sandboxPidCache.delete(id);
      for (const t of this.#tracked.values()) if (t.pid === pid) t.pid = undefined;
    }
  }

  #containerNetwork(sink: RecordSink, t: Tracked, paths: ContainerCgroupPaths, now: bigint): void {
    // The runtime's pid, else the cgroup's first, kept until reading through it fails.
    const pid = t.info?.pid ?? (t.pid ??= this.#firstPid(paths));
    if (pid !== undefined && !this.#network(sink, t.resource, pid, t.start, now, false)) t.pid = undefined;
  }

  /** False when the process is gone (the caller forgets it); true when read or skipped on purpose. */
  #network(sink: RecordSink, r: Resource, pid: number, start: bigint, now: bigint, pod: boolean): boolean {
    let ns = this.#netnsOf.get(pid);
    if (ns === undefined) {
      ns = netNamespaceId(this.#hostRoot, pid, this.#pidCounts);
      if (ns === undefined) return false;
      this.#netnsOf.set(pid, ns);
    }
    this.#netnsUsed.add(pid);
    // The host's own namespace (host-network pods and containers): the host source reports it.
    if (this.#hostNetns !== undefined && ns === this.#hostNetns) return true;
    const dev = readNetDev(this.#hostRoot, pid, this.#netFiles);
    if (dev === undefined) {
      // The pid is gone (or reused later by another process): forget what it told us.
      this.#netnsOf.delete(pid);
      return false;
    }
    const M = pod ? POD : CONTAINER;
    for (const i of dev.interfaces) {
      const [rx, tx] = this.#iface(i.name);
      const f = i.fields;
      this.#sum(sink, M.networkIo, r, rx, start, now, f[NET_RX_BYTES]);
      this.#sum(sink, M.networkIo, r, tx, start, now, f[NET_TX_BYTES]);
      this.#sum(sink, M.networkPackets, r, rx, start, now, f[NET_RX_PACKETS]);
      this.#sum(sink, M.networkPackets, r, tx, start, now, f[NET_TX_PACKETS]);
      this.#sum(sink, M.networkErrors, r, rx, start, now, f[NET_RX_ERRS]);
      this.#sum(sink, M.networkErrors, r, tx, start, now, f[NET_TX_ERRS]);
      this.#sum(sink, M.networkDropped, r, rx, start, now, f[NET_RX_DROP]);
      this.#sum(sink, M.networkDropped, r, tx, start, now, f[NET_TX_DROP]);
    }
    return true;
  }

  #firstPid(paths: ContainerCgroupPaths): number | undefined {
    const mount = controllerMount(this.#deps.layout, 'memory');
    if (mount === undefined) return undefined;
    const path = (mount.version === 2 ? paths.overrides?.unified : paths.overrides?.memory) ?? paths.path;
    const dir = cgroupDir(this.#hostRoot, mount, path);
    return dir === undefined ? undefined : firstPidSync(dir, this.#pidCounts);
  }

  /** Containers not seen this cycle are gone: their counters move into their pod's retired totals. */
  #retireGone(cycle: number): void {
    for (const [id, t] of this.#tracked) {
      if (t.seenCycle === cycle) continue;
      const uid = t.info?.pod?.uid ?? t.identity.podUid;
      const pod = uid === undefined ? undefined : this.#pods.get(uid);
      if (pod) for (let i = 0; i < RETIRED_FIELDS; i++) pod.retired[i]! += t.last[i]!;
      this.#tracked.delete(id);
    }
  }

  /** `system.device` for a major:minor: the kernel's name for it, resolved once (see #resolveDevices). */
  #device(major: number, minor: number): readonly [Attributes, Attributes] {
    const key = `${major}:${minor}`;
    let attrs = this.#deviceAttrs.get(key);
    if (attrs === undefined) {
      const name = this.#deviceNames.get(key) ?? key;
      attrs = [Object.freeze({ 'system.device': name, 'disk.io.direction': 'read' }), Object.freeze({ 'system.device': name, 'disk.io.direction': 'write' })];
      if (this.#deviceAttrs.size < 4096) this.#deviceAttrs.set(key, attrs);
    }
    return attrs;
  }

  /**
   * Names of devices not met before, from the /sys/dev/block/<major>:<minor> link (`../../devices/…/sda`):
   * the name the host source reports disks by. A device without an entry keeps its numbers.
   */
  async #resolveDevices(s: CgroupStats): Promise<void> {
    for (const d of s.io) {
      const key = `${d.major}:${d.minor}`;
      if (this.#deviceNames.has(key) || this.#deviceNames.size >= 4096) continue;
      let name = key;
      try {
        const link = await readlink(`${this.#hostRoot}/sys/dev/block/${key}`);
        const base = link.slice(link.lastIndexOf('/') + 1);
        if (base.length > 0) name = base;
      } catch {
        // No entry (a device-mapper node gone): the numbers are the name.
      }
      this.#deviceNames.set(key, name);
    }
  }

  #iface(name: string): readonly [Attributes, Attributes] {
    let attrs = this.#ifaceAttrs.get(name);
    if (attrs === undefined) {
      attrs = [
        Object.freeze({ 'network.interface.name': name, 'network.io.direction': 'receive' }),
        Object.freeze({ 'network.interface.name': name, 'network.io.direction': 'transmit' }),
      ];
      // Interface names come from many namespaces but are few (eth0, lo, net1…); still bounded.
      if (this.#ifaceAttrs.size < 1024) this.#ifaceAttrs.set(name, attrs);
    }
    return attrs;
  }

  #reportProblems(): void {
    const f = this.#deps.stats.files;
    const n = this.#netFiles;
    const p = this.#pidCounts;
    const gone = f.gone + n.gone + p.gone;
    const failed = f.failed + n.failed + p.failed;
    if (gone > 0) this.#readProblems.inc({ reason: 'gone' }, gone);
    if (f.unsupported + n.unsupported > 0) this.#readProblems.inc({ reason: 'unsupported' }, f.unsupported + n.unsupported);
    if (failed > 0) this.#readProblems.inc({ reason: 'failed' }, failed);
    if (this.#deps.stats.malformed > 0) this.#readProblems.inc({ reason: 'malformed' }, this.#deps.stats.malformed);
    f.resetCounts();
    n.resetCounts();
    p.gone = p.failed = 0;
    this.#deps.stats.malformed = 0;
  }

  #sum(sink: RecordSink, d: MetricDescriptor, r: Resource, attributes: Attributes, start: bigint, now: bigint, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) return;
    const p: MetricPoint = { descriptor: d, resource: r, scope: this.#scope, attributes, startTimeUnixNano: start, timeUnixNano: now, value };
    sink.offerMetric(p);
  }

  /** CPUs used since the last reading (none on the first, nor when the counter went back); remembers this one. */
  #usage(sink: RecordSink, d: MetricDescriptor, r: Resource, now: bigint, usage: number, last: { lastUsage: number | undefined; lastAt: bigint }): void {
    if (last.lastUsage !== undefined && now > last.lastAt && usage >= last.lastUsage) {
      this.#gauge(sink, d, r, EMPTY_ATTRIBUTES, now, (usage - last.lastUsage) / (Number(now - last.lastAt) / NS_PER_S));
    }
    last.lastUsage = usage;
    last.lastAt = now;
  }

  #gauge(sink: RecordSink, d: MetricDescriptor, r: Resource, attributes: Attributes, now: bigint, value: number): void {
    if (!Number.isFinite(value)) return;
    sink.offerMetric({ descriptor: d, resource: r, scope: this.#scope, attributes, startTimeUnixNano: 0n, timeUnixNano: now, value });
  }
}
