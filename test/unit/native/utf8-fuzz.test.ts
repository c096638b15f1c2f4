// Random bytes in every string a process has (comm, cmdline, exe target, cgroup path): both
// readers must return the same strings, and the same as WHATWG TextDecoder without `fatal`
// (U+FFFD per maximal invalid subsequence), whatever the bytes and wherever the cap cuts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { js, native, removeDir, statLine, tmpDir, writeProcess } from './proc-tree.js';

const CASES = 300;
const decoder = new TextDecoder();

/** A small deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Bytes that make UTF-8 interesting: ASCII, continuation bytes, every lead byte class,
// overlong leads (C0 C1), surrogate leads (ED A0), out-of-range (F4 90, F5–FF), NUL.
const INTERESTING = [0x00, 0x20, 0x29, 0x28, 0x0a, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90, 0x9f, 0x82, 0xac];

function bytes(rand: () => number, max: number, exclude: number[] = []): Buffer {
  const n = 1 + Math.floor(rand() * max);
  const out: number[] = [];
  while (out.length < n) {
    const r = rand();
    let b: number;
    if (r < 0.15) {
      // A valid multi-byte character, sometimes cut short.
      const ch = Buffer.from(String.fromCodePoint([0xe9, 0x20ac, 0x1f600, 0x10ffff][Math.floor(rand() * 4)]!));
      const keep = rand() < 0.3 ? 1 + Math.floor(rand() * (ch.length - 1)) : ch.length;
      for (const c of ch.subarray(0, keep)) if (!exclude.includes(c)) out.push(c);
      continue;
    }
    b = r < 0.6 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256);
    if (!exclude.includes(b)) out.push(b);
  }
  return Buffer.from(out.slice(0, Math.max(1, n)));
}

function expectedCmdline(raw: Buffer, cap: number): { cmdline: string | undefined; truncated: boolean } {
  let len = Math.min(raw.length, cap);
  while (len > 0 && raw[len - 1] === 0) len--;
  const cut = Buffer.from(raw.subarray(0, len));
  for (let i = 0; i < cut.length; i++) if (cut[i] === 0) cut[i] = 0x20;
  return { cmdline: len > 0 ? decoder.decode(cut) : undefined, truncated: raw.length > cap };
}

describe('invalid UTF-8, fuzzed', () => {
  let root: string;
  const cases: { pid: number; comm: Buffer; cmd: Buffer; exe: Buffer; cg: Buffer; cap: number }[] = [];
  beforeAll(() => {
    root = tmpDir('utf8');
    const rand = prng(0x5e7a47);
    for (let i = 0; i < CASES; i++) {
      const pid = 1000 + i;
      const c = {
        pid,
        comm: bytes(rand, 64),
        cmd: bytes(rand, 300),
        exe: Buffer.concat([Buffer.from('/'), bytes(rand, 100, [0x00])]),
        cg: bytes(rand, 100, [0x0a]),
        cap: 1 + Math.floor(rand() * 320),
      };
      cases.push(c);
      writeProcess(root, String(pid), { stat: statLine(pid, c.comm), cmdline: c.cmd, exe: c.exe, cgroup: Buffer.concat([Buffer.from('0::'), c.cg, Buffer.from('\n')]) });
    }
  });
  afterAll(() => removeDir(root));

  it('decodes like TextDecoder in the JS reader', () => {
    for (const c of cases) {
      const d = js.readProcessDetails(root, c.pid, c.cap)!;
      const want = expectedCmdline(c.cmd, c.cap);
      expect(d.comm).toBe(decoder.decode(c.comm));
      expect(d.cmdline).toBe(want.cmdline);
      expect(d.cmdlineTruncated).toBe(want.truncated);
      expect(d.exe).toBe(decoder.decode(c.exe));
      expect(d.cgroup).toBe(decoder.decode(c.cg));
    }
  });

  it.skipIf(!native)('gives the same strings in the native reader', () => {
    for (const c of cases) {
      expect(native!.readProcessDetails(root, c.pid, c.cap)).toStrictEqual(js.readProcessDetails(root, c.pid, c.cap));
    }
  });
});
