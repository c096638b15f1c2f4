import type { PodMetadataLookup } from '../../enrich/k8s/pod-metadata-index.js';
import { createScope, type Resource } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Counter, Registry } from '../../self/registry.js';
import type { ContainerMetadataCache } from '../container/metadata-cache.js';
import type { RecordSink, Source } from '../types.js';
import { CheckpointStore } from './checkpoint-store.js';
import { DockerDirPins } from './docker-dir-pins.js';
import type { FileTail } from './file-tail.js';
import { FinishedFiles, finishedStamp } from './finished-files.js';
import { LineRecords } from './line-records.js';
import type { ReadStatus } from './line-reader.js';
import { LogDiscovery } from './log-discovery.js';
import { LogResources } from './log-resources.js';
import { LogScanner } from './log-scanner.js';
import { ScanLock } from './scan-lock.js';
import { TailSet } from './tail-set.js';

export interface LogSourceConfig {
  readonly hostRoot: string;
  readonly stateDir: string;
  /** Files present at the first start (no checkpoint) are read from their end unless 'beginning'. */
  readonly readFrom: 'end' | 'beginning';
  readonly maxRecordBytes: number;
  readonly rescanIntervalMs: number;
  readonly checkpointIntervalMs: number;
  /** How long a rotated file is read after it stopped growing before it is let go (default 5 s); 0: at its first end. */
  readonly rotateWaitMs?: number;
  readonly globs: readonly string[];
  readonly podLogDirs?: readonly string[];
  readonly dockerDirs?: readonly string[];
  /** Bytes read per file per turn (fairness). */
  readonly maxBytesPerTurn?: number;
  /** `k8s.node.name` on pod logs. */
  readonly nodeName?: string;
  /** A record matching this starts a multiline entry (stack traces); undefined or empty: off. */
  readonly multilineStart?: string;
  /** Container names (`*` wildcards) multiline joining applies to; empty: every file. */
  readonly multilineContainers?: readonly string[];
  /** The addon's Docker log pinning thread when it loads (config key `native`; default true). */
  readonly native?: boolean;
}

export interface LogSourceDeps {
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** The container metadata cache (the container source's): names beyond what the path gives. Optional: the path alone is enough. */
  readonly cache?: ContainerMetadataCache;
  /** Pod metadata from the Kubernetes API (src/enrich/k8s/); also settable later with setPodMetadata. */
  readonly pods?: PodMetadataLookup;
}

/** An idle tailer waits this long for a file to grow before looking again (inotify hints come sooner for new files). */
const IDLE_POLL_MS = 200;
/** logs.rotateWait's default (Fluent Bit's Rotate_Wait is 5 s too). */
const ROTATE_WAIT_MS = 5_000;
/**
 * How long a CRI file renamed away must stay at its end before the file that took its name is
 * read: containerd's old log writer drains its pipe into the old file while the new one is
 * already written (measured: the old file's last line came 1 ms after the new file's first), and
 * ends it with a `P` piece when the switch fell mid-line; the rest is the new file's first line.
 * Docker rotates under its own lock: its old file is final once renamed.
 */
const CRI_SETTLE_MS = 500;
/**
 * How long the first scan waits for the container runtimes' first list. A container's log
 * resource takes its name and image from the metadata cache, which fills from that list; lines
 * read before it would go out nameless (on a loaded node, a logger already running when the
 * agent started, read from its start, had its first 37 lines stored without its name). Bounded:
 * a runtime that does not answer (its call deadline) does not hold the logs back longer.
 */
const FIRST_LIST_WAIT_MS = 3_000;

/**
 * Pod and container log files, tailed at least once. Lines are parsed per format, pieces merged
 * into records (CRI `P`, Docker 16 KiB partials, capped at `maxRecordBytes`), and each record is
 * offered with this file's checkpoint as its AckTarget: the checkpoint moves only over records the
 * endpoint acknowledged, and is written every `checkpointIntervalMs` and at stop. When the logs
 * ring is full the record is held, reading stops (the files are the buffer) and resumes on
 * `drain`. Each file gets a bounded number of bytes per turn, so one chatty container does not
 * starve the others.
 *
 * This file is the source's face and its tail loop (scans when due, one turn per file,
 * backpressure); the rest is in collaborators: log-scanner.ts (rescans, rotation),
 * finished-files.ts (rotated files done with), tail-set.ts (opening files, where from),
 * docker-dir-pins.ts (the Docker directory race), line-records.ts (lines → records, offered),
 * log-resources.ts (each file's resource).
 */
export class LogSource implements Source {
  readonly name = 'logs';
  readonly #logger: Logger;
  readonly #resources: LogResources;
  readonly #discovery: LogDiscovery;
  readonly #store: CheckpointStore;
  readonly #records: LineRecords;
  readonly #finished = new FinishedFiles();
  readonly #tails: TailSet;
  /** Scans run one at a time: the loop's rescans and the tailing of Docker directory passes. */
  readonly #lock = new ScanLock();
  readonly #pins: DockerDirPins;
  readonly #scans: LogScanner;
  readonly #problems: Counter;
  readonly #truncatedBytes: BoundCounter;
  readonly #rotateWaitMs: number;
  readonly #cache: ContainerMetadataCache | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #poke = (): void => {
    this.#wake?.();
  };

  constructor(config: LogSourceConfig, deps: LogSourceDeps) {
    this.#logger = deps.logger;
    this.#rotateWaitMs = config.rotateWaitMs ?? ROTATE_WAIT_MS;
    this.#cache = deps.cache;
    const scope = createScope('sextant/logs', deps.version);
    this.#resources = new LogResources({
      host: deps.resource,
      cache: deps.cache,
      pods: deps.pods,
      nodeName: config.nodeName,
      multilineStart: config.multilineStart,
      multilineContainers: config.multilineContainers,
      maxRecordBytes: config.maxRecordBytes,
    });
    this.#discovery = new LogDiscovery({
      hostRoot: config.hostRoot,
      globs: config.globs,
      ...(config.podLogDirs ? { podLogDirs: config.podLogDirs } : {}),
      ...(config.dockerDirs ? { dockerDirs: config.dockerDirs } : {}),
    });
    this.#store = new CheckpointStore({ dir: config.stateDir, logger: deps.logger, intervalMs: config.checkpointIntervalMs });
    const records = deps.registry.counter('sextant_logs_records_total', 'Log records offered to the pipeline, by format.');
    const problems = deps.registry.counter(
      'sextant_logs_problems_total',
      'Log lines and files handled out of the ordinary, by kind (malformed, truncated, copytruncate, refused_link, unreadable, compressed_resume: a gzipped rotated file read from a checkpoint, compressed_damaged).',
    );
    this.#problems = problems;
    this.#truncatedBytes = deps.registry
      .counter('sextant_logs_copytruncate_unread_bytes_total', 'Bytes a copytruncate took before the tailer read them (at least: what the file held past its position at its last look, and an unfinished line).')
      .bind();
    this.#records = new LineRecords(
      scope,
      this.#resources,
      { cri: records.bind({ format: 'cri' }), 'docker-json': records.bind({ format: 'docker-json' }), plain: records.bind({ format: 'plain' }) },
      problems,
    );
    this.#tails = new TailSet({
      store: this.#store,
      finished: this.#finished,
      resources: this.#resources,
      lines: this.#records,
      problems,
      logger: deps.logger,
      maxRecordBytes: config.maxRecordBytes,
      maxBytesPerTurn: config.maxBytesPerTurn,
    });
    this.#pins = new DockerDirPins({ discovery: this.#discovery, tails: this.#tails, lock: this.#lock, logger: deps.logger, poke: this.#poke, native: config.native ?? true });
    this.#scans = new LogScanner({
      discovery: this.#discovery,
      tails: this.#tails,
      finished: this.#finished,
      lock: this.#lock,
      problems,
      readFrom: config.readFrom,
      rescanIntervalMs: config.rescanIntervalMs,
      poke: this.#poke,
      dockerDir: this.#pins.onDockerDir,
      afterScan: () => this.#pins.sweep(),
      stateTime: () => this.#store.stateTime,
    });
  }

  /** The addon's thread pins Docker log files (false: the watch callback's pass alone, the fallback). */
  get nativePinning(): boolean {
    return this.#pins.nativePinning;
  }

  /** A later host identity: every file's next record carries it. */
  setHostResource(host: Resource): void {
    this.#resources.setHost(host);
  }

  /**
   * Kubernetes pod metadata (workload, labels, dt.cost.*) on pod log records. When any pod's
   * attributes change, each file's resource is rebuilt at its next record, once.
   */
  setPodMetadata(pods: PodMetadataLookup): void {
    this.#resources.setPods(pods);
  }

  /** Files being tailed now (for /metrics and tests). */
  get files(): number {
    return this.#tails.size;
  }

  /**
   * The `limit` files furthest behind: size now against the acknowledged (checkpoint) offset,
   * for `sextant top`. Stats every open file, so it is for an on-demand status page, not a loop.
   */
  async checkpointLag(limit: number): Promise<{ path: string; size: number; committed: number }[]> {
    const out: { path: string; size: number; committed: number }[] = [];
    for (const t of [...this.#tails.values()]) {
      if (t.checkpoint === undefined) continue;
      try {
        out.push({ path: t.file.path, size: (await t.fh.stat()).size, committed: t.checkpoint.committed });
      } catch {
        // Closed meanwhile: nothing behind any more.
      }
    }
    out.sort((a, b) => b.size - b.committed - (a.size - a.committed));
    return out.slice(0, limit);
  }

  start(sink: RecordSink): void {
    if (this.#running) return;
    this.#running = true;
    this.#pins.start();
    this.#records.attach(sink);
    sink.onLogsDrain(() => {
      this.#records.drained();
      this.#poke();
    });
    this.#loop = this.#run().catch((err: unknown) => {
      this.#logger.error({ err: (err as Error).message }, 'log tailing stopped on an unexpected error');
    });
  }

  /**
   * Stops reading. Records already offered keep their acks: the ones the pipeline still delivers
   * advance the checkpoints; the ones it discards at its deadline hold them back (read again
   * after the restart). Call `afterFlush` once the pipeline has flushed.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#pins.stop();
    this.#store.keepFailedAcks();
    this.#discovery.unwatch();
    this.#poke();
    await this.#loop;
    await this.#lock.idle();
    await this.#pins.closeUntailed();
  }

  /** The pipeline has flushed (or given up): write the checkpoints a last time and let the files go. */
  async afterFlush(): Promise<void> {
    await this.#store.close();
    for (const t of [...this.#tails.values()]) await this.#tails.close(t, false);
  }

  async #run(): Promise<void> {
    // Only a start with no checkpoints at all is a first start: after a restart, a file the
    // store does not know appeared while the agent was down and is read from its start.
    this.#scans.freshStart = (await this.#store.load()).source === 'fresh';
    this.#store.start();
    if (this.#cache !== undefined) await firstList(this.#cache);
    const records = this.#records;
    while (this.#running) {
      const now = Date.now();
      if (this.#scans.dueAt(now)) await this.#scans.rescan();
      let progressed = false;
      if (!records.blocked) {
        for (const t of [...this.#tails.values()]) {
          if (!this.#running || records.blocked) break;
          // A directory change seen during the round is scanned before the next file's turn,
          // not after the round: a runtime writing at full speed renames and (max-file) deletes
          // a file within a second, and a file opened before it is deleted is never lost.
          if (this.#scans.rescanDue) await this.#scans.rescan();
          if (t.predecessor !== undefined && this.#waitsForPredecessor(t)) continue;
          if (t.held) {
            if (!records.retryHeld(t)) continue;
            if (!records.offer(t.held)) break;
            t.held = undefined;
          }
          const status = await t.reader.readTurn();
          // The reader completes the head fingerprint as a file opened short (a new, empty
          // -json.log or 0.log) grows; the checkpoint must carry it too, or its entry's empty
          // head matches whatever file takes the inode next and resumes there at this offset.
          if (status !== 'truncated') t.checkpoint.update(t.reader.identity, t.file.path);
          if (await this.#after(t, status)) progressed = true;
        }
      }
      if (!progressed && this.#running) await this.#idle();
    }
  }

  /** True when the turn read something (another turn right away). */
  async #after(t: FileTail, status: ReadStatus): Promise<boolean> {
    switch (status) {
      case 'more':
        return true;
      case 'paused':
        return false;
      case 'truncated':
        this.#problems.inc({ kind: 'copytruncate' });
        this.#truncatedBytes.inc(t.reader.unreadBytes - t.unreadCounted);
        t.unreadCounted = t.reader.unreadBytes;
        t.assembler.reset(0);
        t.checkpoint.reset(t.reader.identity, 0);
        return true;
      case 'gone':
        this.#finished.set(t.compressed?.key ?? t.reader.identity.key, t.reader.finalStamp ?? (await finishedStamp(t.fh)));
        // An unfinished record goes on in the file that took the name, when one waits for it.
        if (t.successor === undefined || t.successor.done) this.#records.flushAssembler(t);
        if (t.joiner !== undefined) this.#records.flushJoiner(t);
        await this.#tails.close(t, true);
        this.#scans.markDue();
        return true;
      case 'eof':
        // Nothing more to read for now: a multiline entry in progress is complete.
        if (t.joiner !== undefined && !this.#records.flushJoiner(t)) return false;
        if (t.rotated && !t.reader.retired) {
          // Renamed away and read to its end, but its writer may not be done with it: containerd
          // drains its old log pipe into it while the new 0.log is already written (measured: the
          // old file's last line 1 ms after the new file's first), and an application under
          // logrotate's create mode writes on until it reopens. Let go once it has stayed at its
          // end for rotateWait; the last turn reads whatever came meanwhile.
          const now = performance.now();
          if (t.quietAt !== t.reader.position) {
            t.quietAt = t.reader.position;
            t.quietSince = now;
          }
          if (t.endSeenAt < 0) t.endSeenAt = now;
          if (now - t.quietSince < this.#rotateWaitMs) return false;
          t.reader.retire();
          return true;
        }
        return false;
    }
  }

  /**
   * True while `t`'s predecessor (the file it took the name from) may still be written: not read
   * to its end, or (CRI) not quiet there for CRI_SETTLE_MS. Then `t` takes over the records the
   * predecessor left unfinished, each with an ack on the predecessor's checkpoint for its bytes
   * there, and is read from then on; the predecessor is still read for what comes late.
   */
  #waitsForPredecessor(t: FileTail): boolean {
    const p = t.predecessor!;
    const now = performance.now();
    if (!p.done) {
      const settle = p.file.format === 'cri' ? Math.min(CRI_SETTLE_MS, this.#rotateWaitMs) : 0;
      const settled = p.quietAt === p.reader.position && now - p.quietSince >= settle;
      // Not read to its end yet: the agent is behind (a chain of rotations at full speed), wait.
      // Read to its end and still written rotateWait later (renamed by hand, no runtime switched
      // files): the new file is not held back longer; what the old one has unfinished stays there.
      if (!settled && (p.endSeenAt < 0 || now - p.endSeenAt < this.#rotateWaitMs)) return true;
      if (!settled) {
        t.predecessor = undefined;
        p.successor = undefined;
        return false;
      }
    }
    t.predecessor = undefined;
    p.successor = undefined;
    const end = p.assembler.consumedOffset;
    p.assembler.handOver(t.assembler, () => {
      const token = p.checkpoint.track(end);
      return token < 0 ? undefined : { target: p.checkpoint, token };
    });
    return false;
  }

  async #idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_POLL_MS);
      timer.unref();
      this.#wake = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    this.#wake = undefined;
  }
}

/** The container runtimes' first list (refresh waits for one in flight), or FIRST_LIST_WAIT_MS. */
async function firstList(cache: ContainerMetadataCache): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    cache.refresh(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FIRST_LIST_WAIT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

