import { describe, expect, it } from 'vitest';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../../src/export/types.js';
import type { AckTarget, OtlpBlock } from '../../../src/model/index.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG } from '../../../src/pipeline/pipeline.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';

/** The receiver's lanes: traces, app_metrics and app_logs rings of encoded blocks, one shared budget, all-or-none offers. */

class Recording implements Transport {
  readonly sent: { signal: OtlpSignal; body: Buffer }[] = [];
  gate: Promise<void> = Promise.resolve();
  async send(signal: OtlpSignal, body: Uint8Array, _o: SendOptions): Promise<ExportResult> {
    await this.gate;
    this.sent.push({ signal, body: Buffer.from(body) });
    return { kind: 'success', status: 200, rejected: 0, message: '' };
  }
  async close() {}
}

const NULL_CODEC = { encode: () => null };

function setup(maxItems = 4, maxBytes = 1024) {
  const transport = new Recording();
  const pipeline = createPipeline(
    {
      ...DEFAULT_PIPELINE_CONFIG,
      queues: { ...DEFAULT_PIPELINE_CONFIG.queues, traces: { maxItems, maxBytes } },
      batches: { ...DEFAULT_PIPELINE_CONFIG.batches, traces: { maxItems: 2, maxBytes: 4096, lingerMs: 1, maxRequestBytes: 1_000_000 } },
      maxInFlight: 1,
    },
    { transport, codecs: { metrics: NULL_CODEC, logs: NULL_CODEC, events: NULL_CODEC }, registry: new Registry(), logger: silentLogger(), exportTimeoutMs: 1000 },
  );
  return { transport, pipeline };
}

const block = (text: string, ack?: AckTarget, token = 0): OtlpBlock => ({ bytes: Buffer.from(text), items: 1, ...(ack ? { ack, ackToken: token } : {}) });

describe('the receiver\'s lanes', () => {
  it('send each signal\'s blocks to its own path, as field 1 of the request, in order', async () => {
    const { transport, pipeline } = setup();
    pipeline.start();
    expect(pipeline.offerReceived('traces', [block('t1'), block('t2')])).toBe(true);
    expect(pipeline.offerReceived('metrics', [block('m1')])).toBe(true);
    expect(pipeline.offerReceived('logs', [block('l1')])).toBe(true);
    expect((await pipeline.flush(2000)).flushed).toBe(true);
    const bySignal = Object.fromEntries(transport.sent.map((s) => [s.signal, s.body.toString('latin1')]));
    expect(bySignal).toEqual({ traces: '\n\u0002t1\n\u0002t2', metrics: '\n\u0002m1', logs: '\n\u0002l1' });
    expect(pipeline.stats().signals.traces.exported).toBe(2);
    pipeline.stop();
  });

  it('take a request whole or not at all, within items and the budget the three rings share', () => {
    const { transport, pipeline } = setup(4, 100);
    transport.gate = new Promise(() => undefined); // the endpoint never answers
    // 4 items per ring; a request of 5 blocks never fits, and nothing of it is queued.
    expect(pipeline.offerReceived('traces', Array.from({ length: 5 }, (_, i) => block(`x${i}`)))).toBe(false);
    expect(pipeline.stats().signals.traces.items).toBe(0);
    // The byte budget is shared: metrics take most of it, then traces find no room.
    expect(pipeline.offerReceived('metrics', [block('m'.repeat(60))])).toBe(true);
    expect(pipeline.offerReceived('traces', [block('t'.repeat(30))])).toBe(false);
    expect(pipeline.offerReceived('traces', [block('t'.repeat(20))])).toBe(true);
    expect(pipeline.receivedMaxBytes).toBe(100);
    pipeline.stop();
  });

  it('settle every block\'s acknowledgement once: true when exported, false when dropped at stop', async () => {
    const { transport, pipeline } = setup();
    const settled: [number, boolean][] = [];
    const ack: AckTarget = { settle: (t, ok) => settled.push([t, ok]) };
    pipeline.start();
    pipeline.offerReceived('traces', [block('a', ack, 1)]);
    await pipeline.flush(2000);
    transport.gate = new Promise(() => undefined);
    pipeline.offerReceived('traces', [block('b', ack, 2)]);
    pipeline.stop();
    expect(settled).toEqual([
      [1, true],
      [2, false],
    ]);
  });
});
