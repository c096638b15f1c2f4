import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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
 * The log source end to end on real files: kubelet-style CRI files written, rotated by rename
 * and copytruncated while the source runs, into a sink that acknowledges like the pipeline does
 * (or refuses, like a full ring). Real writers (containers) are in test/integration/.
 */

const tmp = mkdtempSync(join(tmpdir(), 'sextant-logsrc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const UID = '5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab';
const DIR = `var/log/pods/shop_web-7d9_${UID}/web`;


function criLine(i: number, stream = 'stdout'): string {
  const ns = String(i % 1_000_000_000).padStart(9, '0');
  return `2026-11-25T10:00:00.${ns}Z ${stream} F {"level":"info","msg":"line","n=${i}":1}\n`;
}

function setup(over: { readFrom?: 'end' | 'beginning'; maxRecordBytes?: number; multilineStart?: string; multilineContainers?: string[]; rotateWaitMs?: number } = {}) {
  const root = join(tmp, `h${n++}`);
  mkdirSync(join(root, DIR), { recursive: true });
  const state = join(root, 'state');
  mkdirSync(state);
  const make = () =>
    new LogSource(
      { hostRoot: root, stateDir: state, readFrom: over.readFrom ?? 'beginning', maxRecordBytes: over.maxRecordBytes ?? 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, ...(over.rotateWaitMs === undefined ? {} : { rotateWaitMs: over.rotateWaitMs }), globs: [], nodeName: 'node-1', multilineStart: over.multilineStart ?? '', multilineContainers: over.multilineContainers ?? [] },
      { resource: createResource({ 'host.name': 'node-1' }), registry: new Registry(), logger: silentLogger(), version: 't' },
    );
  return { root, file: join(root, DIR, '0.log'), make };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

/**
 * Writes lines [0, n) to the harness's file, starts a source on it and waits until the sink has
 * them all; a source whose first lines never come is stopped before the failure is thrown.
 */
async function startedOn(h: ReturnType<typeof setup>, n: number, sink = new AckingSink()): Promise<{ src: LogSource; sink: AckingSink }> {
  writeFileSync(h.file, range(0, n).map((i) => criLine(i)).join(''));
  const src = h.make();
  src.start(sink);
  try {
    await until(`${n} records`, () => sink.logs.length === n);
  } catch (err) {
    await src.stop();
    await src.afterFlush();
    throw err;
  }
  return { src, sink };
}

/** The offset the source last wrote to its checkpoint file for `file` (-1 before it wrote one). */
function checkpointOffset(root: string, file: string): number {
  let text: string;
  try {
    text = readFileSync(join(root, 'state', 'checkpoints.json'), 'utf8');
  } catch {
    return -1;
  }
  const entries = JSON.parse(text.split('\n')[1] ?? '[]') as { path: string; offset: number }[];
  return entries.find((e) => e.path === file)?.offset ?? -1;
}

/** Waits until the checkpoint written for `file` is at `offset` (default: the file's size). */
async function checkpointAt(h: { root: string; file: string }, offset = statSync(h.file).size): Promise<void> {
  await until(`the checkpoint of ${h.file} at ${offset}`, () => checkpointOffset(h.root, h.file) === offset);
}

describe('LogSource', () => {
  it('reads a CRI file: every line once, with the CRI time, the stream, the pod from the path, severity from the body', async () => {
    const h = setup();
    let text = '';
    for (let i = 0; i < 1000; i++) text += criLine(i, i % 10 === 0 ? 'stderr' : 'stdout');
    // A record split in P pieces.
    text += '2026-11-25T10:00:01.000000000Z stdout P {"level":"error","n=1000":1,\n2026-11-25T10:00:01.000000001Z stdout F "rest":true}\n';
    writeFileSync(h.file, text);
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until('1001 records', () => sink.logs.length === 1001);
      expect(sink.numbers()).toEqual(range(0, 1001));
      const r0 = sink.logs[0]!;
      expect(r0.attributes['log.iostream']).toBe('stderr');
      expect(r0.timeUnixNano).toBe(1795600800000000000n);
      expect(r0.severityText).toBe('INFO');
      expect(r0.resource.attributes).toMatchObject({
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'web-7d9',
        'k8s.pod.uid': UID,
        'k8s.container.name': 'web',
        'k8s.container.restart_count': 0,
        'k8s.node.name': 'node-1',
        'log.file.path': h.file,
      });
      const merged = sink.logs[1000]!;
      expect(merged.body).toBe('{"level":"error","n=1000":1,"rest":true}');
      expect(merged.severityText).toBe('ERROR');
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('rotation by rename while writing and copytruncate: every line arrives, none twice', async () => {
    const h = setup();
    writeFileSync(h.file, '');
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      let i = 0;
      for (let round = 0; round < 5; round++) {
        for (let k = 0; k < 300; k++) appendFileSync(h.file, criLine(i++));
        await new Promise((r) => setTimeout(r, 50));
        // kubelet's rotation: rename, then the runtime opens a new file.
        renameSync(h.file, `${h.file}.20261125-10000${round}`);
        writeFileSync(h.file, '');
        await new Promise((r) => setTimeout(r, 30));
      }
      for (let k = 0; k < 300; k++) appendFileSync(h.file, criLine(i++));
      await until(`${i} records`, () => sink.logs.length >= i, 15_000).catch(() => undefined);
      const got = sink.numbers().sort((a, b) => a - b);
      const missing = range(0, i).filter((x) => !got.includes(x));
      expect({ missing: missing.length, first: missing.slice(0, 5), doubled: got.length - new Set(got).size }).toEqual({ missing: 0, first: [], doubled: 0 });
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  }, 30_000);

  it('a rotated file finished while its acks are pending is not read again at the next scans', async () => {
    const h = setup();
    const ackless = new AckingSink();
    ackless.ack = false; // the endpoint is slow: nothing acknowledged during the test
    const { src, sink } = await startedOn(h, 200, ackless);
    try {
      renameSync(h.file, `${h.file}.20261125-100000`);
      writeFileSync(h.file, range(200, 300).map((i) => criLine(i)).join(''));
      await until('300 records', () => sink.logs.length >= 300);
      await new Promise((r) => setTimeout(r, 700)); // several rescans (200 ms) and watch hints
      expect(sink.numbers()).toEqual(range(0, 300));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a rotated file its writer adds to after the new file took the name (containerd drains its old pipe after ReopenContainerLog) is read on through the same descriptor, once, then let go after rotateWait', async () => {
    const h = setup({ rotateWaitMs: 1_500 });
    const ackless = new AckingSink();
    ackless.ack = false; // acks pending: reopening the file from its checkpoint would read 0–199 again
    const { src, sink } = await startedOn(h, 200, ackless);
    try {
      const rotated = `${h.file}.20261125-100000`;
      renameSync(h.file, rotated);
      writeFileSync(h.file, range(200, 300).map((i) => criLine(i)).join(''));
      await until('300 records', () => sink.logs.length >= 300);
      // The new file is read, so the old one was seen renamed away and read to its end; its
      // writer still adds a line now and then, each before the wait ran out.
      for (let i = 300; i < 303; i++) {
        await new Promise((r) => setTimeout(r, 700));
        appendFileSync(rotated, criLine(i));
      }
      await until('303 records', () => sink.logs.length >= 303);
      expect(src.files).toBe(2); // still held: it grew less than rotateWait ago
      await until('the rotated file let go', () => src.files === 1, 5_000);
      await new Promise((r) => setTimeout(r, 500)); // rescans see it finished: no repeat follows
      expect(sink.numbers()).toEqual(range(0, 303));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a line containerd splits across a rotation (P at the old file\'s end, written after the new file began; the rest first in the new file) is one record, and neither file is read again after a restart', async () => {
    const h = setup({ rotateWaitMs: 1_000 });
    const { src, sink } = await startedOn(h, 100);
    let restarted: LogSource | undefined;
    try {
      const rotated = `${h.file}.20261125-100000`;
      renameSync(h.file, rotated);
      // The new writer starts with the rest of line 100; the old writer drains its pipe a moment
      // later and ends the old file with the line's first part, tagged P.
      writeFileSync(h.file, `2026-11-25T10:00:01.000000000Z stdout F ne","n=100":1}\n${range(101, 200).map((i) => criLine(i)).join('')}`);
      await new Promise((r) => setTimeout(r, 30));
      appendFileSync(rotated, '2026-11-25T10:00:01.000000001Z stdout P {"level":"info","msg":"li\n');
      await until('200 records', () => sink.logs.length >= 200);
      await until('the rotated file let go', () => src.files === 1, 5_000);
      expect(sink.logs.find((r) => r.body.includes('n=100'))?.body).toBe('{"level":"info","msg":"line","n=100":1}');
      expect(sink.numbers()).toEqual(range(0, 200)); // no fragment: every body has its number
      await src.stop();
      await src.afterFlush();
      // Both files' checkpoints passed the joined line: a restart reads neither part again.
      appendFileSync(h.file, criLine(200));
      const again = new AckingSink();
      restarted = h.make();
      restarted.start(again);
      await until('the line written after the restart', () => again.numbers().includes(200));
      await new Promise((r) => setTimeout(r, 500));
      expect(again.logs.map((r) => r.body)).toEqual(['{"level":"info","msg":"line","n=200":1}']);
    } finally {
      await src.stop();
      await src.afterFlush();
      await restarted?.stop();
      await restarted?.afterFlush();
    }
  });

  it('a file renamed again before the agent opened it at its live name (two rotations in one stall) still passes the line it ends mid-way to the file after it', async () => {
    const h = setup({ rotateWaitMs: 1_000 });
    const { src, sink } = await startedOn(h, 100);
    try {
      // All in one turn of the event loop: the agent never sees the middle file as 0.log.
      renameSync(h.file, `${h.file}.20261125-100000`);
      writeFileSync(h.file, `${range(100, 200).map((i) => criLine(i)).join('')}2026-11-25T10:00:01.000000000Z stdout P {"level":"info","msg":"li\n`);
      renameSync(h.file, `${h.file}.20261125-100001`);
      writeFileSync(h.file, `2026-11-25T10:00:01.000000001Z stdout F ne","n=200":1}\n${range(201, 300).map((i) => criLine(i)).join('')}`);
      await until('300 records', () => sink.logs.length >= 300, 10_000);
      expect(sink.logs.find((r) => r.body.includes('n=200'))?.body).toBe('{"level":"info","msg":"line","n=200":1}');
      expect(sink.numbers()).toEqual(range(0, 300));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a renamed file its writer never leaves (renamed by hand, no runtime switched files) holds the new file back no longer than rotateWait', async () => {
    const h = setup({ rotateWaitMs: 1_000 });
    const { src, sink } = await startedOn(h, 10);
    const rotated = `${h.file}.20261125-100000`;
    let next = 10;
    let writer: NodeJS.Timeout | undefined;
    try {
      renameSync(h.file, rotated);
      writer = setInterval(() => appendFileSync(rotated, criLine(next++)), 100);
      const t0 = Date.now();
      writeFileSync(h.file, criLine(1_000_000));
      await until('the new file read while the old one still grows', () => sink.numbers().includes(1_000_000), 3_000);
      expect(Date.now() - t0).toBeLessThan(2_500);
      clearInterval(writer);
      await until('every line of the old file', () => range(0, next).every((n) => sink.numbers().includes(n)), 5_000);
      expect(sink.numbers().length).toBe(next + 1);
    } finally {
      clearInterval(writer);
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a file deleted while being read is read to its end through the open handle, then let go', async () => {
    const h = setup();
    writeFileSync(h.file, range(0, 3000).map((i) => criLine(i)).join(''));
    const sink = new AckingSink();
    sink.capacity = 100; // it stops early: most of the file is still unread when it is deleted
    const src = h.make();
    src.start(sink);
    try {
      await until('a full sink', () => sink.full);
      rmSync(h.file);
      sink.drain();
      await until('3000 records', () => sink.logs.length === 3000);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.numbers()).toEqual(range(0, 3000));
      expect(src.files).toBe(0);
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('copytruncate: the content after the truncation is read from its start', async () => {
    const h = setup();
    const { src, sink } = await startedOn(h, 100);
    try {
      truncateSync(h.file, 0);
      appendFileSync(h.file, range(100, 150).map((i) => criLine(i)).join(''));
      await until('150 records', () => sink.logs.length === 150);
      expect(sink.numbers()).toEqual(range(0, 150));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('a full ring stops the reading and drain resumes it: nothing lost, nothing doubled', async () => {
    const h = setup();
    writeFileSync(h.file, range(0, 5000).map((i) => criLine(i)).join(''));
    const sink = new AckingSink();
    sink.capacity = 700;
    const src = h.make();
    src.start(sink);
    try {
      await until('a full sink', () => sink.full);
      await new Promise((r) => setTimeout(r, 300));
      expect(sink.logs.length).toBe(700); // stopped, not dropping
      sink.drain();
      await until('5000 records', () => sink.logs.length === 5000);
      expect(sink.numbers()).toEqual(range(0, 5000));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('restart: resumes at the acknowledged checkpoint; unacknowledged records are read again, acknowledged ones are not', async () => {
    const h = setup();
    writeFileSync(h.file, range(0, 1000).map((i) => criLine(i)).join(''));
    const first = new AckingSink();
    first.ack = false;
    const src1 = h.make();
    src1.start(first);
    await until('1000 records', () => first.logs.length === 1000);
    // The endpoint acknowledged the first 600 only.
    for (const r of first.logs.slice(0, 600)) r.ack!.settle(r.ackToken!, true);
    await checkpointAt(h, range(0, 600).map((i) => criLine(i)).join('').length);
    await src1.stop();
    await src1.afterFlush();
    appendFileSync(h.file, range(1000, 1100).map((i) => criLine(i)).join(''));
    const second = new AckingSink();
    const src2 = h.make();
    src2.start(second);
    try {
      await until('500 records', () => second.logs.length === 500);
      expect(second.numbers()).toEqual(range(600, 1100));
    } finally {
      await src2.stop();
      await src2.afterFlush();
    }
  });

  describe('readFrom end: only the very first start reads existing files from their end', () => {
    /** Runs a source until `count` records arrived and a checkpoint was written, then abandons it like kill -9 (no afterFlush). */
    async function runThenKill(h: ReturnType<typeof setup>, count: number): Promise<AckingSink> {
      const sink = new AckingSink();
      const src = h.make();
      src.start(sink);
      await until(`${count} records`, () => sink.logs.length >= count);
      await checkpointAt(h);
      await src.stop();
      return sink;
    }

    it('a restart resumes every known file at its checkpoint: lines written while the agent was down are read', async () => {
      const h = setup({ readFrom: 'end' });
      writeFileSync(h.file, range(0, 100).map((i) => criLine(i)).join(''));
      const first = new AckingSink();
      const src1 = h.make();
      src1.start(first);
      await until('the first scan', () => src1.files === 1); // from the end: nothing read
      appendFileSync(h.file, range(100, 150).map((i) => criLine(i)).join(''));
      await until('50 records', () => first.logs.length === 50);
      expect(first.numbers()).toEqual(range(100, 150));
      await checkpointAt(h);
      await src1.stop(); // killed: no afterFlush
      appendFileSync(h.file, range(150, 220).map((i) => criLine(i)).join(''));
      const second = new AckingSink();
      const src2 = h.make();
      src2.start(second);
      try {
        await until('70 records', () => second.logs.length === 70);
        expect(second.numbers()).toEqual(range(150, 220));
      } finally {
        await src2.stop();
        await src2.afterFlush();
      }
    });

    it('a file created while the agent was down is read from its start', async () => {
      const h = setup({ readFrom: 'end' });
      writeFileSync(h.file, criLine(0));
      const first = await runThenKill(h, 0);
      expect(first.logs).toEqual([]);
      const other = join(h.root, `var/log/pods/shop_api-5c4_${UID.replace('5f0c', '6a1d')}/api`);
      mkdirSync(other, { recursive: true });
      writeFileSync(join(other, '0.log'), range(0, 30).map((i) => criLine(i)).join(''));
      const second = new AckingSink();
      const src2 = h.make();
      src2.start(second);
      try {
        await until('30 records', () => second.logs.length === 30);
        expect(second.numbers()).toEqual(range(0, 30));
      } finally {
        await src2.stop();
        await src2.afterFlush();
      }
    });

    it('a file rotated by rename while the agent was down: the rest of the old file from its checkpoint, then the new file from its start', async () => {
      const h = setup({ readFrom: 'end' });
      writeFileSync(h.file, '');
      const first = new AckingSink();
      const src1 = h.make();
      src1.start(first);
      await until('the first scan', () => src1.files === 1);
      appendFileSync(h.file, range(0, 40).map((i) => criLine(i)).join(''));
      await until('40 records', () => first.logs.length === 40);
      await checkpointAt(h);
      await src1.stop(); // killed
      appendFileSync(h.file, range(40, 60).map((i) => criLine(i)).join(''));
      renameSync(h.file, `${h.file}.20261125-100000`);
      writeFileSync(h.file, range(60, 75).map((i) => criLine(i)).join(''));
      const second = new AckingSink();
      const src2 = h.make();
      src2.start(second);
      try {
        await until('35 records', () => second.logs.length >= 35);
        await new Promise((r) => setTimeout(r, 300));
        expect(second.numbers().sort((a, b) => a - b)).toEqual(range(40, 75));
      } finally {
        await src2.stop();
        await src2.afterFlush();
      }
    });
  });

  it('shutdown: records the pipeline discards hold the checkpoint back, delivered ones still advance it', async () => {
    const h = setup();
    writeFileSync(h.file, range(0, 100).map((i) => criLine(i)).join(''));
    const sink = new AckingSink();
    sink.ack = false;
    const src = h.make();
    src.start(sink);
    await until('100 records', () => sink.logs.length === 100);
    await src.stop();
    // The flush delivers 0..39, then the deadline discards the rest (settled not ok).
    for (const r of sink.logs.slice(0, 40)) r.ack!.settle(r.ackToken!, true);
    for (const r of sink.logs.slice(40)) r.ack!.settle(r.ackToken!, false);
    await src.afterFlush();
    const again = new AckingSink();
    const src2 = h.make();
    src2.start(again);
    try {
      await until('60 records', () => again.logs.length === 60);
      expect(again.numbers()).toEqual(range(40, 100));
    } finally {
      await src2.stop();
      await src2.afterFlush();
    }
  });

  it('multiline: a stack trace becomes one record on the containers it is configured for', async () => {
    const cri = (t: number, body: string): string => `2026-11-25T10:00:00.${String(t).padStart(9, '0')}Z stdout F ${body}\n`;
    const text =
      cri(1, '2026-11-25 ERROR boom n=1') + cri(2, 'java.lang.IllegalStateException: x') + cri(3, '\tat a.b(C.java:1)') + cri(4, '2026-11-25 INFO fine n=2');
    for (const [containers, want] of [
      [['we*'], ['2026-11-25 ERROR boom n=1\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)', '2026-11-25 INFO fine n=2']],
      [['other'], ['2026-11-25 ERROR boom n=1', 'java.lang.IllegalStateException: x', '\tat a.b(C.java:1)', '2026-11-25 INFO fine n=2']],
    ] as const) {
      const h = setup({ multilineStart: '^\\d{4}-\\d{2}-\\d{2} ', multilineContainers: [...containers] });
      writeFileSync(h.file, text);
      const sink = new AckingSink();
      const src = h.make();
      src.start(sink);
      try {
        await until(`${want.length} records`, () => sink.logs.length === want.length);
        await new Promise((r) => setTimeout(r, 100));
        expect(sink.logs.map((l) => l.body)).toEqual(want);
        expect(sink.logs[0]!.timeUnixNano).toBe(1795600800000000001n);
      } finally {
        await src.stop();
        await src.afterFlush();
      }
    }
  });

  it('first start with readFrom=end: existing lines are skipped, new ones are read', async () => {
    const h = setup({ readFrom: 'end' });
    writeFileSync(h.file, range(0, 50).map((i) => criLine(i)).join(''));
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until('the first scan', () => src.files === 1); // from the end: nothing read
      appendFileSync(h.file, range(50, 60).map((i) => criLine(i)).join(''));
      await until('10 records', () => sink.logs.length === 10);
      expect(sink.numbers()).toEqual(range(50, 60));
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });

  it('bad bytes — malformed lines, invalid UTF-8, NUL, a record over the cap — are delivered, marked or counted, never lost', async () => {
    const h = setup({ maxRecordBytes: 64 });
    const big = 'x'.repeat(200);
    writeFileSync(
      h.file,
      Buffer.concat([
        Buffer.from('not a cri line n=1\n'),
        Buffer.from('2026-11-25T10:00:00.000000002Z stdout F bad \xff\xfe utf8 n=2\n', 'latin1'),
        Buffer.from('2026-11-25T10:00:00.000000003Z stdout F nul \u0000 byte n=3\n'),
        Buffer.from(`2026-11-25T10:00:00.000000004Z stdout F n=4 ${big}\n`),
        Buffer.from(criLine(5)),
      ]),
    );
    const sink = new AckingSink();
    const src = h.make();
    src.start(sink);
    try {
      await until('5 records', () => sink.logs.length === 5);
      expect(sink.numbers()).toEqual([1, 2, 3, 4, 5]);
      expect(sink.logs[0]!.body).toBe('not a cri line n=1');
      expect(sink.logs[1]!.body).toContain('\ufffd');
      expect(sink.logs[2]!.body).toContain('\u0000');
      expect(sink.logs[3]!.attributes['sextant.log.truncated']).toBe(true);
      expect(Buffer.byteLength(sink.logs[3]!.body)).toBeLessThanOrEqual(64);
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });
});
