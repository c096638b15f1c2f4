import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import type { ContainerMetadataCache } from '../../../../src/sources/container/metadata-cache.js';
import type { ContainerInfo } from '../../../../src/sources/container/types.js';
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

function setup(readFrom: 'end' | 'beginning', native = true, cache?: ContainerMetadataCache) {
  const root = join(tmp, `h${n++}`);
  const dir = join(root, 'var/lib/docker/containers', ID);
  mkdirSync(dir, { recursive: true });
  const state = join(root, 'state');
  mkdirSync(state);
  const src = new LogSource(
    { hostRoot: root, stateDir: state, readFrom, maxRecordBytes: 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, globs: [], podLogDirs: [], native },
    { resource: createResource({ 'host.name': 'node-1' }), registry: new Registry(), logger: silentLogger(), version: 't', ...(cache ? { cache } : {}) },
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

  it.each([
    ['with the addon’s pinning thread', true],
    ['the pure-JS fallback', false],
  ])('rotation by rename with max-file deleting the oldest, faster than the rescan interval (%s): every line once, in order per file', async (_, native) => {
    const h = setup('beginning', native);
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

  it('a container running before the start: its first lines carry the name the runtime’s first list gives, not only later ones', async () => {
    // The runtime answers its first list 400 ms after the start (a loaded node); the cache
    // knows nothing before it, as the agent's does.
    let listed = false;
    const listeners: (() => void)[] = [];
    const info: ContainerInfo = { id: ID, runtime: 'docker', name: 'web', state: 'running', restartCount: 0, labels: {}, annotations: {} };
    const cache = {
      refresh: async () => {
        await sleep(400);
        listed = true;
        for (const l of listeners) l();
      },
      get: (id: string) => (listed && id === ID ? info : undefined),
      podContainers: () => [],
      onChange: (l: () => void) => listeners.push(l),
    } as unknown as ContainerMetadataCache;
    const h = setup('beginning', true, cache);
    writeFileSync(h.live, dockerLines(0, 20));
    const sink = new AckingSink();
    h.src.start(sink);
    try {
      await until('20 records', () => sink.logs.length >= 20);
      const nameless = sink.logs.filter((l) => l.resource.attributes['container.name'] !== 'web');
      expect(nameless).toHaveLength(0);
    } finally {
      await h.src.stop();
      await h.src.afterFlush();
    }
  });

  /**
   * The engine rotating (max-file=3) while the agent's event loop is held: files created and
   * deleted meanwhile are kept by the addon's thread (native/sextant_pin.c), which opened each as
   * it was created. The fallback opens files from the watch callback, which cannot run while the
   * loop is held: it loses exactly those files, which is why the thread exists.
   */
  it.each([
    ['the addon’s pinning thread keeps every file', true],
    ['the pure-JS fallback loses the files deleted meanwhile', false],
  ])('the event loop held while 12 files come and go: %s', async (_, native) => {
    const h = setup('beginning', native);
    const sink = new AckingSink();
    const FILES = 12;
    const PER_FILE = 100;
    h.src.start(sink);
    try {
      writeFileSync(h.live, dockerLines(0, PER_FILE));
      await until('the live file read', () => sink.logs.length >= PER_FILE);
      if (native && !h.src.nativePinning) {
        // No addon built: nothing to test here, but CI must prove it builds and pins.
        expect(process.env.CI, 'the addon is built by npm ci under CI=true').not.toBe('true');
        return;
      }
      const done = `${h.live}.done`;
      const script = `
        const fs = require('node:fs');
        const live = ${JSON.stringify(h.live)};
        const lines = ${dockerLines.toString()};
        const pause = new Int32Array(new SharedArrayBuffer(4));
        for (let f = 1; f < ${FILES}; f++) {
          Atomics.wait(pause, 0, 0, 15);
          fs.rmSync(live + '.2', { force: true });
          if (fs.existsSync(live + '.1')) fs.renameSync(live + '.1', live + '.2');
          fs.renameSync(live, live + '.1');
          fs.writeFileSync(live, '');
          fs.appendFileSync(live, lines(f * ${PER_FILE}, (f + 1) * ${PER_FILE}));
        }
        fs.writeFileSync(${JSON.stringify(done)}, '');`;
      spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      const end = Date.now() + 20_000;
      while (!existsSync(done) && Date.now() < end) {
        // the event loop held: no watch callback, no tail turn, no rescan
      }
      rmSync(done);
      // Files 1 … FILES-4 were created and deleted while the loop was held; the last three are still there.
      const kept = native ? FILES : 1 + 3;
      await until(`${kept * PER_FILE} records`, () => sink.logs.length >= kept * PER_FILE);
      await sleep(700);
      const got = sink.numbers();
      const want = native ? range(0, FILES * PER_FILE) : [...range(0, PER_FILE), ...range((FILES - 3) * PER_FILE, FILES * PER_FILE)];
      expect([...got].sort((a, b) => a - b)).toEqual(want);
      for (let f = 0; f < FILES; f++) {
        const mine = got.filter((x) => x >= f * PER_FILE && x < (f + 1) * PER_FILE);
        if (mine.length > 0) expect(mine).toEqual(range(f * PER_FILE, (f + 1) * PER_FILE));
      }
    } finally {
      await h.src.stop();
      await h.src.afterFlush();
    }
  });
});
