import { gzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { LogSource } from '../../../../src/sources/logs/logs-source.js';
import { AckingSink } from '../../../helpers/acking-sink.js';

/**
 * kubelet's gzipped rotated files: when the agent stopped part-way through a file that kubelet
 * then rotated, compressed (`0.log.<ts>.gz`) and deleted, the next start reads the `.gz` from
 * the checkpoint's offset — the rest of that file, nothing before it — and a `.gz` no
 * checkpoint owes anything to is left alone. Real gzip files, written as kubelet writes them.
 */

const tmp = mkdtempSync(join(tmpdir(), 'sextant-logsgz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const UID = '6a1d7b4f-3c2e-4d9f-8a0b-1234567890cd';
const DIR = `var/log/pods/shop_api-5c8_${UID}/api`;

/** A CRI line stamped now, as the runtime writes it (the restart rule compares first-line times). */
function criLine(i: number): string {
  const ms = new Date().toISOString().slice(0, 23);
  return `${ms}${String(i % 1_000_000).padStart(6, '0')}Z stdout F {"msg":"gz","n=${i}":1}\n`;
}
const lines = (a: number, b: number): string => Array.from({ length: b - a }, (_, k) => criLine(a + k)).join('');
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

function setup() {
  const root = join(tmp, `h${n++}`);
  mkdirSync(join(root, DIR), { recursive: true });
  const state = join(root, 'state');
  mkdirSync(state);
  const registry = new Registry();
  const make = () =>
    new LogSource(
      { hostRoot: root, stateDir: state, readFrom: 'beginning', maxRecordBytes: 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, globs: [], nodeName: 'node-1' },
      { resource: createResource({ 'host.name': 'node-1' }), registry, logger: silentLogger(), version: 't' },
    );
  return { root, dir: join(root, DIR), file: join(root, DIR, '0.log'), make, registry };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** kubelet's rotation of the live file, then its compression of it: rename, gzip to .gz, delete the original. */
function rotateAndCompress(file: string, stamp: string, damage = false): string {
  const rotated = `${file}.${stamp}`;
  renameSync(file, rotated);
  writeFileSync(file, '');
  let gz = gzipSync(readFileSync(rotated));
  if (damage) gz = gz.subarray(0, Math.floor(gz.length * 0.6));
  writeFileSync(`${rotated}.gz.tmp`, gz);
  renameSync(`${rotated}.gz.tmp`, `${rotated}.gz`);
  unlinkSync(rotated);
  return `${rotated}.gz`;
}

/** Runs a source until it has offered `count` records, acknowledging them, then stops it cleanly. */
async function readSome(make: () => LogSource, count: number): Promise<AckingSink> {
  const sink = new AckingSink();
  sink.capacity = count;
  const src = make();
  src.start(sink);
  await until(() => sink.logs.length >= count);
  await src.stop();
  await src.afterFlush();
  return sink;
}

describe('LogSource and gzipped rotated files', () => {
  it('resumes a file kubelet compressed while the agent was down from its checkpoint, in the .gz', async () => {
    const h = setup();
    writeFileSync(h.file, lines(0, 1000));
    const first = await readSome(h.make, 400);
    expect(first.numbers()).toEqual(range(0, 400));
    rotateAndCompress(h.file, '20261125-100000');
    writeFileSync(h.file, lines(1000, 1100));

    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until(() => sink.logs.length >= 700);
      await new Promise((r) => setTimeout(r, 300));
      const got = sink.numbers();
      expect(got.filter((x) => x < 1000)).toEqual(range(400, 1000));
      expect(got.filter((x) => x >= 1000).sort((a, b) => a - b)).toEqual(range(1000, 1100));
      expect(h.registry.render()).toContain('sextant_logs_problems_total{kind="compressed_resume"} 1');
    } finally {
      await src.stop();
      await src.afterFlush();
    }
    // Read to its end and released: a third start reads nothing again.
    const again = new AckingSink();
    const third = h.make();
    third.start(again);
    await new Promise((r) => setTimeout(r, 500));
    await third.stop();
    await third.afterFlush();
    expect(again.numbers()).toEqual([]);
  });

  it('leaves a .gz alone when no checkpoint is behind in it (the file was read to its end before)', async () => {
    const h = setup();
    writeFileSync(h.file, lines(0, 300));
    await readSome(h.make, 300);
    // Give the first run time to see the end of the file, then rotate and compress.
    rotateAndCompress(h.file, '20261125-110000');
    writeFileSync(h.file, lines(300, 350));
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until(() => sink.logs.length >= 50);
      await new Promise((r) => setTimeout(r, 400));
      expect(sink.numbers().sort((a, b) => a - b)).toEqual(range(300, 350));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('after a restart, rotated and compressed files that appeared after the last checkpoint write are read whole', async () => {
    const h = setup();
    writeFileSync(h.file, lines(0, 200));
    await readSome(h.make, 200);
    await new Promise((r) => setTimeout(r, 50));
    // While the agent is down: the read file rotates, then two new files come and go, one of them
    // compressed already, and a fourth is live. None of them is in the checkpoints.
    renameSync(h.file, `${h.file}.20261125-130000`);
    writeFileSync(h.file, lines(1000, 1200));
    rotateAndCompress(h.file, '20261125-130010');
    writeFileSync(h.file, lines(1200, 1400));
    renameSync(h.file, `${h.file}.20261125-130020`);
    writeFileSync(h.file, lines(1400, 1450));
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until(() => sink.logs.length >= 450);
      await new Promise((r) => setTimeout(r, 400));
      expect(sink.numbers().sort((a, b) => a - b)).toEqual(range(1000, 1450));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a damaged .gz gives the lines before the damage, is counted, and stops nothing', async () => {
    const h = setup();
    writeFileSync(h.file, lines(0, 5000));
    await readSome(h.make, 100);
    rotateAndCompress(h.file, '20261125-120000', true);
    writeFileSync(h.file, lines(5000, 5010));
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until(() => sink.numbers().filter((x) => x >= 5000).length === 10);
      await until(() => h.registry.render().includes('kind="compressed_damaged"'));
      const fromGz = sink.numbers().filter((x) => x < 5000);
      expect(fromGz.length).toBeGreaterThan(0);
      expect(fromGz[0]).toBe(100);
      // The line the damage cut in two is delivered as far as it goes (its number may be cut too).
      expect(fromGz.slice(0, -1)).toEqual(range(100, 100 + fromGz.length - 1));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });
});
