// The addon's Docker log pinner (native/sextant_pin.c) against the real kernel: a thread that
// opens each `<id>-json.log` as it is created, while this (JavaScript) thread is blocked.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireAddon } from '../../../src/native/binding.js';
import { type NativePin, startNativePinner } from '../../../src/native/log-pins.js';
import { until } from '../../helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'sextant-pins-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const id = (c: string): string => c.repeat(64);

const probe = startNativePinner([tmp], true);
probe?.stop();
const available = probe !== undefined;

/** A Docker-like root with one container directory. */
function root(cid = id('a')): { root: string; dir: string; live: string } {
  const r = join(tmp, `r${n++}`);
  const dir = join(r, cid);
  mkdirSync(dir, { recursive: true });
  return { root: r, dir, live: join(dir, `${cid}-json.log`) };
}

/** Blocks this thread (no event loop turn) until `path` exists, or 20 s. */
function blockUntil(path: string): void {
  const end = Date.now() + 20_000;
  while (!existsSync(path) && Date.now() < end) {
    // spin: the point is that no JavaScript callback can run meanwhile
  }
}

/** What each pinned descriptor holds, closing it. */
function contents(pins: readonly NativePin[]): string[] {
  return pins.map((p) => {
    const text = readFileSync(`/proc/self/fd/${p.fd}`, 'utf8');
    closeSync(p.fd);
    return text.trim();
  });
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('native Docker log pinner', () => {
  it.runIf(process.env.CI === 'true')('starts in CI (the addon is built; no silent fallback)', () => {
    expect(available).toBe(true);
  });

  it('is off when native is false or there is no root', () => {
    expect(startNativePinner([tmp], false)).toBeUndefined();
    expect(startNativePinner([], true)).toBeUndefined();
  });

  describe.runIf(available)('with the addon', () => {
    it('holds every file of a max-file chain rotated and deleted while the JavaScript thread is blocked', async () => {
      const h = root();
      const pinner = startNativePinner([h.root], true)!;
      try {
        // The engine's rotation, 30 times, max-file=3: each file is deleted two rotations after it
        // was made. 10 ms apart: four times the rate dockerd reaches here at full speed (~45 ms).
        const script = `
          const fs = require('node:fs');
          const live = ${JSON.stringify(h.live)};
          const pause = new Int32Array(new SharedArrayBuffer(4));
          for (let i = 0; i < 30; i++) {
            Atomics.wait(pause, 0, 0, 10);
            fs.rmSync(live + '.2', { force: true });
            if (fs.existsSync(live + '.1')) fs.renameSync(live + '.1', live + '.2');
            if (fs.existsSync(live)) fs.renameSync(live, live + '.1');
            fs.writeFileSync(live, 'file ' + i + '\\n');
          }
          Atomics.wait(pause, 0, 0, 10);
          fs.rmSync(live + '.2', { force: true });
          fs.rmSync(live + '.1', { force: true });
          fs.rmSync(live, { force: true });
          fs.writeFileSync(${JSON.stringify(join(h.root, 'done'))}, '');`;
        spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
        blockUntil(join(h.root, 'done'));
        expect(existsSync(h.live)).toBe(false); // every file is gone by name
        const pins = pinner.take();
        expect(pins.every((p) => p.path === h.live)).toBe(true);
        // Each file is held from its creation: the content written after the open is there.
        expect(contents(pins)).toEqual(Array.from({ length: 30 }, (_, i) => `file ${i}`));
        expect(pinner.take()).toEqual([]);
      } finally {
        pinner.stop();
      }
    });

    it('opens only a plain `<id>-json.log` in an `<id>` directory: not a link, a FIFO, other names or other directories', async () => {
      const h = root(id('b'));
      const other = join(h.root, 'not-a-container');
      mkdirSync(other);
      const pinner = startNativePinner([h.root], true)!;
      try {
        writeFileSync(join(h.dir, 'config.v2.json'), '{}');
        writeFileSync(`${h.live}.tmp`, 'x');
        writeFileSync(join(other, `${id('b')}-json.log`), 'x');
        symlinkSync('/etc/hostname', h.live);
        rmSync(h.live);
        spawn('mkfifo', [h.live]).on('exit', () => undefined);
        await until('the FIFO made', () => existsSync(h.live));
        await new Promise((r) => setTimeout(r, 100));
        expect(pinner.take()).toEqual([]);
        // The thread did not block on the FIFO: the next real file is pinned.
        rmSync(h.live);
        writeFileSync(h.live, 'real\n');
        let got: NativePin[] = [];
        await until('pinned', () => (got = pinner.take()).length > 0);
        expect(contents(got)).toEqual(['real']);
      } finally {
        pinner.stop();
      }
    });

    it('watches a container directory created after the start, and outlives one removed', async () => {
      const h = root(id('c'));
      const pinner = startNativePinner([h.root], true)!;
      try {
        rmSync(h.dir, { recursive: true });
        const cid = id('d');
        const dir = join(h.root, cid);
        mkdirSync(dir);
        await new Promise((r) => setTimeout(r, 50));
        writeFileSync(join(dir, `${cid}-json.log`), 'new container\n');
        let got: NativePin[] = [];
        await until('pinned', () => (got = pinner.take()).length > 0);
        expect(got[0]!.path).toBe(join(dir, `${cid}-json.log`));
        expect(contents(got)).toEqual(['new container']);
      } finally {
        pinner.stop();
      }
    });

    it('closes what nobody took when stopped; stop twice and take after stop are harmless', async () => {
      const h = root(id('e'));
      const before = openFds();
      const pinner = startNativePinner([h.root], true)!;
      for (let i = 0; i < 5; i++) {
        rmSync(h.live, { force: true });
        writeFileSync(h.live, `${i}\n`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(openFds()).toBeGreaterThanOrEqual(before + 5);
      pinner.stop();
      pinner.stop();
      expect(pinner.take()).toEqual([]);
      expect(openFds()).toBe(before);
    });

    it('refuses arguments that are not its own', () => {
      const b = requireAddon<Record<string, (...a: unknown[]) => unknown>>();
      expect(() => b.pinStart!('not an array')).toThrow(TypeError);
      expect(() => b.pinTake!({})).toThrow(TypeError);
      expect(() => b.pinStop!(undefined)).toThrow(TypeError);
      // Roots that are not strings, or not there: skipped, the thread still starts.
      const h = b.pinStart!([42, join(tmp, 'missing'), 'x'.repeat(5000)]);
      expect(typeof h).toBe('object');
      expect(b.pinTake!(h)).toEqual([]);
      b.pinStop!(h);
    });
  });
});
