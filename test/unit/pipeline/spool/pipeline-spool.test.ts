import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RetryingTransport } from '../../../../src/export/retrying-transport.js';
import type { ExportResult } from '../../../../src/export/types.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type Pipeline, type PipelineConfig } from '../../../../src/pipeline/pipeline.js';
import { DiskSpool } from '../../../../src/pipeline/spool/disk-spool.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { AckRecorder, FakeTransport, log, metric, OK, textCodec, UNAVAILABLE } from '../helpers.js';
import { until } from '../../../helpers/wait.js';

/**
 * The pipeline with a disk spool behind a retrying transport, as the agent wires it: while the
 * endpoint is down the producer keeps offering (batches go to disk, their acks settle once
 * synced), and when it comes back every record arrives once, oldest first. A full spool pushes
 * back on logs and drops metrics as spool_full; a shutdown during the outage leaves what was
 * queued on disk rather than dropping it.
 */

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CONFIG: PipelineConfig = {
  ...DEFAULT_PIPELINE_CONFIG,
  queues: { ...DEFAULT_PIPELINE_CONFIG.queues, logs: { maxItems: 200, maxBytes: 1024 * 1024 }, metrics: { maxItems: 200, maxBytes: 1024 * 1024 } },
  batches: {
    metrics: { maxItems: 50, maxBytes: 64 * 1024, lingerMs: 5, maxRequestBytes: 1024 * 1024 },
    logs: { maxItems: 50, maxBytes: 64 * 1024, lingerMs: 5, maxRequestBytes: 1024 * 1024 },
    events: { maxItems: 50, maxBytes: 64 * 1024, lingerMs: 5, maxRequestBytes: 1024 * 1024 },
  },
};

/** The ids of log records the endpoint took, in the order it took them (kept up to date). */
function deliveredLogIds(fake: FakeTransport): number[] {
  const okIds: number[] = [];
  const base = fake.auto!;
  fake.auto = (req) => {
    const r = base(req);
    if (r.kind === 'success' && req.path === 'logs') okIds.push(...req.ids.map(Number));
    return r;
  };
  return okIds;
}

async function make(o: { maxBytes?: number; dir?: string } = {}) {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'sextant-pspool-'));
  if (o.dir === undefined) dirs.push(dir);
  const fake = new FakeTransport();
  let down = true;
  fake.auto = (): ExportResult => (down ? UNAVAILABLE : OK);
  const registry = new Registry();
  const spool = await DiskSpool.open({ dir, maxBytes: o.maxBytes ?? 64 * 1024 * 1024, syncIntervalMs: 5, logger: silentLogger(), registry });
  let pipeline: Pipeline | undefined;
  const transport = new RetryingTransport(fake, { initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, maxElapsedMs: 0 }, { onRetry: (s, _r, _a, _d, opts) => pipeline?.noteRetry(s, opts) });
  pipeline = createPipeline(CONFIG, { transport, codecs: { metrics: textCodec, logs: textCodec, events: textCodec }, registry, logger: silentLogger(), exportTimeoutMs: 1000, spool });
  pipeline.start();
  const p = pipeline;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await p.close();
  };
  closers.push(close);
  return { dir, fake, registry, pipeline: p, spool, up: () => (down = false), close };
}

/** Offers `n` log lines numbered from `from`, waiting for drain whenever the pipeline pushes back; resolves the count taken. */
async function produce(p: Pipeline, from: number, n: number, ack: AckRecorder, giveUpMs = 3000): Promise<number> {
  let waiting: (() => void) | undefined;
  p.onLogsDrain(() => waiting?.());
  let i = from;
  while (i < from + n) {
    if (p.offerLog(log(String(i), ack, i))) {
      i++;
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      continue;
    }
    const drained = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), giveUpMs);
      waiting = () => {
        clearTimeout(t);
        resolve(true);
      };
    });
    waiting = undefined;
    if (!drained) break;
  }
  return i - from;
}

describe('pipeline with a disk spool', () => {
  it('keeps taking logs through an outage, settles their acks once on disk, then delivers each once, oldest first', async () => {
    const { fake, pipeline, spool, up } = await make();
    const okIds = deliveredLogIds(fake);
    const ack = new AckRecorder();
    const N = 3000;
    expect(await produce(pipeline, 0, N, ack)).toBe(N);
    // Every line is durable on disk while the endpoint is still down: checkpoints may pass them.
    await until('every ack settled ok', () => new Set(ack.calls.filter(([, ok]) => ok).map(([t]) => t)).size === N, 5000);
    expect(ack.calls.every(([, ok]) => ok)).toBe(true);
    expect(spool.undeliveredBatches).toBeGreaterThan(0);
    expect(okIds).toEqual([]);
    up();
    await until('every record delivered and the spool drained', () => okIds.length >= N && !spool.pending, 10_000);
    expect(okIds.length).toBe(N);
    expect(new Set(okIds).size).toBe(N);
    // Oldest first: the spool hands batches back in the order they went in.
    expect(okIds).toEqual([...okIds].sort((a, b) => a - b));
  });

  it('sends directly what the spool fails to write, its acks settled only once the endpoint takes it', async () => {
    const { fake, pipeline, spool, up } = await make();
    // Every write fails (an I/O error, a full disk): encoded batches stay in memory.
    vi.spyOn(spool, 'append').mockResolvedValue(false);
    const okIds = deliveredLogIds(fake);
    const ack = new AckRecorder();
    const N = 600;
    const produced = produce(pipeline, 0, N, ack);
    await until('a write the spool refused', () => vi.mocked(spool.append).mock.calls.length > 0, 3000);
    await new Promise((r) => setTimeout(r, 50));
    // Nothing is durable and nothing was delivered: no checkpoint may pass a line yet.
    expect(ack.calls).toEqual([]);
    up();
    expect(await produced).toBe(N);
    await until('every record delivered', () => okIds.length >= N, 10_000);
    await until('every ack settled', () => ack.calls.length >= N, 3000);
    expect(new Set(okIds).size).toBe(N);
    expect(okIds.length).toBe(N);
    expect(ack.calls.every(([, ok]) => ok)).toBe(true);
    expect(new Set(ack.calls.map(([t]) => t)).size).toBe(N);
  });

  it('when the spool is full, logs push back and metrics drop oldest as spool_full', async () => {
    const { pipeline, registry } = await make({ maxBytes: 16 * 1024 });
    const ack = new AckRecorder();
    const taken = await produce(pipeline, 0, 5000, ack, 300);
    expect(taken).toBeLessThan(5000);
    // Collection cycles: the dispatcher sees the ring fill and the spool full between two of them.
    for (let cycle = 0; cycle < 10; cycle++) {
      for (let i = 0; i < 200; i++) pipeline.offerMetric(metric(cycle * 200 + i));
      await new Promise((r) => setTimeout(r, 5));
    }
    await until('metrics dropped as spool_full', () => /sextant_pipeline_dropped_total\{reason="spool_full",signal="metrics"\} [1-9]/.test(registry.render()), 3000);
    const text = registry.render();
    expect(text).toMatch(/sextant_spool_refused_total [1-9]/);
    // No log record was dropped to make room.
    expect(text).not.toMatch(/sextant_pipeline_dropped_total\{reason="[a-z_]+",signal="logs"\} [1-9]/);
  });

  it('a shutdown during the outage leaves what was queued on disk for the next start', async () => {
    const first = await make();
    const ack = new AckRecorder();
    expect(await produce(first.pipeline, 0, 500, ack)).toBe(500);
    const result = await first.pipeline.flush(2000);
    expect(result.pending).toBe(0);
    await first.close();
    expect(new Set(ack.calls.filter(([, ok]) => ok).map(([t]) => t)).size).toBe(500);
    // The next start sends them all, once the endpoint takes them.
    const second = await make({ dir: first.dir });
    const okIds: number[] = [];
    second.fake.auto = (req) => {
      if (req.path === 'logs') okIds.push(...req.ids.map(Number));
      return OK;
    };
    await until('every record delivered after the restart', () => okIds.length >= 500 && !second.spool.pending, 10_000);
    expect(new Set(okIds).size).toBe(500);
  });
});
