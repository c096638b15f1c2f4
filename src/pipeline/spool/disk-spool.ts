import { type FileHandle, mkdir, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AckTarget } from '../../model/log.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import { CURSOR_FILE, readCursor, type SpoolPosition, writeCursor } from './spool-cursor.js';
import { countScanProblem, createSpoolMetrics, type SpoolMetrics } from './spool-metrics.js';
import {
  decodeRecordHeader,
  encodeRecordHeader,
  encodeSegmentHeader,
  MAX_RECORD_PAYLOAD,
  RECORD_HEADER_BYTES,
  recordChecksumOk,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  segmentSeq,
  type SpoolEncoding,
  type SpoolSignal,
} from './segment-format.js';
import { readFully, ScanBuffer, scanSegment } from './segment-scan.js';

/**
 * The disk spool: encoded export requests the endpoint could not take yet, in segment files
 * under `<stateDir>/spool/`, sent again oldest first. Bounded by `maxBytes` on disk; when full it
 * refuses (the caller keeps its records: logs wait in their files, metrics drop oldest), and it
 * never deletes undelivered data to make room.
 *
 * Durability: a record is appended (one writev of header and payload), and the active segment is
 * fdatasync'ed every `syncIntervalMs`; the acknowledgements that came with a record (log
 * checkpoints) are settled only once a sync covers it, so a checkpoint never passes a line that
 * is not on disk. A new segment's header is synced with its directory before any record goes in.
 *
 * Delivery: `next()` hands out the oldest record not yet handed out (loaded ahead, one at a
 * time), `done()` says what became of it. The cursor (`cursor.json`) is the first record not
 * delivered; a segment wholly behind it is deleted. Recovery at `open`: every segment is
 * checked record by record and cut at the first bad one; the cursor says where to resume.
 *
 * Nothing here throws at its caller after `open`: I/O errors are counted and logged, a write
 * that failed returns false (the batch stays with the caller), a record that fails its checksum
 * when read back is skipped with the rest of its segment.
 */

/**
 * The acknowledgements a spooled request carries, as runs: a batch holds thousands of records
 * from a few files, each file's with consecutive tokens (a checkpoint's sequence numbers), and
 * the list lives until the next sync — long enough to reach V8's old space, where anything of a
 * batch's length (an array, a typed array's buffer) would stay until a full collection.
 */
export interface AckList {
  /** Run r settles tokens firsts[r] … firsts[r] + counts[r] − 1 of targets[r]. */
  readonly targets: readonly AckTarget[];
  readonly firsts: readonly number[];
  readonly counts: readonly number[];
}

export interface SpoolAppend {
  readonly signal: SpoolSignal;
  readonly encoding: SpoolEncoding;
  /** Records in the request (counters only). */
  readonly items: number;
  readonly payload: Uint8Array;
  /** The request's size before compression (counters only); the payload's own size by default. */
  readonly rawBytes?: number | undefined;
  /** Settled with `ok` true once the record is durable. */
  readonly acks?: AckList | undefined;
}

/** One spooled request, read back for sending. */
export interface SpooledBatch {
  readonly signal: SpoolSignal;
  readonly encoding: SpoolEncoding;
  readonly items: number;
  /** The request's size before compression. */
  readonly rawBytes: number;
  /** Valid until `done()`: its memory is reused for a later batch. */
  readonly payload: Buffer;
  /** @internal The pooled buffer `payload` is a view of (undefined: the writer's own bytes, kept in memory). */
  readonly backing: Buffer | undefined;
}

export interface DiskSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** fdatasync interval: the most a crash can lose of what was spooled, and the ack delay. */
  readonly syncIntervalMs: number;
  /** Size at which a segment is closed and the next begun (default: maxBytes / 16 within 1–32 MiB). */
  readonly segmentBytes?: number | undefined;
  readonly logger: Logger;
  readonly registry: Registry;
}

const MiB = 1024 * 1024;
/** Read buffers kept for reuse: the recent copy, one loaded ahead and the requests in flight. */
const POOLED_READ_BUFFERS = 4;
/**
 * The newest records' payloads are also kept in memory, up to this many bytes: when the endpoint
 * is merely slower than the sources, a record is sent again soon after it was written, and
 * reading it back (and checking it) would cost as much as writing it (measured on the logs
 * bench: 0.3 s of CPU per 200 MB). Disk stays the record of truth; memory is only a shortcut.
 */
const RECENT_BYTES = 2 * MiB;
/** After a failed write (a full disk), appends are refused this long before the next try. */
const WRITE_RETRY_MS = 1_000;
/** The cursor is written at most this often (it is a state file: temp, fsync, rename). */
const CURSOR_WRITE_MS = 1_000;

interface Segment {
  readonly seq: number;
  readonly file: string;
  /** Logical end: header plus every record written (or being written) to it. */
  size: number;
  /** End of the writes that completed. */
  written: number;
  /** End of what an fdatasync has covered. */
  synced: number;
  /** Open for appending (the active segment only). */
  fh: FileHandle | undefined;
  /** Closed for appending: no record will be added. */
  sealed: boolean;
  /** Records not yet delivered (for the gauge). */
  undelivered: number;
}

interface PendingAcks {
  readonly seg: Segment;
  readonly end: number;
  readonly acks: AckList;
}

interface InFlight {
  readonly batch: SpooledBatch | undefined;
  readonly seg: Segment;
  readonly end: number;
  done: boolean;
  delivered: boolean;
}

export class DiskSpool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #segmentBytes: number;
  readonly #syncIntervalMs: number;
  readonly #logger: Logger;
  readonly #m: SpoolMetrics;
  readonly #segments: Segment[] = [];
  #active: Segment | undefined;
  #lastSeq = 0;
  /** Bytes on disk (segment sizes), and bytes promised to appends still queued. */
  #bytes = 0;
  #reserved = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #unsynced: PendingAcks[] = [];
  #syncQueued = false;
  #blockedUntil = 0;
  /** The next record to load for sending. */
  #readSeg: Segment | undefined;
  #readOffset = 0;
  #loaded: SpooledBatch | undefined;
  #loadedEnd = 0;
  #loadedSeg: Segment | undefined;
  #loading = false;
  readonly #inflight: InFlight[] = [];
  #cursor: SpoolPosition;
  #cursorDirty = false;
  #cursorWrittenAt = 0;
  /** Set at shutdown by a batch handed back undelivered: the cursor stays before it. */
  #cursorFrozen = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #onReady: (() => void) | undefined;
  readonly #disabled: boolean;
  readonly #rh = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  /** The segment being read back, and the descriptor it is read through (not the writer's: that one closes when the segment is sealed). */
  #readFh: { seg: Segment; fh: FileHandle } | undefined;
  /** Payload buffers given back by `done()`, reused: a replayed request allocates nothing. */
  readonly #free: Buffer[] = [];
  /** The newest records' payloads by `<seq>:<offset>`, while they fit in RECENT_BYTES. */
  readonly #recent = new Map<string, SpooledBatch>();
  #recentBytes = 0;

  private constructor(options: DiskSpoolOptions, disabled: boolean) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#segmentBytes = options.segmentBytes ?? Math.min(32 * MiB, Math.max(1 * MiB, Math.floor(options.maxBytes / 16)));
    this.#syncIntervalMs = options.syncIntervalMs;
    this.#logger = options.logger.child({ component: 'spool' });
    this.#m = createSpoolMetrics(options.registry);
    this.#disabled = disabled;
    this.#cursor = { seq: 0, offset: SEGMENT_HEADER_BYTES };
    const r = options.registry;
    r.gauge('sextant_spool_bytes', 'Bytes the disk spool holds on disk (delivered segments are deleted).').collect(() => this.#bytes);
    r.gauge('sextant_spool_capacity_bytes', 'The disk spool bound (buffer.disk.maxBytes).').set(options.maxBytes);
    r.gauge('sextant_spool_batches', 'Spooled export requests not yet delivered.').collect(() => this.undeliveredBatches);
  }

  /**
   * Opens the spool directory and recovers what it holds. Never throws: a directory that cannot
   * be used gives a spool that refuses every append (logged once), and the agent runs on with its
   * files as the buffer.
   */
  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    let names: string[];
    try {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      names = await readdir(options.dir);
    } catch (err) {
      const s = new DiskSpool(options, true);
      s.#logger.warn({ dir: options.dir, err: (err as Error).message }, 'disk spool unusable; running without it (log files stay the only buffer)');
      return s;
    }
    const s = new DiskSpool(options, false);
    await s.#recover(names);
    s.#timer = setInterval(() => s.#tick(), options.syncIntervalMs);
    s.#timer.unref();
    s.#load();
    return s;
  }

  /** Bytes on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records written and not yet delivered, or being sent: replay them before anything newer. */
  get pending(): boolean {
    if (this.#disabled) return false;
    if (this.#loaded !== undefined || this.#inflight.length > 0) return true;
    const last = this.#segments.at(-1);
    const seg = this.#readSeg;
    if (last === undefined || seg === undefined) return false;
    return seg !== last || this.#readOffset < last.written || this.#reserved > 0;
  }

  get undeliveredBatches(): number {
    let n = 0;
    for (const s of this.#segments) n += s.undelivered;
    return n;
  }

  /** Whether a record of `payloadBytes` would be taken now (room on disk, not failing). */
  hasRoom(payloadBytes: number): boolean {
    if (this.#disabled || this.#closed) return false;
    if (performance.now() < this.#blockedUntil) return false;
    // A new segment's header may be needed too.
    return this.#bytes + this.#reserved + RECORD_HEADER_BYTES + SEGMENT_HEADER_BYTES + payloadBytes <= this.maxBytes;
  }

  /** Counts a batch refused for lack of room (the caller decided not to spill it). */
  noteRefused(): void {
    this.#m.refused.inc();
  }

  /** Called when `next()` may have something new to hand out. */
  onReady(fn: () => void): void {
    this.#onReady = fn;
  }

  /**
   * Appends one request. Resolves true once written (its acks follow at the next sync), false
   * when it was not written — no room, the spool closed, or a write error — and the caller
   * keeps the batch. Either way the spool keeps no reference to `payload` once this resolves.
   */
  append(a: SpoolAppend): Promise<boolean> {
    const n = a.payload.byteLength;
    if (n > MAX_RECORD_PAYLOAD || !this.hasRoom(n)) return Promise.resolve(false);
    const need = RECORD_HEADER_BYTES + n;
    this.#reserved += need;
    return this.#serial(async () => {
      try {
        return await this.#write(a, need);
      } finally {
        this.#reserved -= need;
        // A delivered segment waits for no append in flight before it is deleted: look again
        // now (a failed append leaves no record whose delivery would).
        if (this.#reserved === 0) this.#advance();
      }
    });
  }

  /** The oldest spooled request not handed out yet, when it is loaded; undefined otherwise (`onReady` follows). */
  next(): SpooledBatch | undefined {
    const b = this.#loaded;
    if (b === undefined) {
      this.#load();
      return undefined;
    }
    this.#inflight.push({ batch: b, seg: this.#loadedSeg!, end: this.#loadedEnd, done: false, delivered: false });
    this.#loaded = undefined;
    this.#loadedSeg = undefined;
    this.#load();
    return b;
  }

  /**
   * What became of a batch from `next()`: `delivered` when the endpoint took it (or refused it
   * for good: sending it again would not help); false when it was given up at shutdown, so it
   * is sent again after the restart.
   */
  done(batch: SpooledBatch, delivered: boolean): void {
    const e = this.#inflight.find((x) => x.batch === batch && !x.done);
    if (e === undefined) return;
    if (batch.backing !== undefined && this.#free.length < POOLED_READ_BUFFERS) this.#free.push(batch.backing);
    e.done = true;
    e.delivered = delivered;
    if (delivered) this.#m.replayed[batch.signal].inc();
    this.#advance();
  }

  /** Final sync (settling what it covers), cursor write, descriptors closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#disabled) return;
    await this.#serial(() => this.#sync());
    await this.#writeCursor(true);
    await this.#readFh?.fh.close().catch(() => undefined);
    this.#readFh = undefined;
    const active = this.#active;
    if (active?.fh !== undefined) {
      await active.fh.close().catch(() => undefined);
      active.fh = undefined;
    }
  }

  // ------------------------------------------------------------------ writing

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #write(a: SpoolAppend, need: number): Promise<boolean> {
    if (this.#closed) return false;
    const n = a.payload.byteLength;
    let seg = this.#active;
    let start = 0;
    try {
      if (seg === undefined || (seg.size > SEGMENT_HEADER_BYTES && seg.size + need > this.#segmentBytes)) seg = await this.#rollover();
      start = seg.size;
      const header = encodeRecordHeader(Buffer.allocUnsafe(RECORD_HEADER_BYTES), a.signal, a.encoding, a.items, a.payload, a.rawBytes ?? n);
      seg.size = start + need;
      this.#bytes += need;
      await writevFully(seg.fh!, [header, a.payload], start);
      seg.written = seg.size;
      seg.undelivered++;
      if (this.#recentBytes + n <= RECENT_BYTES) {
        // A copy in a pooled read buffer: the caller may reuse its payload's memory once this
        // returns, and the copy goes back to the pool when the batch is done, as one read back does.
        const backing = this.#buffer(n);
        const payload = backing.subarray(0, n);
        payload.set(a.payload);
        this.#recent.set(`${seg.seq}:${start}`, { signal: a.signal, encoding: a.encoding, items: a.items, rawBytes: a.rawBytes ?? n, payload, backing });
        this.#recentBytes += n;
      }
      if (a.acks !== undefined && a.acks.targets.length > 0) this.#unsynced.push({ seg, end: seg.size, acks: a.acks });
      this.#m.written[a.signal].inc();
      this.#m.writtenBytes.inc(need);
      if (this.#loaded === undefined) this.#load();
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      this.#m.writeErrors.inc({ code });
      this.#blockedUntil = performance.now() + WRITE_RETRY_MS;
      if (seg !== undefined && seg.size > start && start > 0) {
        // Take back the partial record so the segment ends on a whole one.
        this.#bytes -= seg.size - start;
        seg.size = start;
        seg.written = Math.min(seg.written, start);
        await seg.fh?.truncate(start).catch(() => this.#seal(seg!));
      }
      this.#logWriteError(code, err);
      return false;
    }
  }

  #writeErrorsLogged = 0;
  #logWriteError(code: string, err: unknown): void {
    // A full disk fails every second until room comes back: log the first and then every 60th.
    if (this.#writeErrorsLogged++ % 60 === 0) {
      this.#logger.warn({ code, err: (err as Error).message, dir: this.dir }, 'disk spool write failed; batches go straight to the endpoint meanwhile');
    }
  }

  /** Closes the active segment for appending and starts the next one. */
  async #rollover(): Promise<Segment> {
    const old = this.#active;
    if (old !== undefined) await this.#seal(old);
    const seq = ++this.#lastSeq;
    const file = path.join(this.dir, segmentFileName(seq));
    const fh = await open(file, 'w', 0o600);
    try {
      const header = encodeSegmentHeader(seq);
      await writevFully(fh, [header], 0);
      await fh.sync();
      await syncDir(this.dir);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(file, { force: true }).catch(() => undefined);
      throw err;
    }
    const seg: Segment = { seq, file, size: SEGMENT_HEADER_BYTES, written: SEGMENT_HEADER_BYTES, synced: SEGMENT_HEADER_BYTES, fh, sealed: false, undelivered: 0 };
    this.#segments.push(seg);
    this.#bytes += SEGMENT_HEADER_BYTES;
    this.#active = seg;
    if (this.#readSeg === undefined) {
      this.#readSeg = seg;
      this.#readOffset = SEGMENT_HEADER_BYTES;
    }
    return seg;
  }

  /** No more records for `seg`: sync what it holds, settle those acks, close its descriptor. */
  async #seal(seg: Segment): Promise<void> {
    if (seg.sealed) return;
    seg.sealed = true;
    if (this.#active === seg) this.#active = undefined;
    const fh = seg.fh;
    seg.fh = undefined;
    if (fh === undefined) return;
    try {
      if (seg.synced < seg.written) {
        await fh.datasync();
        this.#m.syncs.inc();
        seg.synced = seg.written;
      }
    } catch (err) {
      this.#m.writeErrors.inc({ code: (err as NodeJS.ErrnoException).code ?? 'EIO' });
    } finally {
      await fh.close().catch(() => undefined);
    }
    this.#settleAcks();
    // A sealed segment the reader has passed entirely may be deleted now.
    this.#advance();
  }

  #tick(): void {
    if (!this.#syncQueued && this.#active !== undefined && this.#active.synced < this.#active.written) {
      this.#syncQueued = true;
      void this.#serial(async () => {
        this.#syncQueued = false;
        await this.#sync();
      });
    }
    void this.#writeCursor(false);
  }

  async #sync(): Promise<void> {
    const seg = this.#active;
    if (seg?.fh !== undefined && seg.synced < seg.written) {
      const upTo = seg.written;
      try {
        await seg.fh.datasync();
        this.#m.syncs.inc();
        seg.synced = upTo;
      } catch (err) {
        this.#m.writeErrors.inc({ code: (err as NodeJS.ErrnoException).code ?? 'EIO' });
      }
    }
    this.#settleAcks();
  }

  /** Settles, in order, the acks of every record a sync has covered. */
  #settleAcks(): void {
    let i = 0;
    const list = this.#unsynced;
    while (i < list.length && list[i]!.seg.synced >= list[i]!.end) {
      const { targets, firsts, counts } = list[i]!.acks;
      for (let r = 0; r < targets.length; r++) {
        const target = targets[r]!;
        const first = firsts[r]!;
        for (let t = first, end = first + counts[r]!; t < end; t++) target.settle(t, true);
      }
      i++;
    }
    if (i > 0) list.splice(0, i);
  }

  // ------------------------------------------------------------------ reading back

  /** Loads the next record to send, if there is one and nothing is loaded. */
  #load(): void {
    if (this.#loading || this.#loaded !== undefined || this.#disabled || this.#closed) return;
    const seg = this.#readSeg;
    if (seg === undefined) return;
    if (this.#readOffset >= seg.written) {
      if (!seg.sealed || seg.written < seg.size) return; // the writer will add more (or a write is landing)
      const next = this.#segments[this.#segments.indexOf(seg) + 1];
      if (next === undefined) return;
      this.#readSeg = next;
      this.#readOffset = SEGMENT_HEADER_BYTES;
      this.#load();
      return;
    }
    const recent = this.#recent.get(`${seg.seq}:${this.#readOffset}`);
    if (recent !== undefined) {
      this.#recent.delete(`${seg.seq}:${this.#readOffset}`);
      this.#recentBytes -= recent.payload.byteLength;
      this.#loaded = recent;
      this.#loadedSeg = seg;
      this.#loadedEnd = this.#readOffset + RECORD_HEADER_BYTES + recent.payload.byteLength;
      this.#readOffset = this.#loadedEnd;
      this.#onReady?.();
      return;
    }
    this.#loading = true;
    void this.#read(seg, this.#readOffset).then((r) => {
      this.#loading = false;
      if (this.#closed) return;
      if (r === 'bad') {
        // The rest of this segment cannot be trusted: skip it (counted), as if delivered.
        this.#m.corrupt.inc({ reason: 'checksum' });
        this.#logger.warn({ segment: seg.file, offset: this.#readOffset }, 'disk spool record failed its checksum when read back; skipping the rest of its segment');
        const end = seg.sealed ? seg.size : seg.written;
        for (const [k, b] of this.#recent) {
          if (!k.startsWith(`${seg.seq}:`)) continue;
          this.#recent.delete(k);
          this.#recentBytes -= b.payload.byteLength;
          if (b.backing !== undefined && this.#free.length < POOLED_READ_BUFFERS) this.#free.push(b.backing);
        }
        this.#inflight.push({ batch: undefined, seg, end, done: true, delivered: true });
        seg.undelivered = 0;
        this.#readOffset = end;
        if (!seg.sealed) void this.#serial(() => this.#seal(seg));
        this.#advance();
      } else {
        this.#loaded = r.batch;
        this.#loadedSeg = seg;
        this.#loadedEnd = r.end;
        this.#readOffset = r.end;
      }
      this.#onReady?.();
      if (r === 'bad') this.#load();
    });
  }

  async #read(seg: Segment, offset: number): Promise<{ batch: SpooledBatch; end: number } | 'bad'> {
    try {
      let r = this.#readFh;
      if (r === undefined || r.seg !== seg) {
        await r?.fh.close().catch(() => undefined);
        this.#readFh = undefined;
        r = { seg, fh: await open(seg.file, 'r') };
        this.#readFh = r;
      }
      const fh = r.fh;
      const rh = this.#rh;
      await readFully(fh, rh, RECORD_HEADER_BYTES, offset);
      const h = decodeRecordHeader(rh);
      const limit = seg.sealed ? seg.size : seg.written;
      if (h.signal === undefined || h.encoding === undefined || h.length > MAX_RECORD_PAYLOAD || offset + RECORD_HEADER_BYTES + h.length > limit) return 'bad';
      const backing = this.#buffer(h.length);
      const payload = backing.subarray(0, h.length);
      await readFully(fh, payload, h.length, offset + RECORD_HEADER_BYTES);
      if (!recordChecksumOk(rh, 0, payload)) {
        this.#free.push(backing);
        return 'bad';
      }
      return { batch: { signal: h.signal, encoding: h.encoding, items: h.items, rawBytes: h.rawBytes, payload, backing }, end: offset + RECORD_HEADER_BYTES + h.length };
    } catch {
      return 'bad';
    }
  }

  /** A buffer of at least `n` bytes: a pooled one when one is large enough. */
  #buffer(n: number): Buffer {
    for (let i = 0; i < this.#free.length; i++) {
      const b = this.#free[i]!;
      if (b.length >= n) {
        this.#free.splice(i, 1);
        return b;
      }
    }
    // Rounded up a little so one buffer serves the batches that follow (most are near the batch byte cap).
    return Buffer.allocUnsafeSlow(Math.ceil((n * 9) / 8 / 4096) * 4096);
  }

  /** Moves the cursor over the delivered prefix and deletes the segments wholly behind it. */
  #advance(): void {
    const q = this.#inflight;
    while (q.length > 0 && q[0]!.done && !this.#cursorFrozen) {
      const e = q[0]!;
      if (!e.delivered) {
        this.#cursorFrozen = true;
        break;
      }
      q.shift();
      if (e.batch !== undefined) e.seg.undelivered = Math.max(0, e.seg.undelivered - 1);
      this.#cursor = { seq: e.seg.seq, offset: e.end };
      this.#cursorDirty = true;
    }
    if (this.#cursorFrozen) return;
    // Delete every segment the cursor has passed: sealed and delivered to its end.
    while (this.#segments.length > 0) {
      const s = this.#segments[0]!;
      const passed = s.seq < this.#cursor.seq || (s.seq === this.#cursor.seq && this.#cursor.offset >= s.size);
      if (!passed || (this.#readSeg === s && this.#readOffset < s.size)) break;
      if (!s.sealed) {
        // The active segment, wholly delivered: close it and let the next append start a new one.
        if (this.#reserved > 0 || s.written < s.size) break;
        void this.#serial(async () => {
          if (this.#active === s && s.written === s.size && this.#reserved === 0 && !this.#closed) {
            await this.#seal(s);
          }
        });
        break;
      }
      this.#segments.shift();
      this.#bytes -= s.size;
      if (this.#readFh?.seg === s) {
        void this.#readFh.fh.close().catch(() => undefined);
        this.#readFh = undefined;
      }
      if (this.#readSeg === s) {
        this.#readSeg = this.#segments[0];
        this.#readOffset = SEGMENT_HEADER_BYTES;
      }
      void rm(s.file, { force: true }).catch(() => undefined);
      const next = this.#segments[0];
      this.#cursor = next === undefined ? { seq: s.seq + 1, offset: SEGMENT_HEADER_BYTES } : { seq: next.seq, offset: SEGMENT_HEADER_BYTES };
      this.#cursorDirty = true;
    }
  }

  async #writeCursor(force: boolean): Promise<void> {
    if (!this.#cursorDirty || this.#disabled) return;
    const now = performance.now();
    if (!force && now - this.#cursorWrittenAt < CURSOR_WRITE_MS) return;
    this.#cursorDirty = false;
    this.#cursorWrittenAt = now;
    try {
      await writeCursor(path.join(this.dir, CURSOR_FILE), this.#cursor);
    } catch (err) {
      this.#cursorDirty = true;
      this.#m.writeErrors.inc({ code: (err as NodeJS.ErrnoException).code ?? 'EIO' });
    }
  }

  // ------------------------------------------------------------------ recovery

  async #recover(names: string[]): Promise<void> {
    const cursor = await readCursor(path.join(this.dir, CURSOR_FILE));
    const seqs = names.map((n) => segmentSeq(n)).filter((s): s is number => s !== undefined).sort((a, b) => a - b);
    const scratch = new ScanBuffer();
    for (const seq of seqs) {
      const file = path.join(this.dir, segmentFileName(seq));
      this.#lastSeq = Math.max(this.#lastSeq, seq);
      if (cursor !== undefined && seq < cursor.seq) {
        // Delivered before the last cursor write.
        await rm(file, { force: true }).catch(() => undefined);
        continue;
      }
      const scan = await scanSegment(file, scratch);
      if (scan.problem !== undefined) {
        countScanProblem(this.#m, scan.problem);
        this.#logger.warn({ segment: file, problem: scan.problem, cutBytes: scan.cutBytes, recordsKept: scan.records }, 'disk spool segment damaged; cut at its last good record');
      }
      if (scan.problem === 'unreadable' || scan.seq === undefined) continue;
      if (scan.seq !== seq) {
        countScanProblem(this.#m, 'header');
        await rm(file, { force: true }).catch(() => undefined);
        continue;
      }
      if (scan.records === 0) {
        await rm(file, { force: true }).catch(() => undefined);
        continue;
      }
      const seg: Segment = { seq, file, size: scan.size, written: scan.size, synced: scan.size, fh: undefined, sealed: true, undelivered: scan.records };
      this.#segments.push(seg);
      this.#bytes += scan.size;
    }
    if (cursor !== undefined) this.#lastSeq = Math.max(this.#lastSeq, cursor.seq);
    const first = this.#segments[0];
    if (first !== undefined) {
      this.#readSeg = first;
      this.#readOffset = SEGMENT_HEADER_BYTES;
      if (cursor !== undefined && cursor.seq === first.seq) {
        this.#readOffset = Math.min(Math.max(cursor.offset, SEGMENT_HEADER_BYTES), first.size);
        if (this.#readOffset > SEGMENT_HEADER_BYTES) first.undelivered = await countRecords(first.file, this.#readOffset, first.size);
      }
      this.#cursor = { seq: first.seq, offset: this.#readOffset };
      this.#logger.info({ dir: this.dir, segments: this.#segments.length, bytes: this.#bytes, batches: this.undeliveredBatches }, 'disk spool holds undelivered batches; sending them first');
    } else {
      this.#cursor = { seq: this.#lastSeq + 1, offset: SEGMENT_HEADER_BYTES };
    }
  }
}

/** Records in `file` from `from` to `to` (headers only; the scan already checked them). */
async function countRecords(file: string, from: number, to: number): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const rh = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    let n = 0;
    for (let pos = from; pos + RECORD_HEADER_BYTES <= to; n++) {
      await readFully(fh, rh, RECORD_HEADER_BYTES, pos);
      pos += RECORD_HEADER_BYTES + rh.readUInt32LE(0);
    }
    return n;
  } finally {
    await fh.close();
  }
}

async function writevFully(fh: FileHandle, bufs: Uint8Array[], position: number): Promise<void> {
  let pos = position;
  let parts = bufs;
  for (;;) {
    const total = parts.reduce((s, b) => s + b.byteLength, 0);
    const { bytesWritten } = await fh.writev(parts, pos);
    if (bytesWritten >= total) return;
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    pos += bytesWritten;
    // A short write (a nearly full disk): continue with what is left.
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const b of parts) {
      if (skip >= b.byteLength) {
        skip -= b.byteLength;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    parts = rest;
  }
}

async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
