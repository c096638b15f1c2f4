import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/errors.js';
import { PROCESS_SOURCE_DEFAULTS, processSourceConfig } from '../../../../src/sources/process/config.js';
import { containerIdFromCgroup } from '../../../../src/sources/process/container-id.js';
import { capUtf8 } from '../../../../src/sources/process/process-resource.js';
import { ProcessScanner } from '../../../../src/sources/process/scanner.js';
import { TopN } from '../../../../src/sources/process/top-n.js';
import { parsePasswd } from '../../../../src/sources/process/users.js';
import { FakeReader, fakeProc } from './process-test-readers.js';

const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';
const POD = '0f6b3c57-1c1d-4a52-9c53-6f0bd0a7f1e2';

describe('containerIdFromCgroup', () => {
  it.each([
    ['docker, cgroupfs driver (v1 and hybrid v2 line)', `/docker/${ID}`],
    ['docker, systemd driver', `/system.slice/docker-${ID}.scope`],
    ['containerd CRI, systemd driver', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`],
    ['CRI-O', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD.replaceAll('-', '_')}.slice/crio-${ID}.scope`],
    ['kubepods, cgroupfs driver', `/kubepods/burstable/pod${POD}/${ID}`],
    ['kubepods guaranteed, cgroupfs driver', `/kubepods/pod${POD}/${ID}`],
    ['podman', `/machine.slice/libpod-${ID}.scope`],
    ['a nested cgroup inside the container', `/system.slice/docker-${ID}.scope/init.scope`],
    ['docker in a nested cgroup', `/docker/${ID}/app/worker`],
  ])('finds the id: %s', (_, path) => {
    expect(containerIdFromCgroup(path)).toBe(ID);
  });

  it.each([
    ['root', '/'],
    ['a service', '/system.slice/workload.scope'],
    ['a user session', '/user.slice/user-1000.slice/session-3.scope'],
    ['the pod slice itself', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice`],
    ['conmon, CRI-O’s monitor (not the container)', `/machine.slice/crio-conmon-${ID}.scope`],
    ['63 hex', `/docker/${ID.slice(1)}`],
    ['65 hex', `/docker/${ID}0`],
    ['upper-case hex', `/docker/${ID.toUpperCase()}`],
    ['an id deeper than the last three segments', `/docker/${ID}/a/b/c`],
    ['empty', ''],
    ['undefined', undefined],
  ])('finds none: %s', (_, path) => {
    expect(containerIdFromCgroup(path)).toBeUndefined();
  });

  it('survives junk: oversized, random bytes, truncation at every length', () => {
    expect(containerIdFromCgroup(`/docker/${ID}`.padStart(100_000, '/'))).toBeUndefined();
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('utf8');
    expect(containerIdFromCgroup(junk)).toBeUndefined();
    const path = `/system.slice/docker-${ID}.scope`;
    for (let i = 0; i <= path.length; i++) expect(() => containerIdFromCgroup(path.slice(0, i))).not.toThrow();
  });
});

describe('TopN', () => {
  it('keeps the N largest positive values, largest first, ties to the earlier row', () => {
    const top = new TopN(3);
    const values = [5, 0, 9, 1, 9, -3, 7, Number.NaN, 2];
    values.forEach((v, row) => top.offer(row, v));
    expect(Array.from({ length: top.size }, (_, i) => top.row(i))).toEqual([2, 4, 6]);
    top.reset();
    expect(top.size).toBe(0);
    top.offer(1, 1);
    expect(top.size).toBe(1);
  });

  it('matches a full sort on random input', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round++) {
      const values = Array.from({ length: 200 }, () => Math.floor(rnd() * 1000));
      const top = new TopN(10);
      values.forEach((v, row) => top.offer(row, v));
      const want = values
        .map((v, row) => ({ v, row }))
        .filter((x) => x.v > 0)
        .sort((a, b) => b.v - a.v || a.row - b.row)
        .slice(0, 10)
        .map((x) => x.row);
      expect(Array.from({ length: top.size }, (_, i) => top.row(i))).toEqual(want);
    }
  });

  it('N = 0 keeps nothing', () => {
    const top = new TopN(0);
    top.offer(0, 5);
    expect(top.size).toBe(0);
  });
});

describe('parsePasswd', () => {
  it('maps uids to names; the first entry of a uid wins; comments and junk are skipped', () => {
    const m = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\ntoor:x:0:0::/:/bin/sh\nbad line\n:x:5:5::/:\nneg:x:-1:0::/:\nbig:x:99999999999:0::/:\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
    );
    expect([...m]).toEqual([
      [0, 'root'],
      [1000, 'alice'],
      [65534, 'nobody'],
    ]);
  });

  it('survives truncation, random bytes and invalid UTF-8', () => {
    const text = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n';
    for (let i = 0; i <= text.length; i++) expect(() => parsePasswd(text.slice(0, i))).not.toThrow();
    expect(parsePasswd(text.slice(0, 8)).size).toBe(0);
    expect(parsePasswd(text.slice(0, 9)).get(0)).toBe('root');
    const junk = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 256)).toString('utf8');
    expect(() => parsePasswd(junk)).not.toThrow();
  });
});

describe('capUtf8', () => {
  it('cuts at the byte cap without splitting a character', () => {
    expect(capUtf8('abcdef', 4)).toBe('abcd');
    expect(capUtf8('short', 100)).toBe('short');
    // é is 2 bytes, 😀 is 4: a cut inside either backs up to the character's start.
    expect(capUtf8('aé', 2)).toBe('a');
    expect(capUtf8('a😀b', 4)).toBe('a');
    expect(capUtf8('a😀b', 5)).toBe('a😀');
    const big = 'ä'.repeat(100_000);
    const cut = capUtf8(big, 1001);
    expect(Buffer.byteLength(cut)).toBe(1000);
    expect(cut).not.toContain('\ufffd');
  });
});

describe('processSourceConfig', () => {
  it('fills defaults and checks every key by name', () => {
    expect(processSourceConfig()).toEqual(PROCESS_SOURCE_DEFAULTS);
    expect(processSourceConfig({ topByCpu: 0 }).topByCpu).toBe(0);
    expect(() => processSourceConfig({ maxGroups: 0 })).toThrow(ConfigError);
    expect(() => processSourceConfig({ maxGroups: 1.5 })).toThrow(/process\.maxGroups/);
    expect(() => processSourceConfig({ groupBy: 'pod' as never })).toThrow(/process\.groupBy/);
    expect(() => processSourceConfig({ detailsRefreshCycles: 0 }, 'sources.process')).toThrow(/sources\.process\.detailsRefreshCycles/);
    expect(() => processSourceConfig({ maxCmdlineBytes: -1 })).toThrow(/maxCmdlineBytes/);
  });
});

describe('ProcessScanner', () => {
  it('grows the table to a power of two when the host has more processes than rows', () => {
    const reader = new FakeReader();
    for (let pid = 1; pid <= 3000; pid++) reader.add(fakeProc(pid));
    const scanner = new ProcessScanner(reader, '/proc', 1024);
    const t = scanner.scan();
    expect(t.capacity).toBe(4096);
    expect(t.count).toBe(3000);
    expect(reader.scans).toBe(2);
    expect(new Set(t.pid.subarray(0, t.count)).size).toBe(3000);
    // Steady state: one scan per cycle, same table.
    expect(scanner.scan()).toBe(t);
    expect(reader.scans).toBe(3);
    expect(scanner.truncated).toBe(0);
  });

  it('gives up after three scans of a host that grows faster, and says how many it left out', () => {
    const reader = new FakeReader();
    let next = 1;
    const grow = reader.scanProcesses.bind(reader);
    reader.scanProcesses = (dir, t) => {
      for (let i = 0; i < t.capacity * 2; i++) reader.add(fakeProc(next++));
      return grow(dir, t);
    };
    const scanner = new ProcessScanner(reader, '/proc', 16);
    const t = scanner.scan();
    expect(t.count).toBe(t.capacity);
    expect(scanner.truncated).toBeGreaterThan(0);
  });
});
