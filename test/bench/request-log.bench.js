// The gateway store's request log (issue M2.5): CPU and latency of one synced append, into a
// new segment (each write grows the file: its size, in the inode, is written with the data) and
// into a spare segment written over (the blocks exist: the data alone). One request per sync, as
// a gateway with one sender at a time does. Baseline: the growing segment, in the same run.
//
// Run: node test/bench/run.js request-log. On the built code (dist/).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RequestLog } from '../../dist/gateway/store/request-log.js';

const BODY_BYTES = 35_000; // two 17 KB log requests, what a sync carried on the store bench
const SEGMENT_BYTES = 32 * 1024 * 1024;
const PER_SEGMENT = Math.ceil(SEGMENT_BYTES / (BODY_BYTES + 18));

const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** CPU (every thread: the writes run on libuv's pool) and wall time per append, for `n` appends. */
async function measure(log, n, body) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let seq = 0;
  for (let i = 0; i < n; i++) seq = await log.append('logs', 'protobuf', body);
  const cpu = process.cpuUsage(cpu0);
  return { seq, cpuUs: (cpu.user + cpu.system) / n, wallUs: ((performance.now() - t0) * 1000) / n };
}

export async function run() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sextant-bench-rlog-'));
  const body = Buffer.alloc(BODY_BYTES, 'log line ');
  try {
    const log = await RequestLog.open(dir, 0, () => undefined, SEGMENT_BYTES);
    // Segment 1 fills (growing) and rotates; segment 2 grows: the baseline, measured.
    await measure(log, PER_SEGMENT, body);
    const grow = await measure(log, PER_SEGMENT - 200, body);
    // Segment 1 committed: it becomes the spare, which segment 3 writes over.
    await log.release(PER_SEGMENT);
    const last = await measure(log, 200, body);
    const over = await measure(log, PER_SEGMENT - 400, body);
    await log.close();
    if (over.seq <= last.seq) throw new Error('no appends measured');
    return [
      { measure: 'synced append, growing segment (baseline)', 'CPU µs': fmt(grow.cpuUs), 'latency µs': fmt(grow.wallUs), ratio: '1.00', note: `${PER_SEGMENT - 200} appends of ${fmt(BODY_BYTES)} bytes` },
      {
        measure: 'synced append, spare segment written over',
        'CPU µs': fmt(over.cpuUs),
        'latency µs': fmt(over.wallUs),
        ratio: (over.cpuUs / grow.cpuUs).toFixed(2),
        note: `${PER_SEGMENT - 400} appends; ratio = CPU against the baseline`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
