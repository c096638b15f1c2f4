import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskSpool, type SpooledBatch } from '../../../../src/pipeline/spool/disk-spool.js';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../../../src/pipeline/spool/segment-format.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { AckRecorder } from '../helpers.js';
import { until } from '../../../helpers/wait.js';

/**
 * The disk spool on a real directory: what is appended comes back oldest first and is deleted
 * once delivered; acks wait for the sync; a reopened spool resumes from its cursor; damage
 * (torn tails, flipped bits, bad headers) is cut off at the last good record, counted, and
 * never stops it.
 */

const dirs: string[] = [];
const spools: DiskSpool[] = [];
afterEach(async () => {
  for (const s of spools.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sextant-spool-'));
  dirs.push(d);
  return d;
}

async function open(dir: string, o: { maxBytes?: number; segmentBytes?: number; registry?: Registry } = {}): Promise<DiskSpool> {
  const s = await DiskSpool.open({
    dir,
    maxBytes: o.maxBytes ?? 64 * 1024 * 1024,
    segmentBytes: o.segmentBytes,
    syncIntervalMs: 5,
    logger: silentLogger(),
    registry: o.registry ?? new Registry(),
  });
  spools.push(s);
  return s;
}

const payload = (i: number, size = 100): Buffer => Buffer.from(`${String(i).padStart(6, '0')}:${'x'.repeat(size - 7)}`);
const idOf = (b: SpooledBatch): number => Number(b.payload.subarray(0, 6).toString());

/** Takes every batch the spool hands out until it has none, waiting for loads. */
async function drain(s: DiskSpool, deliver = true, limit = 1000): Promise<number[]> {
  const out: number[] = [];
  while (out.length < limit) {
    let b = s.next();
    if (b === undefined) {
      const deadline = Date.now() + 500;
      while (b === undefined && Date.now() < deadline && s.pending) {
        await new Promise((r) => setTimeout(r, 2));
        b = s.next();
      }
      if (b === undefined) break;
    }
    out.push(idOf(b));
    s.done(b, deliver);
  }
  return out;
}

describe('DiskSpool', () => {
  it('hands back what was appended, oldest first, and deletes delivered segments', async () => {
    const dir = tmp();
    const s = await open(dir, { segmentBytes: 1024 });
    for (let i = 0; i < 30; i++) expect(await s.append({ signal: 'logs', encoding: 'identity', items: 3, payload: payload(i) })).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.spool')).length).toBeGreaterThan(2);
    expect(s.pending).toBe(true);
    expect(await drain(s)).toEqual([...Array(30).keys()]);
    await until('delivered segments deleted', () => readdirSync(dir).filter((f) => f.endsWith('.spool')).length <= 1, 2000);
    expect(s.pending).toBe(false);
    expect(s.undeliveredBatches).toBe(0);
  });

  it('settles acks only once a sync covers the record', async () => {
    const s = await open(tmp());
    const ack = new AckRecorder();
    expect(await s.append({ signal: 'logs', encoding: 'identity', items: 2, payload: payload(1), acks: { targets: [ack], firsts: [7], counts: [2] } })).toBe(true);
    await until('both acks settled', () => ack.calls.length === 2, 2000);
    expect(ack.calls).toEqual([
      [7, true],
      [8, true],
    ]);
  });

  it('resumes after a restart from the cursor: delivered batches are not sent again', async () => {
    const dir = tmp();
    const a = await open(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 20; i++) await a.append({ signal: 'metrics', encoding: 'identity', items: 1, payload: payload(i) });
    expect(await drain(a, true, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const b = await open(dir, { segmentBytes: 2048 });
    expect(b.undeliveredBatches).toBe(12);
    expect(await drain(b)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('keeps a batch given back undelivered at shutdown for the next start', async () => {
    const dir = tmp();
    const a = await open(dir);
    for (let i = 0; i < 3; i++) await a.append({ signal: 'logs', encoding: 'gzip', items: 1, payload: payload(i) });
    expect(await drain(a, true, 1)).toEqual([0]);
    const given: SpooledBatch = await until('the next spooled batch', () => a.next(), 2000);
    expect(idOf(given)).toBe(1);
    a.done(given, false); // aborted at shutdown
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const b = await open(dir);
    expect(await drain(b)).toEqual([1, 2]);
  });

  it('refuses when full and takes again once delivered batches free room', async () => {
    const s = await open(tmp(), { maxBytes: 4096, segmentBytes: 1024 });
    let taken = 0;
    while (await s.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(taken, 400) })) taken++;
    expect(taken).toBeGreaterThan(3);
    expect(s.hasRoom(400)).toBe(false);
    await drain(s, true, 3);
    await until('room for 400 bytes', () => s.hasRoom(400), 2000);
    expect(await s.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(99, 400) })).toBe(true);
  });

  it('cuts a torn tail at the last whole record on open, and counts it', async () => {
    const dir = tmp();
    const a = await open(dir);
    for (let i = 0; i < 5; i++) await a.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(i) });
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.spool'))!);
    const whole = statSync(seg).size;
    truncateSync(seg, whole - 30); // kill -9 in the middle of the last write
    const registry = new Registry();
    const b = await open(dir, { registry });
    expect(statSync(seg).size).toBe(whole - (RECORD_HEADER_BYTES + 100));
    expect(registry.render()).toContain('sextant_spool_corrupt_total{reason="torn"} 1');
    expect(await drain(b)).toEqual([0, 1, 2, 3]);
  });

  it('cuts at a record whose checksum fails (a flipped bit), keeping the ones before it', async () => {
    const dir = tmp();
    const a = await open(dir);
    for (let i = 0; i < 6; i++) await a.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(i) });
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.spool'))!);
    const bytes = readFileSync(seg);
    const third = SEGMENT_HEADER_BYTES + 2 * (RECORD_HEADER_BYTES + 100);
    bytes[third + RECORD_HEADER_BYTES + 50]! ^= 0x10;
    writeFileSync(seg, bytes);
    const registry = new Registry();
    const b = await open(dir, { registry });
    expect(statSync(seg).size).toBe(third);
    expect(registry.render()).toContain('sextant_spool_corrupt_total{reason="checksum"} 1');
    expect(await drain(b)).toEqual([0, 1]);
  });

  it('removes a segment whose header is damaged and goes on with the next', async () => {
    const dir = tmp();
    const a = await open(dir, { segmentBytes: 600 });
    for (let i = 0; i < 12; i++) await a.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(i) });
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const segs = readdirSync(dir).filter((f) => f.endsWith('.spool')).sort();
    expect(segs.length).toBeGreaterThan(2);
    const first = join(dir, segs[0]!);
    const bytes = readFileSync(first);
    bytes[3] = 0; // the magic
    writeFileSync(first, bytes);
    const registry = new Registry();
    const b = await open(dir, { registry, segmentBytes: 600 });
    expect(readdirSync(dir)).not.toContain(segs[0]);
    expect(registry.render()).toContain('sextant_spool_corrupt_total{reason="header"} 1');
    const got = await drain(b);
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]).toBeGreaterThan(0);
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(got.at(-1)).toBe(11);
  });

  it('skips the rest of a segment that goes bad after it was opened, and carries on', async () => {
    const dir = tmp();
    const a = await open(dir, { segmentBytes: 600 });
    for (let i = 0; i < 12; i++) await a.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(i) });
    await a.close();
    spools.splice(spools.indexOf(a), 1);
    const b = await open(dir, { segmentBytes: 600 });
    // Damage the first segment's second record after the start-up scan passed it.
    const seg = join(dir, readdirSync(dir).filter((f) => f.endsWith('.spool')).sort()[0]!);
    const bytes = readFileSync(seg);
    bytes[SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES + 100 + RECORD_HEADER_BYTES + 10]! ^= 0xff;
    writeFileSync(seg, bytes);
    const got = await drain(b);
    expect(got[0]).toBe(0);
    expect(got).not.toContain(1);
    expect(got.at(-1)).toBe(11);
  });

  it('never throws for a directory it cannot use: it refuses every append', async () => {
    const d = tmp();
    const file = join(d, 'not-a-dir');
    writeFileSync(file, 'x');
    const s = await open(join(file, 'spool'));
    expect(s.hasRoom(10)).toBe(false);
    expect(s.pending).toBe(false);
    expect(await s.append({ signal: 'logs', encoding: 'identity', items: 1, payload: payload(1) })).toBe(false);
  });
});
