import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../self/logger.js';
import type { Counter } from '../../self/registry.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { extendIdentity, type FileIdentity, makeIdentity, pathNames, probeFile } from './file-identity.js';
import { FileTail, type TailLines } from './file-tail.js';
import { type FinishedFiles, finishedStamp } from './finished-files.js';
import { parseRfc3339Nano } from '../../io/rfc3339.js';
import { GzipLineSource, gzipHead } from './gzip-source.js';
import { BufferPool, LineReader } from './line-reader.js';
import type { LogFile } from './log-discovery.js';
import type { LogResources } from './log-resources.js';

/**
 * The files being tailed: each opened where its checkpoint says (or at its end or start), keyed
 * by its path — a tail whose path now names another file is moved aside under its path and
 * dev:ino, to finish its own file — and the dev:ino of every file a tail holds, so no file is
 * ever tailed twice (it would be read again from its checkpoint, behind the acks).
 */

/** Reader buffers: big enough that a Docker json line (16 KiB of log, escaped) is one piece. */
const BUFFER_BYTES = 256 * 1024;
/**
 * Bytes per read: the lines one read brings are parsed and offered in one go (about 10 ms of
 * work for 64 KiB of Docker json on a busy node), and a Docker directory's watch event waits
 * for that before its files are opened.
 */
const READ_BYTES = 64 * 1024;
/** How far back from a file's end the start of its last whole line is looked for (readFrom end). */
const TAIL_BACK_BYTES = 64 * 1024;

export interface TailSetOptions {
  readonly store: CheckpointStore;
  readonly finished: FinishedFiles;
  readonly resources: LogResources;
  readonly lines: TailLines;
  readonly problems: Counter;
  readonly logger: Logger;
  readonly maxRecordBytes: number;
  /** Bytes read per file per turn (fairness); default 1 MiB. */
  readonly maxBytesPerTurn: number | undefined;
}

export class TailSet {
  readonly #o: TailSetOptions;
  readonly #pool = new BufferPool(BUFFER_BYTES, 4);
  readonly #tails = new Map<string, FileTail>();
  /** dev:ino of every file a tail holds (a tail's key never changes: it is its descriptor's). */
  readonly #held = new Set<string>();

  constructor(options: TailSetOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#tails.size;
  }

  values(): IterableIterator<FileTail> {
    return this.#tails.values();
  }

  /** The tail of the live file at `path` (a tail moved aside is not found by its path alone). */
  get(path: string): FileTail | undefined {
    return this.#tails.get(path);
  }

  has(path: string): boolean {
    return this.#tails.has(path);
  }

  /** A tail holds the file with this dev:ino. */
  holds(key: string): boolean {
    return this.#held.has(key);
  }

  /**
   * Starts tailing `file`. Where from: its checkpoint when the store knows it; else its end when
   * `fromEnd` (present at the very first start, readFrom end); else its start. `resumeOnly`
   * opens a rotated file only to finish it from its checkpoint (after a restart: lines written
   * before the rotation while the agent was down); one the store does not know was read before
   * its entry was forgotten, or never will be (present at the first start).
   */
  async open(file: LogFile, fromEnd: boolean, rotated = false, resumeOnly = false): Promise<string | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(file.realPath, 'r');
    } catch (err) {
      // A name gone between the listing and the open was renamed or deleted, not unreadable.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.problems.inc({ kind: 'unreadable' });
      return undefined;
    }
    return this.start(file, fh, fromEnd, rotated, resumeOnly);
  }

  /**
   * `open` with the file already open (the descriptor is closed here unless a tail keeps it).
   * Returns the dev:ino of the file the descriptor is, tailed or not.
   */
  async start(file: LogFile, fh: FileHandle, fromEnd: boolean, rotated: boolean, resumeOnly: boolean): Promise<string | undefined> {
    const o = this.#o;
    try {
      const probe = await probeFile(fh);
      // The path may name another file by now than the scan (or the stat) saw: a runtime renames
      // at full speed. A file a tail holds, or a rotated one finished and unchanged, is not
      // opened a second time (it would be read again from its checkpoint, behind the acks).
      if (this.holds(probe.identity.key) || (rotated && o.finished.get(probe.identity.key) === (await finishedStamp(fh)))) {
        await fh.close();
        return probe.identity.key;
      }
      let identity: FileIdentity = probe.identity;
      const match = o.store.lookup(identity, probe.size, probe.head);
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
      } else if (match.kind === 'truncated') o.problems.inc({ kind: 'copytruncate' });
      else if (fromEnd) offset = await lineStartBefore(fh, probe.size);
      identity = extendIdentity(identity, probe);
      const t = new FileTail(o.lines, file, fh, o.resources.resourceFor(file), o.maxRecordBytes);
      t.resourceVersion = o.resources.version;
      t.joiner = o.resources.joinerFor(file, t.resource);
      t.checkpoint = o.store.open(identity, file.path, offset);
      t.reader = new LineReader(fh, identity, offset, t, { pool: this.#pool, maxBytesPerTurn: o.maxBytesPerTurn ?? 1024 * 1024, maxBytesPerRead: READ_BYTES });
      t.assembler.reset(offset);
      let key = rotated ? `${file.path}\u0000${identity.key}` : file.path;
      if (rotated) {
        t.rotated = true;
        // Never read before and renamed already: its container's runtime renamed it again before
        // the agent opened it at its live name (full-speed rotation on a stalled agent).
        if (file.format === 'cri' && offset === 0 && match.kind === 'unknown') key = (await this.#placeMissed(t, file)) ?? key;
      } else {
        // The live name's previous file (renamed away: this one took the name after it was
        // opened) is finished under a key of its own.
        const old = this.#tails.get(file.path);
        if (old !== undefined) {
          old.rotated = true;
          this.#tails.delete(file.path);
          this.#tails.set(`${file.path}\u0000${old.reader.identity.key}`, old);
          // Container logs: a record the old file ends in the middle of goes on in this one.
          if (file.format !== 'plain' && !old.done) {
            t.predecessor = old;
            old.successor = t;
          }
        }
      }
      this.#tails.set(key, t);
      this.#held.add(identity.key);
      return identity.key;
    } catch (err) {
      o.problems.inc({ kind: 'unreadable' });
      o.logger.debug({ path: file.path, err: (err as Error).message }, 'cannot open log file');
      await fh.close().catch(() => undefined);
      return undefined;
    }
  }

  /**
   * Puts `t`, a rotated CRI file no tail held at its live name, in its container's chain of files
   * (predecessor → successor), so a record it ends mid-way goes on in the file after it. The
   * live name's tail is either the live file, which came after this one (it goes just before it,
   * unless that one has read something already), or an older file renamed away too (this one
   * takes the live name's place until the live file is opened: the key returned).
   */
  async #placeMissed(t: FileTail, file: LogFile): Promise<string | undefined> {
    const m = ROTATED_CRI_NAME.exec(file.path);
    if (m === null) return undefined;
    const live = file.path.slice(0, m.index);
    const cur = this.#tails.get(live);
    if (cur === undefined || cur.done) return undefined;
    if (await pathNames(cur.file.realPath, cur.reader.identity.key)) {
      if (cur.reader.position !== 0) return undefined;
      const before = cur.predecessor;
      if (before !== undefined) {
        before.successor = t;
        t.predecessor = before;
      }
      t.successor = cur;
      cur.predecessor = t;
      return undefined;
    }
    cur.rotated = true;
    this.#tails.delete(live);
    this.#tails.set(`${live}\u0000${cur.reader.identity.key}`, cur);
    t.predecessor = cur;
    cur.successor = t;
    return live;
  }

  /**
   * A gzipped rotated file: tailed from the checkpoint of the file it was compressed from, when
   * the store holds one that was not finished (the agent was behind, or down, when the runtime
   * compressed it). A `.gz` no checkpoint knows is read from its start only when `unknownAfter`
   * (epoch ms: when the previous run last recorded its state) is given and its first line is
   * newer: its original appeared after that, so none of its lines was made durable. Otherwise it
   * is marked finished and not read. Returns its dev:ino.
   */
  async openCompressed(file: LogFile, unknownAfter?: number): Promise<string | undefined> {
    const o = this.#o;
    let fh: FileHandle;
    try {
      fh = await open(file.realPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.problems.inc({ kind: 'unreadable' });
      return undefined;
    }
    try {
      const st = await fh.stat({ bigint: true });
      const key = `${st.dev}:${st.ino}`;
      const stamp = `${st.size}:${st.mtimeNs}`;
      if (this.holds(key) || o.finished.get(key) === stamp) {
        await fh.close();
        return key;
      }
      const head = await gzipHead(fh);
      const origin = head === undefined ? undefined : o.store.findCompressedOrigin(path.dirname(file.path), head, (k) => this.holds(k));
      let identity: FileIdentity;
      let offset: number;
      let checkpointPath: string;
      if (origin?.resumable === true) {
        identity = { key: origin.entry.key, headLength: origin.entry.headLength, headHash: origin.entry.headHash };
        offset = origin.entry.offset;
        checkpointPath = origin.entry.path;
      } else if (origin === undefined && head !== undefined && unknownAfter !== undefined && (firstLineMs(head) ?? 0) > unknownAfter) {
        identity = makeIdentity(st.dev, st.ino, head);
        offset = 0;
        checkpointPath = file.path;
      } else {
        o.finished.set(key, stamp);
        await fh.close();
        return key;
      }
      o.problems.inc({ kind: 'compressed_resume' });
      const t = new FileTail(o.lines, file, fh, o.resources.resourceFor(file), o.maxRecordBytes);
      t.resourceVersion = o.resources.version;
      t.joiner = o.resources.joinerFor(file, t.resource);
      t.checkpoint = o.store.open(identity, checkpointPath, offset);
      const source = new GzipLineSource(fh);
      t.compressed = { key, source };
      t.reader = new LineReader(source, identity, offset, t, { pool: this.#pool, maxBytesPerTurn: o.maxBytesPerTurn ?? 1024 * 1024, maxBytesPerRead: READ_BYTES });
      t.assembler.reset(offset);
      t.rotated = true;
      this.#tails.set(`${file.path}\u0000${key}`, t);
      this.#held.add(identity.key);
      this.#held.add(key);
      o.logger.info({ path: file.path, offset }, 'reading a compressed rotated log the agent was behind on when it was compressed');
      return key;
    } catch (err) {
      o.problems.inc({ kind: 'unreadable' });
      o.logger.debug({ path: file.path, err: (err as Error).message }, 'cannot open compressed log file');
      await fh.close().catch(() => undefined);
      return undefined;
    }
  }

  /** Stops tailing `t` and closes its file; `gone`: the file is read to its end, its checkpoint released. */
  async close(t: FileTail, gone: boolean): Promise<void> {
    if (t.done) return;
    t.done = true;
    for (const [k, v] of this.#tails) if (v === t) this.#tails.delete(k);
    this.#held.delete(t.reader.identity.key);
    if (t.compressed !== undefined) {
      this.#held.delete(t.compressed.key);
      if (t.compressed.source.damaged) this.#o.problems.inc({ kind: 'compressed_damaged' });
      t.compressed.source.close();
    }
    if (gone) this.#o.store.release(t.checkpoint);
    await t.fh.close().catch(() => undefined);
  }
}

/**
 * The time of a container log's first line, in epoch ms, from its first bytes: the CRI line's
 * leading RFC 3339 timestamp, or a Docker json-file line's `"time"`; undefined for anything else.
 */
export function firstLineMs(head: Uint8Array): number | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  const sp = text.indexOf(' ');
  let ns = sp > 0 ? parseRfc3339Nano(text, 0, sp) : undefined;
  if (ns === undefined) {
    const m = /"time":"([^"]+)"/.exec(text);
    if (m !== null) ns = parseRfc3339Nano(m[1]!);
  }
  return ns === undefined ? undefined : Number(ns / 1_000_000n);
}

/** kubelet's name for a rotated CRI log: `<n>.log.<YYYYMMDD-HHMMSS>`. */
const ROTATED_CRI_NAME = /\.\d{8}-\d{6}$/;

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
