import { type FileHandle, open, stat } from 'node:fs/promises';
import type { PodMetadataLookup } from '../../enrich/k8s/pod-metadata-index.js';
import { type AttrValue, type Attributes, createResource, createScope, type LogRecord, nowUnixNano, type Resource, type Scope } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Counter, Registry } from '../../self/registry.js';
import { addPodMetadata, containerResource } from '../container/container-resource.js';
import type { ContainerMetadataCache } from '../container/metadata-cache.js';
import type { RecordSink, Source } from '../types.js';
import { CheckpointStore, type FileCheckpoint } from './checkpoint-store.js';
import { CriLine, parseCriLine } from './cri-line.js';
import { DockerJsonLine, DockerJsonLineParser } from './docker-json-line.js';
import { extendIdentity, type FileIdentity, probeFile } from './file-identity.js';
import { BufferPool, LINE_CONTINUED, LINE_PARTIAL, LineReader, type LineSink, type ReadStatus } from './line-reader.js';
import { LogDiscovery, type LogFile, type LogFormat } from './log-discovery.js';
import { parseLogPath } from './log-path.js';
import { type JoinedEntry, MultilineJoiner } from './multiline-joiner.js';
import { type LinePiece, type LogStream, MutablePiece, RecordAssembler, TRUNCATED_ATTRIBUTE } from './record-assembler.js';
import { detectSeverity, severityText } from './severity.js';

export interface LogSourceConfig {
  readonly hostRoot: string;
  readonly stateDir: string;
  /** Files present at the first start (no checkpoint) are read from their end unless 'beginning'. */
  readonly readFrom: 'end' | 'beginning';
  readonly maxRecordBytes: number;
  readonly rescanIntervalMs: number;
  readonly checkpointIntervalMs: number;
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
}

export interface LogSourceDeps {
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** The container metadata cache (M1.3): names beyond what the path gives. Optional: the path alone is enough. */
  readonly cache?: ContainerMetadataCache;
  /** Pod metadata from the Kubernetes API (src/enrich/k8s/); also settable later with setPodMetadata. */
  readonly pods?: PodMetadataLookup;
}

/** Reader buffers: big enough that a Docker json line (16 KiB of log, escaped) is one piece. */
const BUFFER_BYTES = 256 * 1024;
/**
 * Bytes per read: the lines one read brings are parsed and offered in one go (about 10 ms of
 * work for 64 KiB of Docker json on a busy node), and a Docker directory's watch event waits
 * for that before its files are opened.
 */
const READ_BYTES = 64 * 1024;
/** Files opened by Docker directory passes and not tailed yet, at most (the rescan is the safety net beyond). */
const MAX_PINNED = 1024;
/** How long a new Docker container's directory pass waits for its name to reach the metadata cache. */
const NEW_CONTAINER_DELAY_MS = 100;

/** A file a Docker directory pass opened, waiting to be tailed. */
interface Pinned {
  readonly file: LogFile;
  readonly fh: FileHandle;
  readonly key: string;
}
/** An idle tailer waits this long for a file to grow before looking again (inotify hints come sooner for new files). */
const IDLE_POLL_MS = 200;
/** How far back from a file's end the start of its last whole line is looked for (readFrom end). */
const TAIL_BACK_BYTES = 64 * 1024;

const STREAM_ATTRS: Readonly<Record<LogStream, Attributes>> = {
  stdout: Object.freeze({ 'log.iostream': 'stdout' }),
  stderr: Object.freeze({ 'log.iostream': 'stderr' }),
};
const TRUNCATED_ATTRS: Readonly<Record<LogStream, Attributes>> = {
  stdout: Object.freeze({ 'log.iostream': 'stdout', [TRUNCATED_ATTRIBUTE]: true }),
  stderr: Object.freeze({ 'log.iostream': 'stderr', [TRUNCATED_ATTRIBUTE]: true }),
};
const NO_ATTRS: Attributes = Object.freeze({});
const PLAIN_TRUNCATED: Attributes = Object.freeze({ [TRUNCATED_ATTRIBUTE]: true });

/** One file being tailed. */
class Tail implements LineSink {
  reader!: LineReader;
  checkpoint!: FileCheckpoint;
  readonly assembler: RecordAssembler;
  /** A record the pipeline refused (ring full), or that waits for a checkpoint slot: offered again first. */
  held: LogRecord | undefined;
  /** The held record's checkpoint offset, for a record still without an ack token. */
  heldOffset = 0;
  /** The path's file is now another one (renamed away): finish this one, then let it go. */
  rotated = false;
  done = false;
  /** The header of a long line whose later pieces carry no header of their own. */
  readonly longLine = new MutablePiece();
  inLongLine = false;
  /** The long line's own tag: P (true) or F. */
  longTag = false;
  /** The metadata version its resource was built from. */
  resourceVersion = 0;
  /** Set when multiline joining applies to this file. */
  joiner: MultilineJoiner | undefined;

  constructor(
    readonly source: LogSource,
    readonly file: LogFile,
    readonly fh: FileHandle,
    public resource: Resource,
    maxRecordBytes: number,
  ) {
    this.assembler = new RecordAssembler({ maxRecordBytes });
  }

  line(buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean {
    return this.source.onLine(this, buf, start, end, endOffset, flags);
  }
}

/**
 * Pod and container log files, tailed at least once. Lines are parsed per format, pieces merged
 * into records (CRI `P`, Docker 16 KiB partials, capped at `maxRecordBytes`), and each record is
 * offered with this file's checkpoint as its AckTarget: the checkpoint moves only over records the
 * endpoint acknowledged, and is written every `checkpointIntervalMs` and at stop. When the logs
 * ring is full the record is held, reading stops (the files are the buffer) and resumes on
 * `drain`. Each file gets a bounded number of bytes per turn, so one chatty container does not
 * starve the others.
 */
export class LogSource implements Source {
  readonly name = 'logs';
  readonly #config: LogSourceConfig;
  readonly #deps: LogSourceDeps;
  readonly #scope: Scope;
  #host: Resource;
  readonly #discovery: LogDiscovery;
  readonly #store: CheckpointStore;
  readonly #pool = new BufferPool(BUFFER_BYTES, 4);
  readonly #tails = new Map<string, Tail>();
  readonly #cri = new CriLine();
  readonly #docker = new DockerJsonLine();
  readonly #dockerParser = new DockerJsonLineParser();
  readonly #plain = new MutablePiece();
  #sink: RecordSink | undefined;
  #metadataVersion = 0;
  #pods: PodMetadataLookup | undefined;
  /**
   * Files read to their end and let go this run (dev:ino → size and mtime then): a rotated file
   * never grows again, so one finished is not opened again — its checkpoint may still wait for
   * acks, and reopening it would read those lines twice. The stamp tells it from a new file that
   * got the same inode after it was deleted (Docker's max-file deletes the oldest and the next
   * -json.log takes its inode at once): that one is read.
   */
  #finished = new Map<string, string>();
  readonly #multilineStart: RegExp | undefined;
  readonly #multilineContainers: RegExp[];
  #running = false;
  #loop: Promise<void> | undefined;
  #blocked = false;
  #wake: (() => void) | undefined;
  #rescanDue = true;
  #firstScan = true;
  /** No checkpoint state was found at start (set by #run before the first scan). */
  #freshStart = true;
  #lastScanAt = 0;
  /**
   * Scans run one at a time: the loop's rescans and the Docker directory passes a watch event
   * starts at once (even while a file's turn is being read), each after the one before.
   */
  #scanLock: Promise<void> = Promise.resolve();
  /** Files a Docker directory pass opened, oldest first, waiting for #adoptPinned (at most MAX_PINNED). */
  readonly #pinned: Pinned[] = [];
  #adoptQueued = false;
  /** Docker directories with a pass in flight, and those changed again meanwhile. */
  readonly #pinning = new Set<string>();
  readonly #pinAgain = new Set<string>();
  /** Docker directories without a tail yet whose pass waits NEW_CONTAINER_DELAY_MS. */
  readonly #pinLater = new Set<string>();
  /** dev:ino of every file a tail holds (a tail's key never changes: it is its descriptor's). */
  readonly #held = new Set<string>();
  /** Bound once per format: no label lookup per record. */
  readonly #records: Readonly<Record<LogFormat, BoundCounter>>;
  readonly #problems: Counter;

  constructor(config: LogSourceConfig, deps: LogSourceDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#scope = createScope('sextant/logs', deps.version);
    this.#host = deps.resource;
    this.#multilineStart = config.multilineStart ? new RegExp(config.multilineStart) : undefined;
    this.#multilineContainers = (config.multilineContainers ?? []).map(globToRegExp);
    // A container the runtime names after its file was opened (the usual order: the file appears
    // with the container's first line): its records get the names from then on.
    deps.cache?.onChange(() => this.#metadataVersion++);
    if (deps.pods !== undefined) this.setPodMetadata(deps.pods);
    this.#discovery = new LogDiscovery({
      hostRoot: config.hostRoot,
      globs: config.globs,
      ...(config.podLogDirs ? { podLogDirs: config.podLogDirs } : {}),
      ...(config.dockerDirs ? { dockerDirs: config.dockerDirs } : {}),
    });
    this.#store = new CheckpointStore({ dir: config.stateDir, logger: deps.logger, intervalMs: config.checkpointIntervalMs });
    const records = deps.registry.counter('sextant_logs_records_total', 'Log records offered to the pipeline, by format.');
    this.#records = { cri: records.bind({ format: 'cri' }), 'docker-json': records.bind({ format: 'docker-json' }), plain: records.bind({ format: 'plain' }) };
    this.#problems = deps.registry.counter(
      'sextant_logs_problems_total',
      'Log lines and files handled out of the ordinary, by kind (malformed, truncated, copytruncate, refused_link, unreadable).',
    );
  }

  /** A later host identity: every file's next record carries it. */
  setHostResource(host: Resource): void {
    this.#host = host;
    this.#metadataVersion++;
  }

  /**
   * Kubernetes pod metadata (workload, labels, dt.cost.*) on pod log records. When any pod's
   * attributes change, each file's resource is rebuilt at its next record, once.
   */
  setPodMetadata(pods: PodMetadataLookup): void {
    if (this.#pods === pods) return;
    this.#pods = pods;
    pods.onChange(() => this.#metadataVersion++);
    this.#metadataVersion++;
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
    this.#sink = sink;
    sink.onLogsDrain(() => {
      this.#blocked = false;
      this.#poke();
    });
    this.#loop = this.#run().catch((err: unknown) => {
      this.#deps.logger.error({ err: (err as Error).message }, 'log tailing stopped on an unexpected error');
    });
  }

  /**
   * Stops reading. Records already offered keep their acks: the ones the pipeline still delivers
   * advance the checkpoints; the ones it discards at its deadline hold them back (read again
   * after the restart). Call `afterFlush` once the pipeline has flushed.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#store.keepFailedAcks();
    this.#discovery.unwatch();
    this.#poke();
    await this.#loop;
    // Opened by a Docker directory pass and never tailed: nothing of them was read.
    await this.#scanLock;
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) await p.fh.close().catch(() => undefined);
  }

  /** The pipeline has flushed (or given up): write the checkpoints a last time and let the files go. */
  async afterFlush(): Promise<void> {
    await this.#store.close();
    for (const t of [...this.#tails.values()]) await this.#closeTail(t, false);
  }

  async #run(): Promise<void> {
    // Only a start with no checkpoints at all is a first start: after a restart, a file the
    // store does not know appeared while the agent was down and is read from its start.
    this.#freshStart = (await this.#store.load()).source === 'fresh';
    this.#store.start();
    while (this.#running) {
      const now = Date.now();
      if (this.#rescanDue || now - this.#lastScanAt >= this.#config.rescanIntervalMs) await this.#exclusive(this.#rescanFn);
      let progressed = false;
      if (!this.#blocked) {
        for (const t of [...this.#tails.values()]) {
          if (!this.#running || this.#blocked) break;
          // A directory change seen during the round is scanned before the next file's turn,
          // not after the round: a runtime writing at full speed renames and (max-file) deletes
          // a file within a second, and a file opened before it is deleted is never lost.
          if (this.#rescanDue) await this.#exclusive(this.#rescanFn);
          if (t.held) {
            if (!this.#retryHeld(t)) continue;
            if (!this.#offer(t.held)) break;
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
  async #after(t: Tail, status: ReadStatus): Promise<boolean> {
    switch (status) {
      case 'more':
        return true;
      case 'paused':
        return false;
      case 'truncated':
        this.#problems.inc({ kind: 'copytruncate' });
        t.assembler.reset(0);
        t.checkpoint.reset(t.reader.identity, 0);
        return true;
      case 'gone':
        this.#finished.set(t.reader.identity.key, await finishedStamp(t.fh));
        this.#flushAssembler(t);
        if (t.joiner !== undefined) this.#flushJoiner(t);
        await this.#closeTail(t, true);
        this.#rescanDue = true;
        return true;
      case 'eof':
        // Nothing more to read for now: a multiline entry in progress is complete.
        if (t.joiner !== undefined && !this.#flushJoiner(t)) return false;
        if (t.rotated && !t.reader.retired) {
          // Renamed away and read to its end: read what the writer may still add, then let go.
          t.reader.retire();
          return true;
        }
        return false;
    }
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

  #poke(): void {
    this.#wake?.();
  }

  /** Runs `fn` once every scan queued before it has finished. */
  #exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.#scanLock.then(fn);
    this.#scanLock = run.catch(() => undefined);
    return run;
  }

  readonly #rescanFn = (): Promise<void> => this.#rescan();
  readonly #adoptFn = (): Promise<void> => this.#adoptPinned();

  /**
   * A file was created, renamed or deleted in a Docker container directory. At full speed the
   * engine creates a file, rotates it through the max-file names and deletes it within
   * 200–600 ms, while the loop may be deep in a turn (a megabyte of records parsed and offered,
   * each read's lines one stretch of the event loop). A descriptor held is what keeps a file's
   * lines, so the directory is listed and every file in it opened right now, outside the scan
   * lock: three event-loop waits (this callback, readdir, open) from the engine's rename to
   * the open. Starting tails for them (a probe, a checkpoint lookup each) waits its turn.
   */
  readonly #onDockerDir = (dir: string): void => {
    if (!this.#running) return;
    if (this.#tails.has(`${dir}/${dir.slice(dir.lastIndexOf('/') + 1)}-json.log`)) {
      this.#pin(dir);
      return;
    }
    // A container's first file: its start event reaches the metadata cache about now, so the
    // pass waits a moment and the first records carry the container's name. The engine deletes
    // that file only max-file − 1 rotations later, each a megabyte or more (max-size) away.
    if (this.#pinLater.has(dir)) return;
    this.#pinLater.add(dir);
    setTimeout(() => {
      this.#pinLater.delete(dir);
      if (this.#running) this.#pin(dir);
    }, NEW_CONTAINER_DELAY_MS).unref();
  };

  #pin(dir: string): void {
    if (this.#pinning.has(dir)) {
      this.#pinAgain.add(dir);
      return;
    }
    this.#pinning.add(dir);
    this.#pinDir(dir).catch((err: unknown) => {
      this.#deps.logger.debug({ err: (err as Error).message }, 'docker log directory pass failed');
    });
  }

  readonly #onActivity = (): void => this.#poke();

  /**
   * Opens every file of one Docker container directory that no tail holds, and queues it for
   * #adoptPinned, oldest first (a container's records then go out in the order it wrote them).
   * The opens go out side by side: a file the engine renames meanwhile may be opened twice or
   * not at all, but that rename changed the directory again, and the change that reports it
   * runs this once more. Identity is the descriptor's dev:ino, never the name it was opened by.
   */
  async #pinDir(dir: string): Promise<void> {
    try {
      do {
        this.#pinAgain.delete(dir);
        const files = await this.#discovery.listDockerDir(dir);
        const handles = await Promise.all(files.map(openOrNothing));
        const keys = await Promise.all(handles.map(keyOf));
        for (let i = files.length - 1; i >= 0; i--) {
          const fh = handles[i];
          if (fh === undefined) continue;
          const key = keys[i];
          if (!this.#running || key === undefined || this.#held.has(key) || this.#pinned.length >= MAX_PINNED || this.#pinned.some((p) => p.key === key)) {
            await fh.close().catch(() => undefined);
            continue;
          }
          this.#pinned.push({ file: files[i]!, fh, key });
        }
        if (this.#pinned.length > 0 && !this.#adoptQueued) {
          this.#adoptQueued = true;
          this.#exclusive(this.#adoptFn).catch((err: unknown) => {
            this.#deps.logger.debug({ err: (err as Error).message }, 'docker log files could not be tailed');
          });
        }
      } while (this.#running && this.#pinAgain.has(dir));
    } finally {
      this.#pinning.delete(dir);
      this.#pinAgain.delete(dir);
    }
  }

  /** Tails the files #pinDir opened, in the order it queued them (under the scan lock). */
  async #adoptPinned(): Promise<void> {
    this.#adoptQueued = false;
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) {
      if (!this.#running) await p.fh.close().catch(() => undefined);
      else await this.#startTail(p.file, p.fh, false, p.file.rotated === true, false);
    }
    this.#poke();
  }

  async #rescan(): Promise<void> {
    this.#rescanDue = false;
    this.#lastScanAt = Date.now();
    const first = this.#firstScan;
    this.#firstScan = false;
    const scan = await this.#discovery.scan();
    if (scan.refused > 0) this.#problems.inc({ kind: 'refused_link' }, scan.refused);
    if (scan.unreadable > 0) this.#problems.inc({ kind: 'unreadable' }, scan.unreadable);
    const live = new Set<string>();
    const rotatedNow = new Set<string>();
    for (const f of scan.files) {
      if (f.rotated) {
        if (!first) await this.#openRotated(f, rotatedNow);
        else {
          // Present at the start: after a restart it is finished from its checkpoint if the
          // store knows it; any other one (read before, or older than a first start) is marked
          // finished, or a later scan would take it for a file rotated unseen and read it all.
          if (!this.#freshStart) await this.#openTail(f, false, true, true);
          if (!this.#freshStart || this.#config.readFrom === 'end') await this.#markFinished(f);
        }
        continue;
      }
      live.add(f.path);
      const t = this.#tails.get(f.path);
      if (t !== undefined) {
        // The path now names a new file: tail it too, from its start (#startTail moves the old
        // tail aside, to finish its file). One marked rotated while its name was briefly
        // missing (the engine renames, then creates) may have a successor by now too.
        if (t.rotated || (await this.#renamedAway(t))) await this.#openTail(f, false);
        continue;
      }
      await this.#openTail(f, first && this.#freshStart && this.#config.readFrom === 'end');
    }
    if (!first) {
      const keep = new Map<string, string>();
      for (const [k, v] of this.#finished) if (rotatedNow.has(k)) keep.set(k, v);
      this.#finished = keep;
    }
    // A file no longer listed was deleted or renamed away: the reader reads it to its end.
    for (const t of this.#tails.values()) if (!t.rotated && !live.has(t.file.path)) t.rotated = true;
    const dirs = new Set<string>(scan.dirs);
    for (const t of this.#tails.values()) dirs.add(t.file.path.slice(0, t.file.path.lastIndexOf('/')));
    const added = this.#discovery.watch([...dirs], this.#onHint, this.#hooks);
    // A file created in a directory between its listing above and its watch gave no hint: look
    // once more (a short-lived container's whole log could otherwise wait for the interval rescan
    // and be deleted by then). Converges: the next scan adds no watch unless new dirs appeared.
    if (added > 0) this.#rescanDue = true;
  }

  readonly #onHint = (): void => {
    this.#rescanDue = true;
    this.#poke();
  };

  readonly #hooks = { dockerDir: this.#onDockerDir, activity: this.#onActivity };

  /** A rotated file present at the start that no tail took: not to be read (see #rescan). */
  async #markFinished(file: LogFile): Promise<void> {
    try {
      const st = await stat(file.realPath, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      if (!this.#holds(key)) this.#finished.set(key, `${st.size}:${st.mtimeNs}`);
    } catch {
      // Gone already.
    }
  }

  /**
   * A rotated file not held by any tail: read what of it was not read yet — from its checkpoint,
   * or all of it when it appeared after the first scan (rotated twice between two scans).
   */
  async #openRotated(file: LogFile, seen: Set<string>): Promise<void> {
    let key: string;
    let stamp: string;
    try {
      const st = await stat(file.realPath, { bigint: true });
      key = `${st.dev}:${st.ino}`;
      stamp = `${st.size}:${st.mtimeNs}`;
    } catch {
      return;
    }
    seen.add(key);
    if (this.#holds(key) || this.#finished.get(key) === stamp) return;
    // The name may be another file by the open (the engine renames at full speed): the one
    // opened is tailed for what it is; the one stat saw moved on, so look again soon.
    const got = await this.#openTail(file, false, true);
    if (got !== undefined && got !== key) this.#rescanDue = true;
  }

  async #renamedAway(t: Tail): Promise<boolean> {
    try {
      const st = await stat(t.file.realPath, { bigint: true });
      return `${st.dev}:${st.ino}` !== t.reader.identity.key;
    } catch {
      return true;
    }
  }

  /**
   * Starts tailing `file`. Where from: its checkpoint when the store knows it; else its end when
   * `fromEnd` (present at the very first start, readFrom end); else its start. `resumeOnly`
   * opens a rotated file only to finish it from its checkpoint (after a restart: lines written
   * before the rotation while the agent was down); one the store does not know was read before
   * its entry was forgotten, or never will be (present at the first start).
   */
  async #openTail(file: LogFile, fromEnd: boolean, rotated = false, resumeOnly = false): Promise<string | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(file.realPath, 'r');
    } catch (err) {
      // A name gone between the listing and the open was renamed or deleted, not unreadable.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#problems.inc({ kind: 'unreadable' });
      return undefined;
    }
    return this.#startTail(file, fh, fromEnd, rotated, resumeOnly);
  }

  /**
   * #openTail with the file already open (the descriptor is closed here unless a tail keeps it).
   * Returns the dev:ino of the file the descriptor is, tailed or not.
   */
  async #startTail(file: LogFile, fh: FileHandle, fromEnd: boolean, rotated: boolean, resumeOnly: boolean): Promise<string | undefined> {
    try {
      const probe = await probeFile(fh);
      // The path may name another file by now than the scan (or the stat) saw: a runtime renames
      // at full speed. A file a tail holds, or a rotated one finished and unchanged, is not
      // opened a second time (it would be read again from its checkpoint, behind the acks).
      if (this.#holds(probe.identity.key) || (rotated && this.#finished.get(probe.identity.key) === (await finishedStamp(fh)))) {
        await fh.close();
        return probe.identity.key;
      }
      let identity: FileIdentity = probe.identity;
      const match = this.#store.lookup(identity, probe.size, probe.head);
      let offset = 0;
      if (match.kind === 'resume') {
        offset = match.offset;
        // A rotated file read to its end before (its entry is kept a while after release): done.
        if (rotated && offset >= probe.size) {
          await fh.close();
          return probe.identity.key;
        }
      } else if (resumeOnly) {
        await fh.close();
        return probe.identity.key;
      } else if (match.kind === 'truncated') this.#problems.inc({ kind: 'copytruncate' });
      else if (fromEnd) offset = await lineStartBefore(fh, probe.size);
      identity = extendIdentity(identity, probe);
      const t = new Tail(this, file, fh, this.#resourceFor(file), this.#config.maxRecordBytes);
      t.resourceVersion = this.#metadataVersion;
      t.joiner = this.#joinerFor(file, t.resource);
      t.checkpoint = this.#store.open(identity, file.path, offset);
      t.reader = new LineReader(fh, identity, offset, t, { pool: this.#pool, maxBytesPerTurn: this.#config.maxBytesPerTurn ?? 1024 * 1024, maxBytesPerRead: READ_BYTES });
      t.assembler.reset(offset);
      if (rotated) t.rotated = true;
      else {
        // The live name's previous file (renamed away: this one took the name after it was
        // opened) is finished under a key of its own.
        const old = this.#tails.get(file.path);
        if (old !== undefined) {
          old.rotated = true;
          this.#tails.delete(file.path);
          this.#tails.set(`${file.path}\u0000${old.reader.identity.key}`, old);
        }
      }
      this.#tails.set(rotated ? `${file.path}\u0000${identity.key}` : file.path, t);
      this.#held.add(identity.key);
      return identity.key;
    } catch (err) {
      this.#problems.inc({ kind: 'unreadable' });
      this.#deps.logger.debug({ path: file.path, err: (err as Error).message }, 'cannot open log file');
      await fh.close().catch(() => undefined);
      return undefined;
    }
  }

  #holds(key: string): boolean {
    return this.#held.has(key);
  }

  async #closeTail(t: Tail, gone: boolean): Promise<void> {
    if (t.done) return;
    t.done = true;
    for (const [k, v] of this.#tails) if (v === t) this.#tails.delete(k);
    this.#held.delete(t.reader.identity.key);
    if (gone) this.#store.release(t.checkpoint);
    await t.fh.close().catch(() => undefined);
  }

  /** The line reader's callback: parse, assemble, offer. False pauses the reader (ring full). */
  onLine(t: Tail, buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean {
    const lineStart = endOffset - (end - start) - ((flags & LINE_PARTIAL) === 0 ? 1 : 0);
    const piece = this.#piece(t, buf, start, end, flags);
    const observed = nowUnixNano();
    const rec = t.assembler.add(piece, Math.max(0, lineStart), endOffset, observed);
    if (rec === null) return true;
    let out: Emit = rec;
    if (t.joiner !== undefined) {
      const entry = t.joiner.add({ body: rec.body, timeUnixNano: rec.timeUnixNano === 0n ? observed : rec.timeUnixNano, stream: rec.stream, startOffset: rec.startOffset, checkpointOffset: rec.checkpointOffset, truncated: rec.truncated });
      if (entry === undefined) return true;
      out = joined(entry, t.joiner.holdBack());
    }
    return this.#emit(t, out, observed);
  }

  /** Offers one record; false pauses the reader (held for the next turn). */
  #emit(t: Tail, out: Emit, observed: bigint): boolean {
    const record = this.#record(t, out, observed);
    if (record.ackToken === -1) {
      t.held = record;
      t.heldOffset = out.checkpointOffset;
      return false;
    }
    if (!this.#offer(record)) {
      t.held = record;
      return false;
    }
    return true;
  }

  /** A held record without a token gets one once acks have freed a slot; false while they have not. */
  #retryHeld(t: Tail): boolean {
    const held = t.held!;
    if (held.ackToken !== -1) return true;
    const token = t.checkpoint.track(t.heldOffset);
    if (token < 0) return false;
    t.held = { ...held, ackToken: token };
    return true;
  }

  #piece(t: Tail, buf: Buffer, start: number, end: number, flags: number): LinePiece {
    const more = (flags & LINE_PARTIAL) !== 0;
    if ((flags & LINE_CONTINUED) !== 0 && t.inLongLine) {
      // The next piece of a line longer than the reader's buffer: no header of its own.
      const p = t.longLine;
      p.content = buf;
      p.contentStart = start;
      p.contentEnd = end;
      p.partial = more || t.longTag; // its last piece carries the line's own P/F
      if (!more) t.inLongLine = false;
      return p;
    }
    if (t.file.format === 'plain') {
      const p = this.#plain;
      p.stream = 'stdout';
      p.timeUnixNano = 0n;
      p.content = buf;
      p.contentStart = start;
      p.contentEnd = end;
      p.partial = more;
      return p;
    }
    const parsed: LinePiece = t.file.format === 'cri' ? parseCriLine(buf, start, end, this.#cri) : this.#dockerParser.parse(buf, start, end, this.#docker);
    if (!more || parsed.kind !== 'ok') return parsed;
    // The first piece of a long line: remember its header for the pieces that follow.
    const h = t.longLine;
    t.inLongLine = true;
    t.longTag = parsed.partial;
    h.kind = 'ok';
    h.stream = parsed.stream;
    h.timeUnixNano = parsed.timeUnixNano;
    h.content = parsed.content;
    h.contentStart = parsed.contentStart;
    h.contentEnd = parsed.contentEnd;
    h.partial = true;
    return h;
  }

  /** The record to offer; its ackToken is -1 when the file has too many records in flight (held until acks free a slot). */
  #record(t: Tail, rec: Emit, observed: bigint): LogRecord {
    if (t.resourceVersion !== this.#metadataVersion) {
      t.resource = this.#resourceFor(t.file);
      t.resourceVersion = this.#metadataVersion;
      // A container named only now (Docker's name from the cache) may be one that joins lines.
      t.joiner ??= this.#joinerFor(t.file, t.resource);
    }
    const token = t.checkpoint.track(rec.checkpointOffset);
    // Plain files have no stream; a malformed line's stream is unknown.
    const stream = t.file.format === 'plain' ? undefined : rec.stream;
    const attributes = stream === undefined ? (rec.truncated ? PLAIN_TRUNCATED : NO_ATTRS) : rec.truncated ? TRUNCATED_ATTRS[stream] : STREAM_ATTRS[stream];
    const severity = detectSeverity(rec.body);
    this.#records[t.file.format].inc();
    if (rec.malformed) this.#problems.inc({ kind: 'malformed' });
    if (rec.truncated) this.#problems.inc({ kind: 'truncated' });
    return {
      resource: t.resource,
      scope: this.#scope,
      timeUnixNano: rec.timeUnixNano === 0n ? observed : rec.timeUnixNano,
      observedTimeUnixNano: observed,
      severityNumber: severity,
      severityText: severityText(severity),
      body: rec.body,
      attributes,
      eventName: '',
      ack: t.checkpoint,
      ackToken: token,
    };
  }

  #offer(record: LogRecord): boolean {
    if (this.#sink!.offerLog(record)) return true;
    this.#blocked = true;
    return false;
  }

  /** Gives out the held multiline entries; false when the pipeline pushed back (the rest stay held). */
  #flushJoiner(t: Tail): boolean {
    const j = t.joiner!;
    for (let e = j.flushOne(); e !== undefined; e = j.flushOne()) {
      if (!this.#emit(t, joined(e, j.holdBack()), nowUnixNano())) return false;
    }
    return true;
  }

  /** A file that ended with an unfinished record: emit what there is. */
  #flushAssembler(t: Tail): void {
    for (;;) {
      const rec = t.assembler.flush();
      if (rec === null) return;
      if (t.joiner !== undefined) {
        const e = t.joiner.add({ body: rec.body, timeUnixNano: rec.timeUnixNano, stream: rec.stream, startOffset: rec.startOffset, checkpointOffset: rec.checkpointOffset, truncated: rec.truncated });
        if (e !== undefined && !this.#emit(t, joined(e, t.joiner.holdBack()), nowUnixNano())) return;
        continue;
      }
      const record = this.#record(t, rec, nowUnixNano());
      if (record.ackToken === -1 || !this.#offer(record)) return;
    }
  }

  #joinerFor(file: LogFile, resource: Resource): MultilineJoiner | undefined {
    const start = this.#multilineStart;
    if (start === undefined) return undefined;
    const only = this.#multilineContainers;
    if (only.length > 0) {
      const name = resource.attributes['k8s.container.name'] ?? resource.attributes['container.name'];
      if (typeof name !== 'string' || !only.some((re) => re.test(name))) return undefined;
    }
    return new MultilineJoiner(start, this.#config.maxRecordBytes);
  }

  /**
   * A file's resource: the container's as the metrics carry it (container-resource.ts) when the
   * metadata cache knows it, else what the path says; plus `log.file.path`.
   */
  #resourceFor(file: LogFile): Resource {
    const id = parseLogPath(file.path);
    const cache = this.#deps.cache;
    const nodeName = this.#config.nodeName;
    let a: Record<string, AttrValue>;
    if (id?.kind === 'pod') {
      const info = cache?.podContainers(id.podUid).find((c) => !c.sandbox && c.name === id.containerName && c.restartCount === id.restartCount);
      if (info) {
        a = { ...containerResource(this.#host, info.id, info, undefined, nodeName, this.#pods).attributes };
      } else {
        a = { ...this.#host.attributes };
        a['k8s.namespace.name'] = id.namespace;
        a['k8s.pod.name'] = id.podName;
        a['k8s.pod.uid'] = id.podUid;
        a['k8s.container.name'] = id.containerName;
        a['k8s.container.restart_count'] = id.restartCount;
        if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
        addPodMetadata(a, this.#pods, id.podUid);
      }
    } else if (id?.kind === 'docker') {
      a = { ...containerResource(this.#host, id.containerId, cache?.get(id.containerId), { containerId: id.containerId, runtime: 'docker' }, nodeName, this.#pods).attributes };
    } else {
      a = { ...this.#host.attributes };
    }
    a['log.file.path'] = file.path;
    return createResource(a);
  }

}

/** What a record is made from: an assembled record, or a joined multiline entry. */
interface Emit {
  readonly body: string;
  readonly stream: LogStream | undefined;
  readonly timeUnixNano: bigint;
  readonly truncated: boolean;
  readonly malformed: boolean;
  readonly checkpointOffset: number;
}

/** A joined entry as a record; its checkpoint never passes an entry still held on the other stream. */
function joined(e: JoinedEntry, holdBack: number): Emit {
  return {
    body: e.body,
    stream: e.stream,
    timeUnixNano: e.timeUnixNano,
    truncated: e.truncated,
    malformed: false,
    checkpointOffset: holdBack >= 0 ? Math.min(e.checkpointOffset, holdBack) : e.checkpointOffset,
  };
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** The file opened for reading, or undefined when its name is gone (renamed or deleted meanwhile). */
function openOrNothing(file: LogFile): Promise<FileHandle | undefined> {
  return open(file.realPath, 'r').catch(() => undefined);
}

/** dev:ino of an open file, or undefined when there is none (or it cannot be looked at). */
async function keyOf(fh: FileHandle | undefined): Promise<string | undefined> {
  if (fh === undefined) return undefined;
  try {
    const st = await fh.stat({ bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Size and mtime of a file being let go: what tells it from a later file on the same inode. */
async function finishedStamp(fh: FileHandle): Promise<string> {
  try {
    const st = await fh.stat({ bigint: true });
    return `${st.size}:${st.mtimeNs}`;
  } catch {
    return '';
  }
}

/** Where the last whole line before `size` starts, so reading from the end never begins mid-line. */
async function lineStartBefore(fh: FileHandle, size: number): Promise<number> {
  if (size === 0) return 0;
  const from = Math.max(0, size - TAIL_BACK_BYTES);
  const buf = Buffer.allocUnsafe(size - from);
  const { bytesRead } = await fh.read(buf, 0, buf.length, from);
  const nl = buf.lastIndexOf(0x0a, bytesRead - 1);
  // No newline in the window: one long unfinished line; start at the end (it is the writer's, in progress).
  return nl === -1 ? size : from + nl + 1;
}

