import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { OtlpSignal } from '../export/types.js';

export interface StoreLimits {
  /** A file is rotated before a write would take it past this (a single larger line gets a file of its own). */
  readonly maxFileBytes: number;
  /** The oldest files are deleted while the signal's files add up to more than this. */
  readonly maxTotalBytes: number;
  /** Lines accepted but not yet written; above this the gateway answers 503 (the disk is not keeping up). */
  readonly maxPendingBytes: number;
}

export interface StoreHooks {
  written(bytes: number, records: number): void;
  /** A write or delete failed; the lines of a failed write are dropped. */
  failed(err: NodeJS.ErrnoException, lostRecords: number): void;
}

interface StoredFile {
  readonly name: string;
  /** "2026-11-25T08", UTC. */
  readonly hour: string;
  readonly index: number;
  size: number;
}

interface Pending {
  readonly line: string;
  readonly hour: string;
  readonly bytes: number;
  readonly records: number;
}

/** The UTC hour a millisecond timestamp falls in, as used in file names: "2026-11-25T08". */
export function utcHour(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13);
}

/**
 * File names: `<signal>-<hour>.ndjson`, then `<signal>-<hour>.1.ndjson`, `.2.ndjson`, … as the
 * hour's files fill up. Files are never renamed, so a reader tailing one is never surprised, and
 * `*.ndjson` matches them all.
 */
export function storeFileName(signal: OtlpSignal, hour: string, index: number): string {
  return index === 0 ? `${signal}-${hour}.ndjson` : `${signal}-${hour}.${index}.ndjson`;
}

function compareFiles(a: StoredFile, b: StoredFile): number {
  return a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.index - b.index;
}

/**
 * The local store of one signal: NDJSON lines appended in arrival order by a single writer.
 * `append` only queues (the request never waits on the disk); the writer takes everything queued
 * since its last write and appends it with one write per file, without fsync.
 */
export class SignalStore {
  readonly #dir: string;
  readonly #signal: OtlpSignal;
  readonly #limits: StoreLimits;
  readonly #hooks: StoreHooks;
  readonly #pattern: RegExp;
  /** Oldest first. */
  readonly #files: StoredFile[] = [];
  #totalBytes = 0;
  #queue: Pending[] = [];
  #pendingBytes = 0;
  #current: StoredFile | undefined;
  #handle: FileHandle | undefined;
  #pump: Promise<void> | undefined;
  #closed = false;

  constructor(dataDir: string, signal: OtlpSignal, limits: StoreLimits, hooks: StoreHooks) {
    this.#dir = path.join(dataDir, signal);
    this.#signal = signal;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#pattern = new RegExp(`^${signal}-(\\d{4}-\\d{2}-\\d{2}T\\d{2})(?:\\.(\\d+))?\\.ndjson$`);
  }

  get directory(): string {
    return this.#dir;
  }

  /** Bytes queued and not yet written. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Bytes in this signal's files, as far as the store knows (its own writes and the files found at open). */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Whether another line can be queued without passing `maxPendingBytes`. */
  get accepting(): boolean {
    return !this.#closed && this.#pendingBytes < this.#limits.maxPendingBytes;
  }

  /** Creates the directory and takes stock of files left by an earlier run (they count toward the cap). */
  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    for (const name of await readdir(this.#dir)) {
      const m = this.#pattern.exec(name);
      if (!m) continue;
      try {
        const st = await stat(path.join(this.#dir, name));
        if (!st.isFile()) continue;
        this.#files.push({ name, hour: m[1]!, index: m[2] === undefined ? 0 : Number(m[2]), size: st.size });
        this.#totalBytes += st.size;
      } catch {
        // Gone between readdir and stat: nothing to count.
      }
    }
    this.#files.sort(compareFiles);
    await this.#enforceTotal();
  }

  /** Queues one line (it must end in "\n"). Never waits on the disk. */
  append(line: string, receivedAtMs: number, records: number): void {
    const bytes = Buffer.byteLength(line, 'utf8');
    this.#queue.push({ line, hour: utcHour(receivedAtMs), bytes, records });
    this.#pendingBytes += bytes;
    this.#pump ??= this.#drain();
  }

  /** Resolves once everything queued so far is written (or has failed and been counted). */
  async flush(): Promise<void> {
    while (this.#pump !== undefined) await this.#pump;
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#closeHandle(true);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#writeBatch(batch);
      }
    } finally {
      this.#pump = undefined;
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    const max = this.#limits.maxFileBytes;
    let i = 0;
    while (i < batch.length) {
      const hour = batch[i]!.hour;
      let file: StoredFile;
      try {
        file = await this.#fileFor(hour);
      } catch (err) {
        // Cannot open a file for this hour: drop this hour's lines of the batch, count them, move on.
        let lost = 0;
        while (i < batch.length && batch[i]!.hour === hour) {
          lost += batch[i]!.records;
          this.#pendingBytes -= batch[i]!.bytes;
          i++;
        }
        this.#hooks.failed(err as NodeJS.ErrnoException, lost);
        continue;
      }
      let text = '';
      let bytes = 0;
      let records = 0;
      while (i < batch.length && batch[i]!.hour === hour) {
        const e = batch[i]!;
        // An empty file takes any line, however long: a line is never split.
        if (file.size + bytes > 0 && file.size + bytes + e.bytes > max) break;
        text += e.line;
        bytes += e.bytes;
        records += e.records;
        i++;
      }
      if (bytes === 0) {
        try {
          await this.#rotate(file);
        } catch {
          // The next file cannot be opened (data dir gone, no inodes, EMFILE): the next turn goes
          // through #fileFor, which tries once more and otherwise drops and counts this hour's
          // lines, instead of an unhandled rejection taking the process down.
          await this.#closeHandle(false);
        }
        continue;
      }
      try {
        await this.#handle!.appendFile(text, 'utf8');
        file.size += bytes;
        this.#totalBytes += bytes;
        this.#hooks.written(bytes, records);
      } catch (err) {
        this.#hooks.failed(err as NodeJS.ErrnoException, records);
        // Reopen on the next write: the handle may be unusable (file removed, disk full).
        await this.#closeHandle(false);
      }
      this.#pendingBytes -= bytes;
      await this.#enforceTotal();
    }
  }

  /** The open file for `hour`, opening (or creating) the hour's newest file as needed. */
  async #fileFor(hour: string): Promise<StoredFile> {
    if (this.#current !== undefined && this.#current.hour === hour && this.#handle !== undefined) return this.#current;
    await this.#closeHandle(false);
    let newest: StoredFile | undefined;
    for (const f of this.#files) if (f.hour === hour && (newest === undefined || f.index > newest.index)) newest = f;
    if (newest !== undefined && newest.size < this.#limits.maxFileBytes) return this.#openFile(newest);
    return this.#openFile(this.#addFile(hour, newest === undefined ? 0 : newest.index + 1));
  }

  async #rotate(full: StoredFile): Promise<void> {
    await this.#closeHandle(false);
    let next = full.index + 1;
    for (const f of this.#files) if (f.hour === full.hour && f.index >= next) next = f.index + 1;
    await this.#openFile(this.#addFile(full.hour, next));
  }

  #addFile(hour: string, index: number): StoredFile {
    const f: StoredFile = { name: storeFileName(this.#signal, hour, index), hour, index, size: 0 };
    this.#files.push(f);
    // Usually already in order (time moves forward); a clock step back still keeps the list sorted.
    if (this.#files.length > 1 && compareFiles(this.#files[this.#files.length - 2]!, f) > 0) this.#files.sort(compareFiles);
    return f;
  }

  async #openFile(f: StoredFile): Promise<StoredFile> {
    this.#handle = await open(path.join(this.#dir, f.name), 'a');
    this.#current = f;
    return f;
  }

  async #closeHandle(sync: boolean): Promise<void> {
    const h = this.#handle;
    this.#handle = undefined;
    this.#current = undefined;
    if (h === undefined) return;
    try {
      if (sync) await h.datasync();
    } catch {
      // Best effort at shutdown; the data is in the page cache either way.
    }
    await h.close().catch(() => undefined);
  }

  /** Deletes the oldest files (never the one being written) while the signal is over its cap. */
  async #enforceTotal(): Promise<void> {
    let i = 0;
    while (this.#totalBytes > this.#limits.maxTotalBytes && i < this.#files.length) {
      const f = this.#files[i]!;
      if (f === this.#current) {
        i++;
        continue;
      }
      try {
        await unlink(path.join(this.#dir, f.name));
      } catch (err) {
        // Already gone is fine; anything else is reported but the file is forgotten all the same,
        // so one undeletable file cannot stall the store.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#hooks.failed(err as NodeJS.ErrnoException, 0);
      }
      this.#files.splice(i, 1);
      this.#totalBytes -= f.size;
    }
  }
}
