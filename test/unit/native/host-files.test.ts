import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsProcReader } from '../../../src/native/fallback.js';
import * as L from '../../../src/native/host-layout.js';
import { loadProcReader } from '../../../src/native/index.js';
import type { ProcReader } from '../../../src/native/types.js';
import { silentLogger } from '../../../src/self/logger.js';
import { removeDir, tmpDir } from './proc-tree.js';
import { presentOrSkip } from '../../helpers/ci-gate.js';

/*
 * Differential tests of the whole-host file readers: the addon (native/sextant_host.c) and the
 * pure-TypeScript fallback (src/native/host-parse.ts) must return the same slots, the same row
 * names and the same errors for the captured hosts, the live /proc and bad input.
 */

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/hosts');
const HOSTS = ['h100-cgroup2', 'vm-hybrid-docker'];
const FILES: [L.HostFileKind, string][] = [
  [L.HOST_STAT, 'stat'],
  [L.HOST_MEMINFO, 'meminfo'],
  [L.HOST_VMSTAT, 'vmstat'],
  [L.HOST_DISKSTATS, 'diskstats'],
  [L.HOST_NET_DEV, 'net/dev'],
  [L.HOST_LOADAVG, 'loadavg'],
  [L.HOST_PRESSURE, 'pressure/cpu'],
  [L.HOST_PRESSURE, 'pressure/memory'],
  [L.HOST_PRESSURE, 'pressure/io'],
];

const loaded = loadProcReader({ native: true, logger: silentLogger() });
const hasNative = presentOrSkip(loaded.implementation === 'native', 'the native addon', 'npm ci builds it (g++, make, python3)');

interface Read {
  need: number;
  values: number[];
  names: readonly string[];
  error: string;
}

/** One read, growing `out` as the reader asks; the slots it filled, its names or its error. */
function read(reader: ProcReader, kind: L.HostFileKind, file: string, start = L.HOST_MIN_OUT): Read {
  let out = new Float64Array(start);
  let need = reader.readHostFile(kind, file, out);
  if (need > out.length) {
    out = new Float64Array(need);
    need = reader.readHostFile(kind, file, out);
  }
  if (need < 0) return { need, values: [], names: [], error: reader.hostError };
  const values = Array.from(out.subarray(0, need));
  // The generation is a change signal whose numbering is the reader's own (the addon's count is
  // per process, shared by its readers): compared through the names instead.
  values[L.HOST_NAMES_GEN] = 0;
  return { need, values, names: [...reader.hostNames(kind)], error: '' };
}

describe('host files: fallback alone', () => {
  it.each(HOSTS)('reads every file of %s without a malformed line', (host) => {
    const js = new JsProcReader();
    for (const [kind, file] of FILES) {
      const p = path.join(FIXTURES, host, 'proc', file);
      if (!existsSync(p)) continue;
      const r = read(js, kind, p);
      expect(r.error, file).toBe('');
      expect(r.values[L.HOST_MALFORMED], file).toBe(0);
    }
  });

  it('hands out the same names array until the set changes', () => {
    const dir = tmpDir('host-names');
    try {
      const js = new JsProcReader();
      const f = path.join(dir, 'dev');
      const line = (n: string): string => `  ${n}: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n`;
      writeFileSync(f, `Inter-|\n face |\n${line('lo')}${line('eth0')}`);
      const out = new Float64Array(64);
      js.readHostFile(L.HOST_NET_DEV, f, out);
      const gen = out[L.HOST_NAMES_GEN];
      const a = js.hostNames(L.HOST_NET_DEV);
      expect(a).toEqual(['lo', 'eth0']);
      js.readHostFile(L.HOST_NET_DEV, f, out);
      expect(out[L.HOST_NAMES_GEN]).toBe(gen);
      expect(js.hostNames(L.HOST_NET_DEV)).toBe(a);
      writeFileSync(f, `${line('lo')}${line('eth1')}`);
      js.readHostFile(L.HOST_NET_DEV, f, out);
      expect(out[L.HOST_NAMES_GEN]).not.toBe(gen);
      expect(js.hostNames(L.HOST_NET_DEV)).toEqual(['lo', 'eth1']);
    } finally {
      removeDir(dir);
    }
  });

  it('rejects bad arguments before reading', () => {
    const js = new JsProcReader();
    expect(() => js.readHostFile(7 as L.HostFileKind, '/proc/stat', new Float64Array(16))).toThrow(TypeError);
    expect(() => js.readHostFile(L.HOST_STAT, '/proc/stat', new Float64Array(15))).toThrow(TypeError);
    expect(() => js.readHostFile(L.HOST_STAT, '/proc/\0stat', new Float64Array(16))).toThrow(TypeError);
  });
});

describe.runIf(hasNative)('host files: addon and fallback agree', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('host-files');
  });
  afterAll(() => removeDir(dir));

  /** Fresh readers per comparison so the names generations start equal. */
  function both(kind: L.HostFileKind, file: string, start?: number): void {
    const js = read(new JsProcReader(), kind, file, start);
    const nat = read(loadProcReader({ native: true, logger: silentLogger() }), kind, file, start);
    expect(nat).toEqual(js);
  }

  it.each(HOSTS)('on every file of %s', (host) => {
    for (const [kind, file] of FILES) {
      const p = path.join(FIXTURES, host, 'proc', file);
      if (existsSync(p)) both(kind, p);
    }
  });

  it('on a too-small out array: the same header and the same size asked for', () => {
    const p = path.join(FIXTURES, HOSTS[0]!, 'proc/stat');
    const js = new JsProcReader();
    const nat = loadProcReader({ native: true, logger: silentLogger() });
    const a = new Float64Array(L.HOST_MIN_OUT);
    const b = new Float64Array(L.HOST_MIN_OUT);
    const na = js.readHostFile(L.HOST_STAT, p, a);
    expect(nat.readHostFile(L.HOST_STAT, p, b)).toBe(na);
    expect(na).toBeGreaterThan(L.HOST_MIN_OUT);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('on the same errors', () => {
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(L.HOST_FILE_CAP + 1, 0x31));
    writeFileSync(path.join(dir, 'exact'), Buffer.alloc(L.HOST_FILE_CAP, 0x31));
    mkdirSync(path.join(dir, 'adir'), { recursive: true });
    const cases: [string, string][] = [
      [path.join(dir, 'missing'), 'ENOENT'],
      [path.join(dir, 'adir'), 'EISDIR'],
      [path.join(dir, 'big'), 'EFBIG'],
      [path.join(dir, 'exact', 'x'), 'ENOTDIR'],
    ];
    for (const [p, code] of cases) {
      expect(read(new JsProcReader(), L.HOST_STAT, p).error).toBe(code);
      both(L.HOST_STAT, p);
    }
    // Exactly the cap is read (and is one malformed-free junk line), not refused.
    expect(read(new JsProcReader(), L.HOST_MEMINFO, path.join(dir, 'exact')).values[L.HOST_MALFORMED]).toBe(1);
    both(L.HOST_MEMINFO, path.join(dir, 'exact'));
  });

  it('on the live /proc: stable fields exactly, counters between two fallback reads', () => {
    const live: [L.HostFileKind, string][] = FILES.map(([k, f]) => [k, f === 'net/dev' ? '/proc/net/dev' : `/proc/${f}`]);
    for (const [kind, file] of live) {
      const js = new JsProcReader();
      const nat = loadProcReader({ native: true, logger: silentLogger() });
      const a = read(js, kind, file);
      const n = read(nat, kind, file);
      const b = read(js, kind, file);
      if (a.error !== '') {
        expect(n.error, file).toBe(a.error); // no PSI on this kernel, say
        continue;
      }
      expect(n.names, file).toEqual(a.names);
      expect(n.values.length, file).toBe(a.values.length);
      expect(n.values[L.HOST_MALFORMED], file).toBe(0);
      expect(n.values[L.HOST_ROWS], file).toBe(a.values[L.HOST_ROWS]);
      const between = (i: number): void => {
        expect(n.values[i]!, `${file}[${i}]`).toBeGreaterThanOrEqual(a.values[i]!);
        expect(n.values[i]!, `${file}[${i}]`).toBeLessThanOrEqual(b.values[i]!);
      };
      switch (kind) {
        case L.HOST_STAT:
          expect(Math.abs(n.values[L.STAT_BTIME]! - a.values[L.STAT_BTIME]!)).toBeLessThanOrEqual(1);
          between(L.STAT_PROCESSES);
          for (let r = 0; r < a.values[L.HOST_ROWS]!; r++) {
            const at = L.STAT_ROW_START + r * L.STAT_ROW_SIZE;
            expect(n.values[at]).toBe(a.values[at]);
            // iowait (mode 4) may go backwards on some kernels; the other modes only grow.
            for (const m of [0, 1, 2, 3, 5, 6, 7]) between(at + 1 + m);
          }
          break;
        case L.HOST_MEMINFO:
          for (const k of ['MemTotal', 'SwapTotal'] as const) {
            const i = L.MEMINFO_START + L.MEMINFO_KEYS.indexOf(k);
            expect(n.values[i], k).toBe(a.values[i]);
          }
          break;
        case L.HOST_VMSTAT:
          for (let i = L.VMSTAT_START; i < L.VMSTAT_SIZE; i++) between(i);
          break;
        case L.HOST_DISKSTATS:
          for (let r = 0; r < a.values[L.HOST_ROWS]!; r++) {
            const at = L.DISK_ROW_START + r * L.DISK_ROW_SIZE;
            expect(n.values.slice(at, at + 2)).toEqual(a.values.slice(at, at + 2));
            for (let k = 0; k < 11; k++) if (k !== 8) between(at + 2 + k);
          }
          break;
        case L.HOST_NET_DEV:
          for (let i = L.NET_ROW_START; i < a.values.length; i++) between(i);
          break;
        case L.HOST_LOADAVG:
          expect(n.values[L.HOST_ROWS]).toBe(1);
          break;
        default:
          between(L.PSI_SOME + 3);
          if (!Number.isNaN(a.values[L.PSI_FULL + 3]!)) between(L.PSI_FULL + 3);
      }
    }
  });

  it('on bad input: truncated at every byte, binary, invalid UTF-8, empty, long lines, huge numbers', () => {
    const f = path.join(dir, 'bad');
    const random = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256));
    const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x20, 0xc3, 0x28, 0x0a, 0x80, 0x31, 0x3a, 0x20, 0xe2, 0x82, 0x0a]);
    const samples: [L.HostFileKind, Buffer][] = FILES.map(([k, file]) => [k, readFileSync(path.join(FIXTURES, HOSTS[0]!, 'proc', file))]);
    const check = (kind: L.HostFileKind, bytes: Buffer): void => {
      writeFileSync(f, bytes);
      both(kind, f);
    };
    const big = ['9007199254740991', '9007199254740992', '99999999999999999', '18446744073709551615', '18446744073709551616', '1'.repeat(40)];
    for (const [kind, sample] of samples) {
      // Every prefix (capped at 2.5 KiB so the file stays quick), in both readers.
      for (let i = 0; i <= Math.min(sample.length, 2560); i++) check(kind, sample.subarray(0, i));
      for (const bad of [Buffer.alloc(0), Buffer.from('\n'), Buffer.alloc(64), random, invalidUtf8, Buffer.from(sample.toString('latin1').replace(/\d/g, 'x'), 'latin1')]) check(kind, bad);
      check(kind, Buffer.concat([sample, Buffer.from(`\n${'x '.repeat(100_000)}\n`)]));
      check(kind, Buffer.from('9'.repeat(200_000)));
      for (const n of big) check(kind, Buffer.from(sample.toString('latin1').replace(/\d+/g, n), 'latin1'));
    }
    // Names with invalid UTF-8 decode the same way on both sides.
    check(L.HOST_DISKSTATS, Buffer.concat([Buffer.from(' 8 0 sd'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(' 1 2 3 4 5 6 7 8 9 10 11\n')]));
    check(L.HOST_NET_DEV, Buffer.concat([Buffer.from(' e\u00e9'), Buffer.from([0xe2, 0x82]), Buffer.from(': 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n')]));
    // Decimals: every value the kernel prints, and the edges of what we accept.
    for (const s of ['0.00 0.01 0.99 1/2 3', '100.00 99.99 12.34 1/1 1', '1.5 .5 1', '123456789012345.1 1 1', '1e3 1 1', '1 2 -3']) check(L.HOST_LOADAVG, Buffer.from(s));
    for (const s of ['some avg10=100.00 avg60=100.01 avg300=0.123456 total=1\nfull avg10=0.1234567 avg60=1 avg300=1 total=2\n', 'some total=1 avg300=1 avg60=1 avg10=1 x=y\n']) check(L.HOST_PRESSURE, Buffer.from(s));
  });
});
