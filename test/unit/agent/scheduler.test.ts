import { describe, expect, it } from 'vitest';
import { CollectionScheduler } from '../../../src/agent/scheduler.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';
import type { RecordSink, Source } from '../../../src/sources/types.js';
import { ArraySink } from '../../helpers/array-sink.js';

/** A source whose cycle takes `ms` and then records that it finished. */
class SlowSource implements Source {
  readonly name = 'slow';
  finished = 0;
  started = 0;
  constructor(readonly ms: number) {}
  async collect(_sink: RecordSink): Promise<void> {
    this.started++;
    await new Promise((r) => setTimeout(r, this.ms));
    this.finished++;
  }
  async stop(): Promise<void> {}
}

function scheduler(source: Source, intervalMs = 100_000, registry = new Registry()): CollectionScheduler {
  return new CollectionScheduler([source], new ArraySink(), intervalMs, { registry, logger: silentLogger() });
}

describe('CollectionScheduler', () => {
  it('stop() lets the running cycle finish, up to its limit, so its records are flushed too', async () => {
    const src = new SlowSource(200);
    const s = scheduler(src);
    s.start();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await s.stop(2_000);
    expect(src.finished).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('stop() does not wait past its limit for a cycle that hangs', async () => {
    const src = new SlowSource(5_000);
    const s = scheduler(src);
    s.start();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await s.stop(100);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(src.finished).toBe(0);
  });

  it('skips and counts a tick that comes while the previous cycle still runs', async () => {
    const src = new SlowSource(150);
    const registry = new Registry();
    const s = scheduler(src, 100_000, registry);
    const first = s.runOnce();
    await s.runOnce(); // overlaps the first: skipped
    await first;
    expect(src.started).toBe(1);
    expect(registry.counter('sextant_collect_skipped_total', '').get({ source: 'slow' })).toBe(1);
    await s.stop();
  });
});
