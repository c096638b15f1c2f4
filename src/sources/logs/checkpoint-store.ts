import { hash } from 'node:crypto';
import { copyFile, link, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../io/state-file.js';
import { ConfigError } from '../../errors.js';
import type { AckTarget } from '../../model/log.js';
import type { Logger } from '../../self/logger.js';
import { headMatches, type FileIdentity } from './file-identity.js';

/**
 * Where each tailed file was read up to, kept so that a restart resumes without losing or
 * (beyond one write interval) repeating lines. At least once: a file's offset advances only past
 * records the endpoint acknowledged, in file order, whatever order the acks arrive in.
 *
 * On disk (`<dir>/checkpoints.json`), two lines:
 *   {"format":"sextant-checkpoints","version":1,"bytes":<n>,"sha1":"<hex>"}
 *   [{"key":"2049:1234","path":"…","offset":…,"updatedAt":…,"headLength":…,"headHash":"…","goneAt":0}, …]
 * The header's byte count and hash cover the second line exactly, so a torn or corrupted write
 * is recognised, not half-trusted. Before each write the current good file becomes
 * `checkpoints.json.prev`; a load that finds the main file bad falls back to it, and with
 * neither good starts empty with one log line. Loading never throws.
 */
export const CHECKPOINT_FILE = 'checkpoints.json';
export const CHECKPOINT_FORMAT = 'sextant-checkpoints';
export const CHECKPOINT_VERSION = 1;
/** In the key of an entry whose inode another file has now (see CheckpointStore #orphan). */
const ORPHAN_MARK = '~';

export interface CheckpointEntry {
  readonly key: string;
  readonly path: string;
  readonly offset: number;
  /** Epoch ms of the last change of offset or path. */
  readonly updatedAt: number;
  readonly headLength: number;
  readonly headHash: string;
  /** Epoch ms when the file was released as gone; 0 while it is live or merely unopened. */
  readonly goneAt: number;
}

/** How `lookup` judged a stored entry against the file on disk now. */
export type CheckpointMatch =
  | { readonly kind: 'resume'; readonly offset: number }
  /** The same file, now shorter than the stored offset: copytruncate while we were down. */
  | { readonly kind: 'truncated' }
  /** Same dev:ino, different head: another file got the inode. The stale entry was dropped. */
  | { readonly kind: 'inode-reused' }
  | { readonly kind: 'unknown' };

export type LoadSource = 'main' | 'prev' | 'fresh';

export interface CheckpointStoreOptions {
  /** The state directory. */
  readonly dir: string;
  readonly logger: Logger;
  /** Write interval (default 1,000 ms): the bound on lines repeated after a crash. */
  readonly intervalMs?: number;
  /** Forget entries of files released as gone this long ago (default 24 h). */
  readonly retentionMs?: number;
  /**
   * Most entries kept (default 50,000): entries loaded and not reopened, then files released as
   * gone, go first, oldest first; a file being tailed now is never forgotten.
   */
  readonly maxEntries?: number;
  /** Most records in flight per file (default 65,536); `track` refuses beyond it. */
  readonly maxPendingPerFile?: number;
  /** Epoch ms clock; injectable for tests. */
  readonly now?: () => number;
}

/**
 * Records in flight for one file, oldest first, in a power-of-two ring of (end offset, acked).
 * `track` hands out sequence numbers that double as ack tokens, so this object is the file's
 * AckTarget: one per file, never one per record. The committed offset is the end offset of the
 * longest fully acknowledged prefix.
 */
export class FileCheckpoint implements AckTarget {
  readonly key: string;
  #path: string;
  #headLength: number;
  #headHash: string;
  #committed: number;
  #updatedAt: number;
  #goneAt = 0;
  #frozen = false;
  #ends: Float64Array;
  #acked: Uint8Array;
  #mask: number;
  readonly #maxPending: number;
  /** Sequence numbers: [#head, #tail) are in the ring. */
  #head = 0;
  #tail = 0;
  readonly #store: CheckpointStore;

  /** @internal — made by CheckpointStore.open */
  constructor(store: CheckpointStore, identity: FileIdentity, filePath: string, offset: number, now: number, maxPending: number) {
    this.#store = store;
    this.key = identity.key;
    this.#path = filePath;
    this.#headLength = identity.headLength;
    this.#headHash = identity.headHash;
    this.#committed = offset;
    this.#updatedAt = now;
    this.#maxPending = maxPending;
    const cap = Math.min(1024, maxPending);
    this.#ends = new Float64Array(cap);
    this.#acked = new Uint8Array(cap);
    this.#mask = cap - 1;
  }

  /** Offset below which every record was acknowledged: where a restart resumes. */
  get committed(): number {
    return this.#committed;
  }

  get path(): string {
    return this.#path;
  }

  /** Records tracked and not yet settled (or settled out of order behind an unsettled one). */
  get pending(): number {
    return this.#tail - this.#head;
  }

  get goneAt(): number {
    return this.#goneAt;
  }

  /**
   * A record whose last byte ends at `endOffset` was handed to the pipeline. Returns its ack
   * token, or -1 when `maxPendingPerFile` records are already in flight (pause the file).
   * End offsets must not decrease (file order).
   */
  track(endOffset: number): number {
    const n = this.#tail - this.#head;
    if (n === this.#ends.length && !this.#grow()) return -1;
    const seq = this.#tail++;
    const slot = seq & this.#mask;
    this.#ends[slot] = endOffset;
    this.#acked[slot] = 0;
    return seq;
  }

  /**
   * Bytes up to `endOffset` produced no record (a blank or malformed line, a dropped piece):
   * they may be passed as soon as everything before them is acknowledged.
   */
  skip(endOffset: number): void {
    if (this.#tail === this.#head) {
      this.#advance(endOffset);
      return;
    }
    const last = (this.#tail - 1) & this.#mask;
    if (this.#acked[last] === 1) {
      this.#ends[last] = endOffset; // merge into an acked slot: no room needed
    } else if (this.track(endOffset) >= 0) {
      this.#acked[(this.#tail - 1) & this.#mask] = 1;
    }
    // A full ring drops the skip: the offset then waits for the next record, which is safe.
  }

  /**
   * AckTarget: the batch holding record `token` was settled. `ok` false (rejected for good)
   * advances too — re-reading a line the endpoint refuses would fail forever; the pipeline counts
   * the drop. Shutdown discards must not advance: the store is frozen (`close`) before them.
   */
  settle(token: number, ok: boolean): void {
    if (this.#frozen || token < this.#head || token >= this.#tail) return;
    if (!ok && this.#store.keepingFailed) return;
    this.#acked[token & this.#mask] = 1;
    if (token !== this.#head) return;
    let end = this.#committed;
    let h = this.#head;
    while (h < this.#tail && this.#acked[h & this.#mask] === 1) {
      end = this.#ends[h & this.#mask]!;
      h++;
    }
    this.#head = h;
    this.#advance(end);
  }

  /**
   * The content was replaced (copytruncate): forget records in flight, whose acks now mean
   * nothing, and stand at `offset` (usually 0) of the new content with its identity.
   */
  reset(identity: FileIdentity, offset: number): void {
    this.#head = this.#tail;
    this.#headLength = identity.headLength;
    this.#headHash = identity.headHash;
    this.#committed = offset;
    this.#updatedAt = this.#store.now();
    this.#store.markDirty();
  }

  /** The head grew (identity extended) or the file was found under another name. */
  update(identity: FileIdentity, filePath: string): void {
    if (identity.headLength !== this.#headLength || filePath !== this.#path) {
      this.#headLength = identity.headLength;
      this.#headHash = identity.headHash;
      this.#path = filePath;
      this.#updatedAt = this.#store.now();
      this.#store.markDirty();
    }
  }

  /** Snapshot for writing. */
  entry(): CheckpointEntry {
    return {
      key: this.key,
      path: this.#path,
      offset: this.#committed,
      updatedAt: this.#updatedAt,
      headLength: this.#headLength,
      headHash: this.#headHash,
      goneAt: this.#goneAt,
    };
  }

  /** @internal */
  markGone(now: number): void {
    this.#goneAt = now;
  }

  /** @internal */
  freeze(): void {
    this.#frozen = true;
  }

  #advance(end: number): void {
    if (end > this.#committed) {
      this.#committed = end;
      this.#updatedAt = this.#store.now();
      this.#store.markDirty();
    }
  }

  #grow(): boolean {
    const cap = this.#ends.length;
    if (cap * 2 > this.#maxPending) return false;
    const ends = new Float64Array(cap * 2);
    const acked = new Uint8Array(cap * 2);
    const mask = cap * 2 - 1;
    for (let s = this.#head; s < this.#tail; s++) {
      ends[s & mask] = this.#ends[s & this.#mask]!;
      acked[s & mask] = this.#acked[s & this.#mask]!;
    }
    this.#ends = ends;
    this.#acked = acked;
    this.#mask = mask;
    return true;
  }
}

export class CheckpointStore {
  readonly file: string;
  readonly #prevFile: string;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #retentionMs: number;
  readonly #maxEntries: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  /** Entries loaded from disk and not (yet) opened this run. */
  readonly #stored = new Map<string, CheckpointEntry>();
  /** Files opened this run, live or released. */
  readonly #open = new Map<string, FileCheckpoint>();
  #dirty = false;
  /** The main file on disk is one we trust (loaded fine or written by us): safe to keep as .prev. */
  #mainGood = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #closed = false;
  #writeFailures = 0;
  /** Shutting down: a record settled not-ok was discarded, not rejected, and must be read again. */
  #keepFailed = false;
  /** When the state loaded at start was written (its file's mtime, epoch ms); undefined when fresh. */
  #stateTime: number | undefined;

  constructor(options: CheckpointStoreOptions) {
    const intervalMs = options.intervalMs ?? 1_000;
    const maxPending = options.maxPendingPerFile ?? 65_536;
    if (!(intervalMs > 0)) throw new ConfigError('logs.checkpointInterval', `must be positive, got ${intervalMs}`);
    // No setting reaches maxPendingPerFile (tests set it): a bad one is a bug, not a config error.
    if (!Number.isInteger(maxPending) || maxPending < 1 || (maxPending & (maxPending - 1)) !== 0) {
      throw new RangeError(`maxPendingPerFile must be a power of two, got ${maxPending}`);
    }
    this.file = path.join(options.dir, CHECKPOINT_FILE);
    this.#prevFile = `${this.file}.prev`;
    this.#logger = options.logger;
    this.#intervalMs = intervalMs;
    this.#retentionMs = options.retentionMs ?? 24 * 3600_000;
    this.#maxEntries = options.maxEntries ?? 50_000;
    this.#maxPending = maxPending;
    this.#now = options.now ?? Date.now;
  }

  /** Epoch ms from the store's clock. */
  now(): number {
    return this.#now();
  }

  /**
   * From now on a record settled with `ok` false holds its file's checkpoint back instead of
   * being passed over: at shutdown the pipeline discards what it could not deliver, and those
   * lines must be read again after the restart. Acknowledged records still advance.
   */
  keepFailedAcks(): void {
    this.#keepFailed = true;
  }

  /** @internal */
  get keepingFailed(): boolean {
    return this.#keepFailed;
  }

  /** @internal — a FileCheckpoint changed. */
  markDirty(): void {
    this.#dirty = true;
  }

  get writeFailures(): number {
    return this.#writeFailures;
  }

  /**
   * Reads the state directory. Never throws: a bad main file falls back to `.prev`, a bad
   * `.prev` to an empty store, each with one log line.
   */
  async load(): Promise<{ source: LoadSource; entries: number }> {
    const main = await readCheckpointFile(this.file);
    if (main.entries !== undefined) {
      this.#adopt(main.entries);
      this.#mainGood = true;
      this.#stateTime = await mtimeOf(this.file);
      return { source: 'main', entries: main.entries.length };
    }
    const prev = await readCheckpointFile(this.#prevFile);
    if (prev.entries !== undefined) {
      if (main.problem !== 'absent') this.#logger.warn({ file: this.file, problem: main.problem }, 'log checkpoints unreadable, using the previous copy');
      this.#adopt(prev.entries);
      this.#stateTime = await mtimeOf(this.#prevFile);
      return { source: 'prev', entries: prev.entries.length };
    }
    if (main.problem !== 'absent' || prev.problem !== 'absent') {
      this.#logger.warn({ file: this.file, problem: main.problem, prevProblem: prev.problem }, 'log checkpoints unreadable, starting without them');
    }
    return { source: 'fresh', entries: 0 };
  }

  /**
   * What the store knows of this file: resume at an offset, or why not. `size` is the file's
   * size now, `head` its first ≤ 256 bytes (FileProbe.head). An entry whose head does not match
   * is dropped (the inode now belongs to another file).
   */
  lookup(identity: FileIdentity, size: number, head: Uint8Array): CheckpointMatch {
    const live = this.#open.get(identity.key);
    const e = live?.entry() ?? this.#stored.get(identity.key);
    if (e === undefined) return { kind: 'unknown' };
    if (!headMatches(e, head)) {
      if (size < e.offset && size < e.headLength) return { kind: 'truncated' };
      if (live === undefined) this.#orphan(e);
      this.#dirty = true;
      return { kind: 'inode-reused' };
    }
    if (size < e.offset) return { kind: 'truncated' };
    return { kind: 'resume', offset: e.offset };
  }

  /**
   * When the checkpoints loaded at start were last written (epoch ms), undefined after a fresh
   * start. A file that changed after it and that the store does not know appeared after the last
   * state the previous run recorded (or just before its crash): its lines were never made durable.
   */
  get stateTime(): number | undefined {
    return this.#stateTime;
  }

  /**
   * The checkpoint of the file a gzipped rotated file in `dir` was compressed from: an entry of
   * that directory whose head matches the decompressed `head`. `resumable` when it was not released
   * as finished and is not being tailed (`held`: its lines come through the descriptor the tail
   * keeps): the `.gz` is read from its offset. Undefined when no entry matches.
   */
  findCompressedOrigin(dir: string, head: Uint8Array, held: (key: string) => boolean): { entry: CheckpointEntry; resumable: boolean } | undefined {
    const candidates: CheckpointEntry[] = [...this.#stored.values()];
    for (const fc of this.#open.values()) candidates.push(fc.entry());
    for (const e of candidates) {
      if (e.headLength === 0 || path.dirname(e.path) !== dir) continue;
      if (headMatches(e, head)) return { entry: e, resumable: e.goneAt === 0 && !held(e.key) };
    }
    return undefined;
  }

  /**
   * Another file has the inode of a stored entry's file: the entry is kept under a key of its own
   * (`<dev:ino>~<head hash>`, which no file's dev:ino matches) rather than dropped, because the
   * runtime may have compressed the file before deleting it, and the `.gz` resumes from it
   * (findCompressedOrigin). Forgotten after the retention like a released file.
   */
  #orphan(e: CheckpointEntry): void {
    this.#stored.delete(e.key);
    if (e.goneAt > 0 || e.key.includes(ORPHAN_MARK)) return;
    const key = `${e.key}${ORPHAN_MARK}${e.headHash.slice(0, 12)}`;
    this.#stored.set(key, { ...e, key });
  }

  /** Starts tracking a file at `offset` (replacing whatever was kept under its key). */
  open(identity: FileIdentity, filePath: string, offset: number): FileCheckpoint {
    this.#stored.delete(identity.key);
    this.#open.get(identity.key)?.freeze(); // an earlier incarnation's late acks must not count
    const fc = new FileCheckpoint(this, identity, filePath, offset, this.#now(), this.#maxPending);
    if (this.#closed) fc.freeze();
    this.#open.set(identity.key, fc);
    this.#dirty = true;
    return fc;
  }

  /** The file is gone (deleted, or rotated and finished): keep its entry for the retention. */
  release(fc: FileCheckpoint): void {
    if (this.#open.get(fc.key) !== fc) return;
    fc.markGone(this.#now());
    this.#dirty = true;
  }

  /** Every entry as it would be written now. */
  entries(): CheckpointEntry[] {
    const out: CheckpointEntry[] = [];
    for (const e of this.#stored.values()) out.push(e);
    for (const fc of this.#open.values()) out.push(fc.entry());
    return out;
  }

  /** Writes every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Writes now if anything changed. Never throws: a failed write is logged (by the caller's
   * burst policy it is rare: a full or read-only state volume) and counted, and retried on the
   * next interval. Concurrent calls share one write.
   */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (!this.#dirty) return;
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
    });
    await this.#writing;
  }

  /**
   * Shutdown: freezes every file's offset (call BEFORE the pipeline discards what it holds, so
   * discarded records do not count as settled), writes once more, stops the timer.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const fc of this.#open.values()) fc.freeze();
    await this.flush();
  }

  async #write(): Promise<void> {
    this.#dirty = false;
    this.#prune();
    const text = encodeCheckpoints(this.entries());
    try {
      if (this.#mainGood) {
        await keepAsPrevious(this.file, this.#prevFile);
      } else {
        // A main file we could not trust is not worth keeping as the fallback.
        await rm(this.file, { force: true });
      }
      await writeFileAtomic(this.file, text);
      this.#mainGood = true;
    } catch (err) {
      this.#dirty = true;
      this.#writeFailures++;
      if (this.#writeFailures === 1 || this.#writeFailures % 100 === 0) {
        this.#logger.warn({ file: this.file, failures: this.#writeFailures, err: (err as Error).message }, 'cannot write log checkpoints');
      }
    }
  }

  /** Forgets files gone longer than the retention, then the oldest beyond maxEntries. */
  #prune(): void {
    const limit = this.#now() - this.#retentionMs;
    for (const [k, e] of this.#stored) if ((e.goneAt > 0 && e.goneAt < limit) || (e.goneAt === 0 && k.includes(ORPHAN_MARK) && e.updatedAt < limit)) this.#stored.delete(k);
    for (const [k, fc] of this.#open) if (fc.goneAt > 0 && fc.goneAt < limit && fc.pending === 0) this.#open.delete(k);
    const excess = this.#stored.size + this.#open.size - this.#maxEntries;
    if (excess <= 0) return;
    // Rare (more files than the cap): sort once per write; stored entries (not opened this run) go first.
    const victims = [...this.#stored.values()].sort(byAge);
    let n = excess;
    for (const v of victims) {
      if (n-- <= 0) break;
      this.#stored.delete(v.key);
    }
    if (n > 0) {
      const gone = [...this.#open.values()].filter((fc) => fc.goneAt > 0).sort((a, b) => byAge(a.entry(), b.entry()));
      for (const fc of gone) {
        if (n-- <= 0) break;
        this.#open.delete(fc.key);
      }
    }
  }

  #adopt(entries: CheckpointEntry[]): void {
    for (const e of entries) this.#stored.set(e.key, e);
  }
}

async function mtimeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

function byAge(a: CheckpointEntry, b: CheckpointEntry): number {
  // Gone before live; among each, the least recently updated first.
  const ga = a.goneAt > 0 ? 0 : 1;
  const gb = b.goneAt > 0 ? 0 : 1;
  return ga - gb || a.updatedAt - b.updatedAt;
}

/** The file text for these entries. */
export function encodeCheckpoints(entries: readonly CheckpointEntry[]): string {
  const body = JSON.stringify(entries.map(plainEntry));
  const header = JSON.stringify({
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    bytes: Buffer.byteLength(body),
    sha1: hash('sha1', body, 'hex'),
  });
  return `${header}\n${body}\n`;
}

function plainEntry(e: CheckpointEntry): CheckpointEntry {
  return {
    key: e.key,
    path: e.path,
    offset: e.offset,
    updatedAt: e.updatedAt,
    headLength: e.headLength,
    headHash: e.headHash,
    goneAt: e.goneAt,
  };
}

export type DecodeProblem = 'absent' | 'unreadable' | 'torn' | 'corrupt' | 'version';

/** Parses a checkpoint file's text; never throws. */
export function decodeCheckpoints(text: string): { entries?: CheckpointEntry[]; problem?: DecodeProblem } {
  const nl = text.indexOf('\n');
  if (nl < 0) return { problem: 'torn' };
  let header: unknown;
  try {
    header = JSON.parse(text.slice(0, nl));
  } catch {
    return { problem: 'corrupt' };
  }
  if (!isRecord(header) || header.format !== CHECKPOINT_FORMAT) return { problem: 'corrupt' };
  if (header.version !== CHECKPOINT_VERSION) return { problem: 'version' };
  const rest = text.slice(nl + 1);
  const body = rest.endsWith('\n') ? rest.slice(0, -1) : rest;
  if (typeof header.bytes !== 'number' || Buffer.byteLength(body) !== header.bytes) return { problem: 'torn' };
  if (hash('sha1', body, 'hex') !== header.sha1) return { problem: 'corrupt' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { problem: 'corrupt' };
  }
  if (!Array.isArray(parsed)) return { problem: 'corrupt' };
  const entries: CheckpointEntry[] = [];
  for (const e of parsed) {
    if (!validEntry(e)) return { problem: 'corrupt' };
    entries.push(plainEntry(e));
  }
  return { entries };
}

async function readCheckpointFile(file: string): Promise<{ entries?: CheckpointEntry[]; problem: DecodeProblem | undefined }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unreadable' };
  }
  const r = decodeCheckpoints(text);
  return { entries: r.entries, problem: r.problem } as { entries?: CheckpointEntry[]; problem: DecodeProblem | undefined };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validEntry(e: unknown): e is CheckpointEntry {
  return (
    isRecord(e) &&
    typeof e.key === 'string' &&
    typeof e.path === 'string' &&
    Number.isSafeInteger(e.offset) &&
    (e.offset as number) >= 0 &&
    Number.isFinite(e.updatedAt) &&
    Number.isInteger(e.headLength) &&
    (e.headLength as number) >= 0 &&
    typeof e.headHash === 'string' &&
    Number.isFinite(e.goneAt)
  );
}

/**
 * Makes `prev` a second name of the current main file, so the main file never goes missing: a
 * crash at any point of a write leaves a good main file, or the old one with its copy in `.prev`.
 * (Renaming main to `.prev` first left a moment with no main file; a reader or a crash there saw
 * no checkpoints at all.) A filesystem without hard links gets a copy.
 */
async function keepAsPrevious(main: string, prev: string): Promise<void> {
  await rm(prev, { force: true });
  try {
    await link(main, prev);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    await copyFile(main, prev).catch((copyErr: NodeJS.ErrnoException) => {
      if (copyErr.code !== 'ENOENT') throw copyErr;
    });
  }
}
