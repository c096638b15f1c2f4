import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FILE,
  CheckpointStore,
  decodeCheckpoints,
  encodeCheckpoints,
  type CheckpointEntry,
} from '../../../../src/sources/logs/checkpoint-store.js';
import { makeIdentity } from '../../../../src/sources/logs/file-identity.js';
import { silentLogger, type Logger } from '../../../../src/self/logger.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sextant-ckpt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const head = Buffer.from('2024-01-01T00:00:00.000000000Z stdout F hello\n');
const ident = (ino: number) => makeIdentity(2049, ino, head);

/** A logger that counts warn lines (pino-shaped enough for the store). */
function countingLogger(): Logger & { warns: number } {
  const l = silentLogger() as Logger & { warns: number };
  l.warns = 0;
  l.warn = (() => {
    l.warns++;
  }) as Logger['warn'];
  return l;
}

const store = (opts: Partial<ConstructorParameters<typeof CheckpointStore>[0]> = {}) =>
  new CheckpointStore({ dir, logger: silentLogger(), ...opts });

describe('FileCheckpoint acks', () => {
  it('advances to the highest offset below which every record is acked, acks in any order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.infiniteStream(fc.nat()), (n, rnd) => {
        const s = store();
        const f = s.open(ident(1), '/x', 0);
        const tokens: number[] = [];
        for (let i = 1; i <= n; i++) tokens.push(f.track(i * 10));
        const order = tokens.slice();
        const it = rnd[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const acked = new Set<number>();
        for (const t of order) {
          f.settle(t, true);
          acked.add(t);
          let k = 0;
          while (acked.has(tokens[k]!)) k++;
          expect(f.committed).toBe(k * 10);
        }
        expect(f.pending).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('grows its ring up to maxPendingPerFile, then refuses (-1) until acks make room', () => {
    const s = store({ maxPendingPerFile: 4096 });
    const f = s.open(ident(1), '/x', 0);
    const tokens: number[] = [];
    for (let i = 1; i <= 4096; i++) tokens.push(f.track(i));
    expect(f.track(4097)).toBe(-1);
    f.settle(tokens[0]!, true);
    expect(f.committed).toBe(1);
    expect(f.track(4097)).toBeGreaterThanOrEqual(0);
    for (const t of tokens.slice(1).reverse()) f.settle(t, true);
    expect(f.committed).toBe(4096);
    expect(() => store({ maxPendingPerFile: 1000 })).toThrow(/maxPendingPerFile/);
  });

  it('skip() passes record-less bytes once everything before is acked; stale and unknown tokens are ignored', () => {
    const f = store().open(ident(1), '/x', 0);
    f.skip(5);
    expect(f.committed).toBe(5);
    const a = f.track(10);
    f.skip(12);
    const b = f.track(20);
    f.skip(25);
    f.settle(b, true);
    expect(f.committed).toBe(5);
    f.settle(a, false); // rejected for good still advances
    expect(f.committed).toBe(25);
    f.settle(a, true);
    f.settle(9999, true);
    expect(f.committed).toBe(25);
    const c = f.track(30);
    f.reset(ident(1), 0); // copytruncate: pending acks mean nothing now
    f.settle(c, true);
    expect(f.committed).toBe(0);
  });
});

describe('CheckpointStore persistence', () => {
  it('round-trips entries, keeps the previous file, resumes, and spots inode reuse and truncation', async () => {
    const s = store();
    const a = s.open(ident(1), '/var/log/pods/a/0.log', 0);
    a.settle(a.track(1234), true);
    await s.flush();
    a.settle(a.track(2000), true);
    const b = s.open(ident(2), '/var/log/pods/b/0.log', 50);
    s.release(b);
    await s.flush();
    expect(existsSync(path.join(dir, `${CHECKPOINT_FILE}.prev`))).toBe(true);

    const t = store();
    expect(await t.load()).toEqual({ source: 'main', entries: 2 });
    expect(t.lookup(ident(1), 5000, head)).toEqual({ kind: 'resume', offset: 2000 });
    expect(t.lookup(ident(1), 1000, head)).toEqual({ kind: 'truncated' });
    expect(t.lookup(ident(3), 5000, head)).toEqual({ kind: 'unknown' });
    const otherHead = Buffer.from('2025-05-05T00:00:00.000000000Z stderr F other\n');
    expect(t.lookup(ident(2), 5000, otherHead)).toEqual({ kind: 'inode-reused' });
    expect(t.lookup(ident(2), 5000, head)).toEqual({ kind: 'unknown' }); // the stale entry is gone
    // A head recorded short still matches the same file grown longer.
    const shortId = makeIdentity(2049, 9, head.subarray(0, 10));
    const u = store();
    u.open(shortId, '/s', 7);
    expect(u.lookup(ident(9), 5000, head)).toEqual({ kind: 'resume', offset: 7 });
  });

  it('the main file never goes missing while a write replaces it, and .prev holds the one before', async () => {
    const s = store();
    const a = s.open(ident(1), '/var/log/pods/a/0.log', 0);
    a.settle(a.track(10), true);
    await s.flush();
    // A reader polling between every step of 50 writes (each await of the write lets it run):
    // the kill test read the file in the moment a rename to .prev had left no main file.
    const main = path.join(dir, CHECKPOINT_FILE);
    let polls = 0;
    let missing = 0;
    let polling = true;
    const poll = (): void => {
      polls++;
      if (!existsSync(main)) missing++;
      if (polling) setImmediate(poll);
    };
    setImmediate(poll);
    for (let i = 1; i <= 50; i++) {
      a.settle(a.track(10 + i), true);
      await s.flush();
    }
    polling = false;
    expect(polls).toBeGreaterThan(100);
    expect(missing).toBe(0);
    const t = store();
    expect(await t.load()).toEqual({ source: 'main', entries: 1 });
    expect(t.lookup(ident(1), 5000, head)).toEqual({ kind: 'resume', offset: 60 });
    // .prev is the write before the last one, a file of its own (not the main file's inode).
    rmSync(main);
    const u = store();
    expect(await u.load()).toEqual({ source: 'prev', entries: 1 });
    expect(u.lookup(ident(1), 5000, head)).toEqual({ kind: 'resume', offset: 59 });
  });

  it('a torn main file at every byte position: load never throws and falls back to .prev', async () => {
    const s = store();
    const a = s.open(ident(1), '/var/log/a.log', 0);
    a.settle(a.track(100), true);
    await s.flush();
    a.settle(a.track(200), true);
    s.open(ident(2), '/var/log/b.log', 7);
    await s.flush();
    const main = path.join(dir, CHECKPOINT_FILE);
    const full = readFileSync(main);
    for (let k = 0; k <= full.length; k++) {
      writeFileSync(main, full.subarray(0, k));
      const logger = countingLogger();
      const t = new CheckpointStore({ dir, logger });
      const r = await t.load();
      if (k >= full.length - 1) {
        expect(r).toEqual({ source: 'main', entries: 2 });
      } else {
        expect(r).toEqual({ source: 'prev', entries: 1 });
        expect(t.lookup(ident(1), 1000, head)).toEqual({ kind: 'resume', offset: 100 });
        expect(logger.warns).toBe(k === 0 ? 1 : 1);
      }
    }
    // Without .prev: a fresh start with one log line.
    rmSync(path.join(dir, `${CHECKPOINT_FILE}.prev`));
    for (let k = 0; k < full.length - 1; k += 7) {
      writeFileSync(main, full.subarray(0, k));
      const logger = countingLogger();
      const r = await new CheckpointStore({ dir, logger }).load();
      expect(r).toEqual({ source: 'fresh', entries: 0 });
      expect(logger.warns).toBe(1);
    }
  });

  it('random corruption and garbage never throw and are never half-trusted', async () => {
    const entries: CheckpointEntry[] = [
      { key: '1:2', path: '/a', offset: 10, updatedAt: 1, headLength: 3, headHash: 'x', goneAt: 0 },
    ];
    const good = encodeCheckpoints(entries);
    expect(decodeCheckpoints(good).entries).toEqual(entries);
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const bytes = Buffer.from(good);
        bytes[pos] = bytes[pos]! ^ x;
        const r = decodeCheckpoints(bytes.toString('latin1'));
        if (r.entries !== undefined) expect(r.entries).toEqual(entries); // only a flip in ignorable whitespace could pass
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(() => decodeCheckpoints(s)).not.toThrow();
      }),
    );
    expect(decodeCheckpoints(good.replace('"version":1', '"version":2')).problem).toBe('version');
    writeFileSync(path.join(dir, CHECKPOINT_FILE), Buffer.from([0xff, 0xfe, 0, 1, 2]));
    expect((await store().load()).source).toBe('fresh');
  });

  it('forgets files gone longer than the retention, and caps the entry count', async () => {
    let now = 1_000_000;
    const s = store({ now: () => now, retentionMs: 1000, maxEntries: 3 });
    const gone = s.open(ident(1), '/gone', 10);
    s.release(gone);
    for (let i = 2; i <= 4; i++) s.open(ident(i), `/live${i}`, i);
    now += 2000;
    await s.flush();
    expect(s.entries().map((e) => e.key).sort()).toEqual(['2049:2', '2049:3', '2049:4']);
    now += 10;
    s.open(ident(5), '/live5', 5);
    s.release(s.open(ident(6), '/gone6', 6));
    await s.flush();
    // Over the cap, gone entries go first; a file being tailed right now is never forgotten.
    expect(s.entries().map((e) => e.key).sort()).toEqual(['2049:2', '2049:3', '2049:4', '2049:5']);
  });

  it('close() freezes offsets (shutdown discards do not advance) and writes once more', async () => {
    const s = store();
    const f = s.open(ident(1), '/x', 0);
    const t1 = f.track(10);
    const t2 = f.track(20);
    f.settle(t1, true);
    await s.close();
    f.settle(t2, false); // the pipeline discarding at shutdown
    expect(f.committed).toBe(10);
    const t = store();
    await t.load();
    expect(t.lookup(ident(1), 100, head)).toEqual({ kind: 'resume', offset: 10 });
  });

  it('a write that fails is counted, logged once and retried; it never throws', async () => {
    const logger = countingLogger();
    writeFileSync(path.join(dir, 'file'), '');
    const s = new CheckpointStore({ dir: path.join(dir, 'file', 'sub'), logger });
    s.open(ident(1), '/x', 1);
    await s.flush();
    await s.flush();
    expect(s.writeFailures).toBe(2);
    expect(logger.warns).toBe(1);
  });

  it('survives kill -9 at random moments: the state loads valid and never past what was acked', async () => {
    const child = path.join(import.meta.dirname, 'checkpoint-child.ts');
    const hook = path.join(import.meta.dirname, 'ts-resolve.mjs');
    let lastStart = 0;
    for (let round = 0; round < 8; round++) {
      const proc = spawn(process.execPath, ['--import', hook, child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      let maxAcked = 0;
      let started = false;
      const killAfter = 50 + Math.floor(Math.random() * 150);
      await new Promise<void>((resolve) => {
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          for (;;) {
            const nl = out.indexOf('\n');
            if (nl < 0) break;
            const line = out.slice(0, nl);
            out = out.slice(nl + 1);
            if (line.startsWith('start ')) {
              const [, source, off] = line.split(' ');
              const start = Number(off);
              // Each restart resumes from a valid state: from the file we wrote, never before the last run's start.
              if (round > 0) expect(source === 'main' || source === 'prev').toBe(true);
              expect(start).toBeGreaterThanOrEqual(lastStart);
              expect(start % 100).toBe(0);
              lastStart = start;
              started = true;
              setTimeout(() => proc.kill('SIGKILL'), killAfter);
            } else if (line.startsWith('acked ')) {
              maxAcked = Math.max(maxAcked, Number(line.slice(6)));
            }
          }
        });
        proc.on('exit', () => resolve());
      });
      expect(started).toBe(true);
      const s = store();
      const r = await s.load();
      expect(r.source === 'main' || r.source === 'prev').toBe(true);
      const got = s.lookup({ key: '1:1', headLength: 0, headHash: '' }, Number.MAX_SAFE_INTEGER, Buffer.alloc(0));
      expect(got.kind).toBe('resume');
      const off = got.kind === 'resume' ? got.offset : -1;
      expect(off).toBeLessThanOrEqual(maxAcked);
      expect(off).toBeGreaterThanOrEqual(lastStart);
    }
    expect(lastStart).toBeGreaterThan(0);
  }, 30_000);
});

describe('an entry whose inode another file took', () => {
  it('is kept for the .gz of its file (found by directory and head), under a key no file has', async () => {
    const first = store();
    await first.load();
    const f = first.open(makeIdentity(2049, 77, head), '/var/log/pods/ns_p_u/c/0.log', 0);
    f.settle(f.track(30), true);
    await first.close();
    const s = store();
    await s.load();
    // The file was rotated, compressed and deleted; a new file got inode 77.
    const other = Buffer.from('2024-01-01T00:09:00.000000000Z stdout F another file\n');
    expect(s.lookup(makeIdentity(2049, 77, other), other.length, other).kind).toBe('inode-reused');
    s.open(makeIdentity(2049, 77, other), '/var/log/pods/ns_p_u/c/0.log', 0);
    const found = s.findCompressedOrigin('/var/log/pods/ns_p_u/c', head, () => false);
    expect(found?.resumable).toBe(true);
    expect(found?.entry.offset).toBe(30);
    expect(found?.entry.key).toMatch(/^2049:77~/);
    // Written and loaded again like any entry; a lookup by dev:ino never finds it.
    await s.flush();
    const again = store();
    await again.load();
    expect(again.findCompressedOrigin('/var/log/pods/ns_p_u/c', head, () => false)?.entry.offset).toBe(30);
    expect(again.lookup(makeIdentity(2049, 77, other), other.length, other).kind).toBe('resume');
  });
});
