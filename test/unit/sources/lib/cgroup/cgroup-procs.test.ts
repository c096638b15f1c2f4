import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstPid } from '../../../../../src/sources/lib/cgroup/cgroup-procs.js';

const HOSTS = new URL('../../../../fixtures/hosts/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'sextant-procs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function cgroup(procs: string | Buffer): string {
  const dir = join(tmp, `cg${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cgroup.procs'), procs);
  return dir;
}

describe('firstPid', () => {
  it('the first pid of the captured cgroups', async () => {
    expect(await firstPid(join(HOSTS, 'h100-cgroup2/cg'))).toBe(394);
    expect(await firstPid(join(HOSTS, 'vm-hybrid-docker/cgroup-v2/docker/CID'))).toBe(4342);
  });

  it('reads only the head of a long list; a last line without newline is fine', async () => {
    expect(await firstPid(cgroup(Array.from({ length: 100_000 }, (_, i) => 4194304 - i).join('\n') + '\n'))).toBe(4194304);
    expect(await firstPid(cgroup('42'))).toBe(42);
  });

  it('empty (no process, or a v2 inner node) is undefined and not an error', async () => {
    const counts = { gone: 0, failed: 0 };
    expect(await firstPid(cgroup(''), counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 0, failed: 0 });
  });

  it('gone cgroup: undefined, counted as gone', async () => {
    const counts = { gone: 0, failed: 0 };
    expect(await firstPid(join(tmp, 'nope'), counts)).toBeUndefined();
    expect(await firstPid(join(tmp, 'nope'))).toBeUndefined(); // counts are optional
    expect(counts).toEqual({ gone: 1, failed: 0 });
  });

  it.each([
    ['letters', 'abc\n'],
    ['zero', '0\n'],
    ['negative', '-1\n'],
    ['a blank first', ' 12\n'],
    ['too many digits', '1'.repeat(40)],
    ['binary', Buffer.from([0x00, 0xff, 0x31, 0x0a])],
    ['invalid UTF-8 after digits', Buffer.from([0x31, 0x32, 0xc3, 0x28, 0x0a])],
  ])('%s: undefined, counted as failed', async (_, content) => {
    const counts = { gone: 0, failed: 0 };
    expect(await firstPid(cgroup(content), counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 0, failed: 1 });
  });

  it('a directory where cgroup.procs should be a file is counted as failed', async () => {
    const dir = join(tmp, `cg${n++}`);
    mkdirSync(join(dir, 'cgroup.procs'), { recursive: true });
    const counts = { gone: 0, failed: 0 };
    expect(await firstPid(dir, counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 0, failed: 1 });
  });
});
