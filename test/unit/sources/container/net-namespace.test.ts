import { cpSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncCgroupFileReader } from '../../../../src/sources/lib/cgroup/cgroup-file-sync.js';
import { netNamespaceId, parseNamespaceLink, readNetDev } from '../../../../src/sources/container/net-namespace.js';
import { NET_RX_BYTES } from '../../../../src/sources/lib/net-dev.js';

const HOSTS = new URL('../../../fixtures/hosts/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'sextant-netns-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake host root with /proc/<pid>/ns/net (a link to the given text) and /proc/<pid>/net/dev. */
function host(pid: number, link: string | undefined, netDev: string | undefined): string {
  const root = join(tmp, `h${pid}`);
  mkdirSync(join(root, 'proc', String(pid), 'ns'), { recursive: true });
  mkdirSync(join(root, 'proc', String(pid), 'net'), { recursive: true });
  if (link !== undefined) symlinkSync(link, join(root, 'proc', String(pid), 'ns/net'));
  if (netDev !== undefined) writeFileSync(join(root, 'proc', String(pid), 'net/dev'), netDev);
  return root;
}

describe('parseNamespaceLink', () => {
  it('reads the inode', () => {
    expect(parseNamespaceLink('net:[4026531992]', 'net')).toBe(4026531992);
    expect(parseNamespaceLink('net:[1]', 'net')).toBe(1);
  });

  it.each(['', 'net:', 'net:[]', 'net:[12', 'net:12]', 'mnt:[4026531992]', 'net:[40265x1992]', 'net:[-1]', `net:[${'9'.repeat(25)}]`, 'netx:[1]', 'net:[1]\n'])(
    'refuses %j',
    (link) => {
      expect(parseNamespaceLink(link, 'net')).toBeUndefined();
    },
  );
});

describe('netNamespaceId', () => {
  it('of this process, on the real /proc', async () => {
    const want = parseNamespaceLink(readlinkSync('/proc/self/ns/net'), 'net');
    expect(await netNamespaceId('/', process.pid)).toBe(want);
    expect(await netNamespaceId('', process.pid)).toBe(want);
  });

  it('under a host root', async () => {
    expect(await netNamespaceId(host(101, 'net:[4026532301]', undefined), 101)).toBe(4026532301);
    expect(await netNamespaceId(host(102, 'garbage', undefined) + '/', 102)).toBeUndefined();
  });

  it('a vanished pid is undefined and counted as gone; a bad pid is never looked up', async () => {
    const counts = { gone: 0, failed: 0 };
    expect(await netNamespaceId(tmp, 999_999, counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 1, failed: 0 });
    for (const pid of [0, -1, 1.5, Number.NaN]) expect(await netNamespaceId('/', pid, counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 1, failed: 0 });
  });

  it('something that is not a link is counted as failed', async () => {
    const root = host(103, undefined, undefined);
    writeFileSync(join(root, 'proc/103/ns/net'), 'x');
    const counts = { gone: 0, failed: 0 };
    expect(await netNamespaceId(root, 103, counts)).toBeUndefined();
    expect(counts).toEqual({ gone: 0, failed: 1 });
  });
});

describe('readNetDev', () => {
  it('every interface of the captured host, lo included', async () => {
    const root = host(201, undefined, undefined);
    cpSync(join(HOSTS, 'vm-hybrid-docker/proc/net/dev'), join(root, 'proc/201/net/dev'));
    const dev = (await readNetDev(root, 201, new SyncCgroupFileReader()))!;
    expect(dev.malformed).toBe(0);
    expect(dev.interfaces.map((i) => i.name)).toContain('lo');
    expect(dev.interfaces.every((i) => i.fields.length === 16 && !Number.isNaN(i.fields[NET_RX_BYTES]!))).toBe(true);
  });

  it('of this process, on the real /proc', async () => {
    const dev = (await readNetDev('/', process.pid, new SyncCgroupFileReader()))!;
    expect(dev.interfaces.map((i) => i.name)).toContain('lo');
  });

  it('a vanished pid: undefined, counted as gone', async () => {
    const files = new SyncCgroupFileReader();
    expect(await readNetDev(tmp, 999_999, files)).toBeUndefined();
    expect(await readNetDev(tmp, 0, files)).toBeUndefined();
    expect([files.gone, files.failed]).toEqual([1, 0]);
  });

  it('bad input: junk, truncated, empty — parsed, never thrown', async () => {
    const junk = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919 + 3) % 256)).toString('latin1');
    const good = 'Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n';
    for (const [pid, text] of [[301, ''], [302, junk], [303, good.slice(0, good.length - 10)], [304, good]] as const) {
      const dev = (await readNetDev(host(pid, undefined, text), pid, new SyncCgroupFileReader()))!;
      expect(dev).toBeDefined();
      if (pid === 303) expect([dev.interfaces.length, dev.malformed]).toEqual([0, 1]);
      if (pid === 304) expect(dev.interfaces.map((i) => [i.name, i.fields[NET_RX_BYTES]])).toEqual([['lo', 1]]);
    }
  });
});
