import { existsSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestLog, type LoggedRequest } from '../../../../src/gateway/store/request-log.js';
import { removeDir, tmpDataDir } from '../helpers.js';

/** The store's write-ahead file of accepted requests. */

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function dir(): Promise<string> {
  const d = await tmpDataDir();
  dirs.push(d);
  return d;
}

const body = (i: number): Buffer => Buffer.from(`request ${i} `.repeat(1 + (i % 7)));

describe('the request log', () => {
  it('takes 3,000 concurrent appends (one sync, past the 1,024-buffer limit of a vectored write) and replays them all, in order, after a restart', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => expect.unreachable());
    const seqs = await Promise.all(Array.from({ length: 3_000 }, (_, i) => log.append(i % 2 === 0 ? 'logs' : 'metrics', i % 3 === 0 ? 'json' : 'protobuf', body(i))));
    expect(seqs).toEqual(Array.from({ length: 3_000 }, (_, i) => i + 1));
    await log.close();
    const replayed: LoggedRequest[] = [];
    const again = await RequestLog.open(d, 0, (r) => replayed.push({ ...r, body: Buffer.from(r.body) }));
    expect(replayed.map((r) => r.seq)).toEqual(seqs);
    replayed.forEach((r, i) => {
      expect(r.signal).toBe(i % 2 === 0 ? 'logs' : 'metrics');
      expect(r.format).toBe(i % 3 === 0 ? 'json' : 'protobuf');
      expect(Buffer.from(r.body).equals(body(i))).toBe(true);
    });
    // Numbering goes on after the last record.
    expect(await again.append('traces', 'protobuf', body(1))).toBe(3_001);
    await again.close();
  });

  it('replays only what comes after the committed position, and deletes what is wholly committed', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined);
    for (let i = 0; i < 10; i++) await log.append('logs', 'protobuf', body(i));
    await log.close();
    const replayed: number[] = [];
    const again = await RequestLog.open(d, 7, (r) => replayed.push(r.seq));
    expect(replayed).toEqual([8, 9, 10]);
    await again.close();
    await again.release(10);
    // Closed with everything committed: no segment is left.
    expect(readdirSync(d).filter((f) => f.endsWith('.log'))).toEqual([]);
  });

  it('rotates segments and releases committed ones while appends go on, releases racing each other', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined, 4096);
    let committed = 0;
    const releases: Promise<void>[] = [];
    for (let round = 0; round < 40; round++) {
      const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('logs', 'protobuf', body(round * 20 + i))));
      committed = Math.max(...seqs) - 10;
      // Two commits in a row: their releases run together.
      releases.push(log.release(committed), log.release(committed - 5));
    }
    await Promise.all(releases);
    await log.close();
    const replayed: number[] = [];
    const again = await RequestLog.open(d, committed, (r) => replayed.push(r.seq), 4096);
    expect(replayed).toEqual(Array.from({ length: 10 }, (_, i) => committed + 1 + i));
    await again.close();
  });

  it('a torn last record (the process died mid-write, before answering) ends the replay there', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined);
    for (let i = 0; i < 5; i++) await log.append('logs', 'protobuf', body(i));
    await log.close();
    const file = path.join(d, readdirSync(d).find((f) => f.endsWith('.log'))!);
    truncateSync(file, statSync(file).size - 3);
    const replayed: number[] = [];
    const again = await RequestLog.open(d, 0, (r) => replayed.push(r.seq));
    expect(replayed).toEqual([1, 2, 3, 4]);
    await again.close();
  });

  it('a segment whose only record is torn is started afresh, not appended to behind the torn bytes', async () => {
    // A gateway replays 1..3 (never committed), starts segment 4, and dies writing its first
    // record; the next start finds nothing intact in segment 4 and begins its own segment 4.
    const d = await dir();
    const first = await RequestLog.open(d, 0, () => undefined);
    for (let i = 0; i < 3; i++) await first.append('logs', 'protobuf', body(i));
    await first.close();
    const second = await RequestLog.open(d, 0, () => undefined);
    await second.append('logs', 'protobuf', body(3));
    await second.close();
    const seg4 = path.join(d, 'requests-0000000000000004.log');
    truncateSync(seg4, statSync(seg4).size - 3);
    // Nothing committed: 1..3 are replayed, and what this start accepts goes into segment 4.
    const replayed: number[] = [];
    const third = await RequestLog.open(d, 0, (r) => replayed.push(r.seq));
    expect(replayed).toEqual([1, 2, 3]);
    expect(await third.append('logs', 'protobuf', body(4))).toBe(4);
    expect(await third.append('logs', 'protobuf', body(5))).toBe(5);
    await third.close();
    // Acknowledged, never committed: the next start must replay them.
    const again: number[] = [];
    const fourth = await RequestLog.open(d, 0, (r) => again.push(r.seq));
    expect(again).toEqual([1, 2, 3, 4, 5]);
    await fourth.close();
  });

  it('a committed full-size segment is written over by the next one; a replay stops where the old records begin', async () => {
    const d = await dir();
    const spare = path.join(d, 'requests-spare');
    const log = await RequestLog.open(d, 0, () => undefined, 4096);
    const big = (i: number): Buffer => Buffer.alloc(900, `r${i}-`);
    // Five records of ~900 bytes fill the first segment past 4 KiB; the sixth starts the next.
    let seq = 0;
    for (let i = 0; i < 6; i++) seq = await log.append('logs', 'protobuf', big(i));
    expect(seq).toBe(6);
    const first = path.join(d, 'requests-0000000000000001.log');
    const firstInode = statSync(first).ino;
    await log.release(5);
    // Committed and of full size: kept (the same file) as the spare, not deleted.
    expect(existsSync(first)).toBe(false);
    expect(statSync(spare).ino).toBe(firstInode);
    // Segment 6 fills (6..10); segment 11 is the spare, written over from its start.
    for (let i = 6; i < 10; i++) await log.append('logs', 'protobuf', big(i));
    expect(statSync(path.join(d, 'requests-0000000000000006.log')).size).toBeGreaterThan(4096);
    // One record in it, 1..5's bytes after it; the gateway dies (nothing committed past 5).
    expect(await log.append('logs', 'protobuf', big(10))).toBe(11);
    expect(existsSync(spare)).toBe(false);
    expect(statSync(path.join(d, 'requests-0000000000000011.log')).ino).toBe(firstInode);
    await log.close();
    const replayed: LoggedRequest[] = [];
    const again = await RequestLog.open(d, 5, (r) => replayed.push({ ...r, body: Buffer.from(r.body) }), 4096);
    expect(replayed.map((r) => r.seq)).toEqual([6, 7, 8, 9, 10, 11]);
    replayed.forEach((r) => expect(Buffer.from(r.body).equals(big(r.seq - 1))).toBe(true));
    // Numbering goes on past them, not past the old records' numbers.
    expect(await again.append('logs', 'protobuf', big(11))).toBe(12);
    // Committed up to 12 and closed: segment 6 is the spare, deleted with the close; then, as the
    // store does, what is committed is released: deleted, full size or not, none kept as a spare.
    await again.release(12);
    expect(existsSync(spare)).toBe(true);
    await again.close();
    expect(existsSync(spare)).toBe(false);
    await again.release(12);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a segment smaller than the segment size is deleted when committed, not kept', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined, 1 << 20);
    for (let i = 0; i < 3; i++) await log.append('logs', 'protobuf', body(i));
    await log.close();
    await log.release(3);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a spare taken and never written (the gateway died at once) replays nothing of its old records', async () => {
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined, 4096);
    const big = (i: number): Buffer => Buffer.alloc(900, `s${i}-`);
    for (let i = 0; i < 6; i++) await log.append('logs', 'protobuf', big(i));
    await log.release(5);
    // 6..10 fill segment 6; the rotation takes the spare (1..5's file) as segment 11.
    for (let i = 6; i < 10; i++) await log.append('logs', 'protobuf', big(i));
    await log.close();
    expect(existsSync(path.join(d, 'requests-0000000000000011.log'))).toBe(true);
    // A fresh store (its database moved aside: nothing committed): 6..10 replayed, none of 1..5.
    const replayed: number[] = [];
    const again = await RequestLog.open(d, 0, (r) => replayed.push(r.seq), 4096);
    expect(replayed).toEqual([6, 7, 8, 9, 10]);
    expect(await again.append('logs', 'protobuf', big(10))).toBe(11);
    await again.close();
  });

  it('a segment named past its first record (written before the numbering fix) is replayed whole', async () => {
    // Older versions named a segment by the next number to hand out, so appends queued during
    // its rotation carry lower numbers than its name: they are not the spare's old records.
    const d = await dir();
    const log = await RequestLog.open(d, 0, () => undefined);
    for (let i = 0; i < 4; i++) await log.append('logs', 'protobuf', body(i));
    await log.close();
    renameSync(path.join(d, 'requests-0000000000000001.log'), path.join(d, 'requests-0000000000000003.log'));
    const replayed: number[] = [];
    const again = await RequestLog.open(d, 0, (r) => replayed.push(r.seq));
    expect(replayed).toEqual([1, 2, 3, 4]);
    await again.close();
  });
});
