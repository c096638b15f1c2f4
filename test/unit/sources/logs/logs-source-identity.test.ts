import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { LogSource } from '../../../../src/sources/logs/logs-source.js';
import { AckingSink } from '../../../helpers/acking-sink.js';
import { until } from '../../../helpers/wait.js';

/**
 * File identity across the life of a tailed file, on real files. Both found by the real-writer
 * rotation test (test/e2e/logs-rotation-real.test.ts: Docker max-size=1m max-file=5 at full
 * speed lost whole files): a checkpoint kept the head fingerprint of a file opened while empty,
 * and a finished rotated file was recognised by dev:ino alone, so a later file on the same
 * inode (Docker's next -json.log takes the deleted one's at once) was skipped.
 */

const tmp = mkdtempSync(join(tmpdir(), 'sextant-logid-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const DIR = 'var/log/pods/shop_web-7d9_5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab/web';


function criLines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `2026-11-25T10:00:00.${String(i).padStart(9, '0')}Z stdout F {"msg":"line","n=${i}":1}\n`;
  return s;
}

function setup() {
  const root = join(tmp, `h${n++}`);
  mkdirSync(join(root, DIR), { recursive: true });
  const state = join(root, 'state');
  mkdirSync(state);
  const make = () =>
    new LogSource(
      { hostRoot: root, stateDir: state, readFrom: 'beginning', maxRecordBytes: 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, globs: [] },
      { resource: createResource({ 'host.name': 'node-1' }), registry: new Registry(), logger: silentLogger(), version: 't' },
    );
  return { file: join(root, DIR, '0.log'), state, make };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

function checkpointEntries(state: string): { path: string; offset: number; headLength: number }[] {
  let text: string;
  try {
    text = readFileSync(join(state, 'checkpoints.json'), 'utf8');
  } catch {
    return []; // not written yet
  }
  const lines = text.split('\n');
  return JSON.parse(lines[1]!) as { path: string; offset: number; headLength: number }[];
}

describe('LogSource file identity', () => {
  it('a file opened empty gets its full head fingerprint into its checkpoint as it grows; other content on the inode later is read from 0', async () => {
    const h = setup();
    writeFileSync(h.file, ''); // a runtime's new log file: empty when first seen
    const first = new AckingSink();
    const src1 = h.make();
    src1.start(first);
    await until('the file tailed', () => src1.files === 1);
    appendFileSync(h.file, criLines(0, 500));
    await until('500 records', () => first.logs.length === 500);
    const size = criLines(0, 500).length;
    await until('the checkpoint at the end of line 499', () => checkpointEntries(h.state).some((e) => e.offset === size), 5_000);
    await src1.stop();
    await src1.afterFlush();
    const headLength = checkpointEntries(h.state).find((e) => e.offset === size)?.headLength;
    // While the agent is down the inode gets other, longer content (copytruncate, or a file that
    // reused the inode). An entry still holding the empty head would match it and resume at
    // the old offset, skipping the first 500 lines of the new content.
    truncateSync(h.file, 0);
    appendFileSync(h.file, criLines(1000, 1800));
    const second = new AckingSink();
    const src2 = h.make();
    src2.start(second);
    try {
      await until('line 1799', () => second.numbers().includes(1799)); // the last line: the file is read to its end
      expect(second.numbers()).toEqual(range(1000, 1800));
      expect(headLength).toBe(256);
    } finally {
      await src2.stop();
      await src2.afterFlush();
    }
  });

  it('a rotated file finished and then written again (kubelet renamed it; containerd writes until ReopenContainerLog) is read again from its checkpoint', async () => {
    const h = setup();
    writeFileSync(h.file, criLines(0, 200));
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until('200 records', () => sink.logs.length === 200);
      const rotated = `${h.file}.20261125-100000`;
      renameSync(h.file, rotated);
      writeFileSync(h.file, criLines(200, 300));
      await until('300 records', () => sink.logs.length === 300);
      await until('only the new file tailed', () => src.files === 1); // the rotated one is finished and let go
      await new Promise((r) => setTimeout(r, 300)); // and a rescan or two saw it finished
      appendFileSync(rotated, criLines(300, 350));
      await until('350 records', () => sink.logs.length >= 350);
      await new Promise((r) => setTimeout(r, 500)); // no repeat follows
      expect(sink.numbers().sort((a, b) => a - b)).toEqual(range(0, 350));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });
});
