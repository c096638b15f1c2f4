import { describe, expect, it } from 'vitest';
import { parseBlkioStat } from '../../../../../src/sources/lib/cgroup/blkio-stat.js';
import { parseLimit, parseValue } from '../../../../../src/sources/lib/cgroup/cgroup-number.js';
import { parseCpuacctStat, parseCpuStat } from '../../../../../src/sources/lib/cgroup/cpu-stat.js';
import { parseIoStat } from '../../../../../src/sources/lib/cgroup/io-stat.js';
import { parseMemoryEvents, parseOomControl } from '../../../../../src/sources/lib/cgroup/memory-events.js';
import { parseMemoryStat } from '../../../../../src/sources/lib/cgroup/memory-stat.js';
import { availableBytes, workingSetBytes } from '../../../../../src/sources/lib/cgroup/working-set.js';

describe('single values and limits', () => {
  it('reads numbers, `max`, and v1’s unlimited value', () => {
    expect(parseValue('9306112\n')).toBe(9306112);
    expect(parseValue('0')).toBe(0);
    expect(parseLimit('max\n')).toBe(Infinity);
    expect(parseLimit('9223372036854771712\n')).toBe(Infinity); // 4 KiB pages
    expect(parseLimit('9223372036854710272\n')).toBe(Infinity); // 64 KiB pages
    expect(parseLimit('536870912\n')).toBe(536870912);
    expect(parseValue('18446744073709551615')).toBe(2 ** 64 - 1); // u64 max, as a double
  });

  it.each([
    ['empty', ''],
    ['blank', ' \n'],
    ['max where a number belongs', 'max\n'],
    ['negative', '-1\n'],
    ['a sign', '+5'],
    ['past u64', '18446744073709551616'],
    ['21 digits', '000000000000000000001'],
    ['hex', '0x10'],
    ['two numbers', '1 2'],
    ['binary', '\u0000\u0001\u0002'],
    ['invalid UTF-8', Buffer.from([0x31, 0xff, 0x32]).toString('utf8')],
  ])('refuses %s', (_, text) => {
    expect(parseValue(text)).toBeUndefined();
    if (text !== 'max\n') expect(parseLimit(text)).toBeUndefined();
  });

  it('refuses `maxx` and `MAX` as limits', () => {
    expect(parseLimit('maxx')).toBeUndefined();
    expect(parseLimit('MAX')).toBeUndefined();
  });
});

describe('cpu.stat and cpuacct.stat', () => {
  it('reads v2 with throttling', () => {
    const s = parseCpuStat('usage_usec 5713997\nuser_usec 666647\nsystem_usec 5047349\nnice_usec 0\nnr_periods 12\nnr_throttled 3\nthrottled_usec 4500\nnr_bursts 0\nburst_usec 0\n');
    expect(s).toEqual({ usageUsec: 5713997, userUsec: 666647, systemUsec: 5047349, nrPeriods: 12, nrThrottled: 3, throttledUsec: 4500, throttledTimeNs: undefined, malformed: 0 });
  });

  it('reads v1 (throttled_time in ns) and leaves v2 fields undefined', () => {
    const s = parseCpuStat('nr_periods 100\nnr_throttled 7\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n');
    expect(s?.throttledTimeNs).toBe(123456789);
    expect(s?.nrThrottled).toBe(7);
    expect(s?.usageUsec).toBeUndefined();
  });

  it('reads cpuacct.stat ticks', () => {
    expect(parseCpuacctStat('user 13\nsystem 49\n')).toEqual({ userTicks: 13, systemTicks: 49, malformed: 0 });
  });
});

describe('memory files', () => {
  it('reads memory.events and memory.oom_control', () => {
    expect(parseMemoryEvents('low 0\nhigh 4\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n')).toEqual({ low: 0, high: 4, max: 9, oom: 2, oomKill: 1, oomGroupKill: 0, malformed: 0 });
    expect(parseOomControl('oom_kill_disable 0\nunder_oom 1\noom_kill 3\n')).toEqual({ oomKillDisable: false, underOom: true, oomKill: 3, malformed: 0 });
    // Before Linux 4.13 there is no oom_kill line.
    expect(parseOomControl('oom_kill_disable 1\nunder_oom 0\n')?.oomKill).toBeUndefined();
  });

  it('working set is usage minus inactive file, never negative', () => {
    expect(workingSetBytes(1000, 300)).toBe(700);
    expect(workingSetBytes(1000, 1500)).toBe(0);
    expect(workingSetBytes(1000, undefined)).toBe(1000);
    expect(workingSetBytes(undefined, 10)).toBeUndefined();
    expect(availableBytes(1000, 700)).toBe(300);
    expect(availableBytes(500, 700)).toBe(0);
    expect(availableBytes(Infinity, 700)).toBeUndefined();
    expect(availableBytes(undefined, 700)).toBeUndefined();
  });
});

describe('io.stat and blkio', () => {
  it('reads io.stat per device, skips devices without IO, ignores foreign keys', () => {
    const s = parseIoStat('253:0 \n8:16 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0 cost.usage=77\n8:0 rbytes=1 wbytes=2 rios=1 wios=1\n');
    expect(s.devices).toEqual([
      { major: 8, minor: 16, rbytes: 100, wbytes: 200, rios: 3, wios: 4, dbytes: 0, dios: 0 },
      { major: 8, minor: 0, rbytes: 1, wbytes: 2, rios: 1, wios: 1, dbytes: 0, dios: 0 },
    ]);
    expect([s.rbytes, s.wbytes, s.rios, s.wios, s.malformed]).toEqual([101, 202, 4, 5, 0]);
  });

  it('reads blkio.throttle files per device with the grand total', () => {
    const s = parseBlkioStat('8:0 Read 4096\n8:0 Write 512\n8:0 Sync 4608\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 4608\n8:16 Read 1\n8:16 Write 2\n8:16 Total 3\nTotal 4611\n');
    expect(s.devices).toEqual([{ major: 8, minor: 0, read: 4096, write: 512 }, { major: 8, minor: 16, read: 1, write: 2 }]);
    expect([s.read, s.write, s.total, s.malformed]).toEqual([4097, 514, 4611, 0]);
    expect(parseBlkioStat('Total 0\n')).toEqual({ devices: [], read: 0, write: 0, total: 0, malformed: 0 });
  });

  it('counts bad io lines', () => {
    expect(parseIoStat('8:x rbytes=1\n8:0 rbytes=z\n8:0 junk\nnope\n').malformed).toBe(4);
    expect(parseBlkioStat('8:0 Read\n8:0 Read x\nx:0 Read 1\nTotal x\n').malformed).toBe(4);
  });
});

/** Every parser, each with a well-formed sample, for the shared bad-input tests. */
const SAMPLES: ReadonlyArray<readonly [string, (t: string) => unknown, string]> = [
  ['parseValue', parseValue, '623498851\n'],
  ['parseLimit', parseLimit, '9223372036854771712\n'],
  ['parseCpuStat', parseCpuStat, 'usage_usec 623498\nuser_usec 131589\nsystem_usec 491909\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n'],
  ['parseCpuacctStat', parseCpuacctStat, 'user 13\nsystem 49\n'],
  ['parseMemoryStat', parseMemoryStat, 'cache 204800\nrss 122880\ninactive_file 0\ntotal_inactive_file 0\nanon 1052672\n'],
  ['parseMemoryEvents', parseMemoryEvents, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n'],
  ['parseOomControl', parseOomControl, 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n'],
  ['parseIoStat', parseIoStat, '254:0 rbytes=658768896 wbytes=253952 rios=2857 wios=36 dbytes=147456 dios=7\n'],
  ['parseBlkioStat', parseBlkioStat, '8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n'],
];

describe('bad input, every parser', () => {
  it.each(SAMPLES)('%s: truncated at every byte, never throws', (_, parse, sample) => {
    for (let i = 0; i <= sample.length; i++) expect(() => parse(sample.slice(0, i))).not.toThrow();
  });

  it.each(SAMPLES)('%s: empty, binary, invalid UTF-8, huge numbers, huge files', (_, parse, sample) => {
    for (const text of [
      '',
      '\n',
      'max\n',
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 3) % 256)).toString('utf8'),
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]).toString('utf8'),
      sample.replace(/\d+/g, '99999999999999999999999999'),
      sample.repeat(5000),
    ]) {
      expect(() => parse(text)).not.toThrow();
    }
  });

  it('keyed files: empty, `max`, junk give undefined; a huge number is counted, not read', () => {
    for (const parse of [parseCpuStat, parseCpuacctStat, parseMemoryStat, parseMemoryEvents, parseOomControl]) {
      expect(parse('')).toBeUndefined();
      expect(parse('max\n')).toBeUndefined();
      expect(parse('\u0000\u0001garbage')).toBeUndefined();
    }
    const s = parseCpuStat('usage_usec 99999999999999999999999\nuser_usec 5\n');
    expect(s?.usageUsec).toBeUndefined();
    expect(s?.userUsec).toBe(5);
    expect(s?.malformed).toBe(1);
    // A value cut off mid-line: the key without its number is counted.
    expect(parseMemoryEvents('oom 1\noom_kill')).toMatchObject({ oom: 1, oomKill: undefined, malformed: 1 });
  });

  it('io files: empty is no IO, not an error', () => {
    expect(parseIoStat('')).toEqual({ devices: [], rbytes: 0, wbytes: 0, rios: 0, wios: 0, malformed: 0 });
    expect(parseBlkioStat('')).toEqual({ devices: [], read: 0, write: 0, total: undefined, malformed: 0 });
    expect(parseIoStat(`8:0 rbytes=1\n`.repeat(3000)).devices.length).toBe(1024);
  });
});
