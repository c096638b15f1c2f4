import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignalStore, storeFileName, utcHour } from '../../../src/gateway/ndjson-store.js';
import { removeDir, tmpDataDir } from './helpers.js';

const HOUR_MS = 3600_000;
const T0 = Date.UTC(2026, 10, 25, 8, 15, 0); // 2026-11-25T08:15Z

function line(i: number, pad = 0): string {
  return `${JSON.stringify({ i, pad: 'x'.repeat(pad) })}\n`;
}

describe('SignalStore', () => {
  let dir: string;
  let written: number;
  let records: number;
  let failures: string[];
  const hooks = {
    written: (b: number, r: number) => {
      written += b;
      records += r;
    },
    failed: (err: NodeJS.ErrnoException) => {
      failures.push(err.code ?? 'x');
    },
  };

  beforeEach(async () => {
    dir = await tmpDataDir();
    written = 0;
    records = 0;
    failures = [];
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('names files by UTC hour, rotation index before the extension', () => {
    expect(utcHour(T0)).toBe('2026-11-25T08');
    expect(storeFileName('metrics', '2026-11-25T08', 0)).toBe('metrics-2026-11-25T08.ndjson');
    expect(storeFileName('metrics', '2026-11-25T08', 2)).toBe('metrics-2026-11-25T08.2.ndjson');
  });

  it('appends lines in order and counts bytes and records', async () => {
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 1 << 20, maxTotalBytes: 1 << 30, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    let expected = '';
    for (let i = 0; i < 500; i++) {
      const l = line(i);
      expected += l;
      s.append(l, T0, 2);
    }
    expect(s.pendingBytes).toBeGreaterThan(0);
    await s.close();
    expect(s.pendingBytes).toBe(0);
    const text = await readFile(path.join(dir, 'logs', 'logs-2026-11-25T08.ndjson'), 'utf8');
    expect(text).toBe(expected);
    expect(written).toBe(Buffer.byteLength(expected));
    expect(records).toBe(1000);
  });

  it('starts a new file each UTC hour', async () => {
    const s = new SignalStore(dir, 'metrics', { maxFileBytes: 1 << 20, maxTotalBytes: 1 << 30, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    s.append(line(1), T0, 1);
    s.append(line(2), T0 + HOUR_MS, 1);
    s.append(line(3), T0 + HOUR_MS + 1000, 1);
    await s.close();
    expect((await readdir(path.join(dir, 'metrics'))).sort()).toEqual(['metrics-2026-11-25T08.ndjson', 'metrics-2026-11-25T09.ndjson']);
    expect(await readFile(path.join(dir, 'metrics', 'metrics-2026-11-25T09.ndjson'), 'utf8')).toBe(line(2) + line(3));
  });

  it('rotates at maxFileBytes without splitting a line', async () => {
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 250, maxTotalBytes: 1 << 30, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      lines.push(line(i, 40));
      s.append(lines[i]!, T0, 1);
      if (i % 3 === 0) await s.flush(); // mix of single and batched writes
    }
    // A line larger than a file gets a file of its own.
    const huge = line(99, 600);
    s.append(huge, T0, 1);
    await s.close();
    const names = await readdir(path.join(dir, 'logs'));
    expect(names.length).toBeGreaterThan(3);
    let all = '';
    const ordered = names.sort((a, b) => idx(a) - idx(b));
    for (const n of ordered) {
      const text = await readFile(path.join(dir, 'logs', n), 'utf8');
      const size = Buffer.byteLength(text);
      if (text !== huge) expect(size).toBeLessThanOrEqual(250);
      expect(text.endsWith('\n')).toBe(true);
      all += text;
    }
    expect(all).toBe(lines.join('') + huge);
    expect(ordered[0]).toBe('logs-2026-11-25T08.ndjson');
    expect(ordered[1]).toBe('logs-2026-11-25T08.1.ndjson');
  });

  it('deletes the oldest files when the signal exceeds maxTotalBytes', async () => {
    const s = new SignalStore(dir, 'traces', { maxFileBytes: 200, maxTotalBytes: 600, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    for (let i = 0; i < 60; i++) {
      s.append(line(i, 30), T0 + Math.floor(i / 20) * HOUR_MS, 1);
      await s.flush();
    }
    await s.close();
    const names = await readdir(path.join(dir, 'traces'));
    let total = 0;
    for (const n of names) total += (await stat(path.join(dir, 'traces', n))).size;
    expect(total).toBeLessThanOrEqual(600);
    expect(s.totalBytes).toBe(total);
    // The newest line survives, the oldest hour is gone.
    expect(names.some((n) => n.includes('T10'))).toBe(true);
    expect(names.some((n) => n.includes('T08'))).toBe(false);
    const newest = names.filter((n) => n.includes('T10')).sort((a, b) => idx(a) - idx(b)).at(-1)!;
    expect(await readFile(path.join(dir, 'traces', newest), 'utf8')).toContain('"i":59');
  });

  it('takes stock of files left by an earlier run and continues the hour', async () => {
    const d = path.join(dir, 'logs');
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'logs-2026-11-25T07.ndjson'), 'a'.repeat(300) + '\n');
    await writeFile(path.join(d, 'logs-2026-11-25T08.ndjson'), 'b'.repeat(10) + '\n');
    await writeFile(path.join(d, 'unrelated.txt'), 'keep me');
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 1000, maxTotalBytes: 400, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    expect(s.totalBytes).toBe(301 + 11);
    s.append(line(1, 100), T0, 1);
    await s.close();
    const names = (await readdir(d)).sort();
    // Over 400 bytes: the 07 file went, the 08 file was appended to, other files untouched.
    expect(names).toEqual(['logs-2026-11-25T08.ndjson', 'unrelated.txt']);
    expect(await readFile(path.join(d, 'logs-2026-11-25T08.ndjson'), 'utf8')).toBe('b'.repeat(10) + '\n' + line(1, 100));
  });

  it('stops accepting above maxPendingBytes', async () => {
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 1 << 20, maxTotalBytes: 1 << 30, maxPendingBytes: 100 }, hooks);
    await s.open();
    expect(s.accepting).toBe(true);
    s.append(line(1, 200), T0, 1);
    expect(s.accepting).toBe(false);
    await s.flush();
    expect(s.accepting).toBe(true);
    await s.close();
    expect(s.accepting).toBe(false);
  });

  it('counts the lines it cannot store when the next file of a rotation cannot be opened, and keeps going', async () => {
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 100, maxTotalBytes: 1 << 30, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    s.append(line(1, 60), T0, 1);
    await s.flush();
    // A directory squats on the name of the hour's next file: opening it fails with EISDIR.
    await mkdir(path.join(dir, 'logs', 'logs-2026-11-25T08.1.ndjson'));
    s.append(line(2, 60), T0, 2); // does not fit beside line 1: rotation needed
    await s.flush();
    expect(failures).toContain('EISDIR');
    expect(s.pendingBytes).toBe(0);
    // Still alive and writing once the way is clear.
    await rm(path.join(dir, 'logs', 'logs-2026-11-25T08.1.ndjson'), { recursive: true });
    s.append(line(3, 60), T0, 1);
    await s.close();
    const names = (await readdir(path.join(dir, 'logs'))).sort();
    let all = '';
    for (const n of names) all += await readFile(path.join(dir, 'logs', n), 'utf8');
    expect(all).toContain(line(1, 60));
    expect(all).toContain(line(3, 60));
    expect(all).not.toContain(line(2, 60));
  });

  it('reports a failed write and keeps going', async () => {
    const s = new SignalStore(dir, 'logs', { maxFileBytes: 1 << 20, maxTotalBytes: 1 << 30, maxPendingBytes: 1 << 20 }, hooks);
    await s.open();
    // The signal directory replaced by a file: opening fails with ENOTDIR even for root.
    await rm(path.join(dir, 'logs'), { recursive: true });
    await writeFile(path.join(dir, 'logs'), 'not a directory');
    s.append(line(1), T0, 3);
    await s.flush();
    expect(failures).toEqual(['ENOTDIR']);
    expect(s.pendingBytes).toBe(0);
    await rm(path.join(dir, 'logs'));
    await mkdir(path.join(dir, 'logs'));
    s.append(line(2), T0, 1);
    await s.close();
    expect(await readFile(path.join(dir, 'logs', 'logs-2026-11-25T08.ndjson'), 'utf8')).toBe(line(2));
  });
});

function idx(name: string): number {
  const m = /T(\d{2})(?:\.(\d+))?\.ndjson$/.exec(name)!;
  return Number(m[1]) * 1000 + (m[2] === undefined ? 0 : Number(m[2]));
}
