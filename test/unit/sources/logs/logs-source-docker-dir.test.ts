import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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
 * Docker json-file directories: rotation the engine's way (rename -json.log → .1 … → .N, the
 * oldest deleted at max-file) while the source runs, and rotated files that were there before
 * a first start. The real engine at full speed is test/e2e/logs-rotation-real.test.ts.
 */

const tmp = mkdtempSync(join(tmpdir(), 'sextant-logdock-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const ID = 'a'.repeat(64);


function dockerLines(a: number, b: number): string {
  let s = '';
  for (let i = a; i < b; i++) s += `{"log":"n=${i}\\n","stream":"stdout","time":"2026-11-25T10:00:00.${String(i).padStart(9, '0')}Z"}\n`;
  return s;
}

function setup(readFrom: 'end' | 'beginning') {
  const root = join(tmp, `h${n++}`);
  const dir = join(root, 'var/lib/docker/containers', ID);
  mkdirSync(dir, { recursive: true });
  const state = join(root, 'state');
  mkdirSync(state);
  const src = new LogSource(
    { hostRoot: root, stateDir: state, readFrom, maxRecordBytes: 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, globs: [], podLogDirs: [] },
    { resource: createResource({ 'host.name': 'node-1' }), registry: new Registry(), logger: silentLogger(), version: 't' },
  );
  return { src, live: join(dir, `${ID}-json.log`) };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LogSource on Docker container directories', () => {
  it('rotated files present at a first start (readFrom end) are never read, at any later scan', async () => {
    const h = setup('end');
    writeFileSync(`${h.live}.2`, dockerLines(0, 10));
    writeFileSync(`${h.live}.1`, dockerLines(10, 20));
    writeFileSync(h.live, dockerLines(20, 30));
    const sink = new AckingSink();
    h.src.start(sink);
    try {
      await until('the live file tailed', () => h.src.files === 1);
      await sleep(800); // four interval rescans past the first
      appendFileSync(h.live, dockerLines(30, 35));
      await until('5 records', () => sink.logs.length >= 5);
      await sleep(300);
      expect(sink.numbers()).toEqual(range(30, 35));
    } finally {
      await h.src.stop();
      await h.src.afterFlush();
    }
  });

  it('rotation by rename with max-file deleting the oldest, faster than the rescan interval: every line once, in order per file', async () => {
    const h = setup('beginning');
    const sink = new AckingSink();
    h.src.start(sink);
    const MAX_FILE = 3;
    const FILES = 12;
    const PER_FILE = 200;
    try {
      await sleep(300);
      writeFileSync(h.live, '');
      for (let f = 0; f < FILES; f++) {
        appendFileSync(h.live, dockerLines(f * PER_FILE, (f + 1) * PER_FILE));
        await sleep(40);
        if (f === FILES - 1) break;
        // The engine's rotation: drop the oldest, shift the others, then a new -json.log.
        try {
          unlinkSync(`${h.live}.${MAX_FILE - 1}`);
        } catch {
          // fewer rotated files than max-file yet
        }
        for (let i = MAX_FILE - 2; i >= 1; i--) {
          try {
            renameSync(`${h.live}.${i}`, `${h.live}.${i + 1}`);
          } catch {
            // not there yet
          }
        }
        renameSync(h.live, `${h.live}.1`);
        writeFileSync(h.live, '');
      }
      await until(`${FILES * PER_FILE} records`, () => sink.logs.length >= FILES * PER_FILE);
      await sleep(300);
      const got = sink.numbers();
      expect(got.length).toBe(FILES * PER_FILE);
      expect([...got].sort((a, b) => a - b)).toEqual(range(0, FILES * PER_FILE));
      // Within each file the order is the writer's.
      for (let f = 0; f < FILES; f++) {
        const mine = got.filter((x) => x >= f * PER_FILE && x < (f + 1) * PER_FILE);
        expect(mine).toEqual(range(f * PER_FILE, (f + 1) * PER_FILE));
      }
    } finally {
      await h.src.stop();
      await h.src.afterFlush();
    }
  });
});
