import { describe, expect, it } from 'vitest';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../../src/export/types.js';
import { SignalForwarder, type ForwardOutcome } from '../../../src/gateway/forwarder.js';
import { until } from '../../helpers/wait.js';

/** A transport that answers from a script, then succeeds; records what it was sent. */
class ScriptedTransport implements Transport {
  readonly sent: string[] = [];
  readonly #script: ExportResult[];
  constructor(script: ExportResult[]) {
    this.#script = script;
  }
  async send(_signal: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult> {
    this.sent.push(Buffer.from(body).toString());
    if (options.signal?.aborted) return { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: 'aborted' };
    return this.#script.shift() ?? { kind: 'success', status: 200, rejected: 0, message: '' };
  }
  async close(): Promise<void> {}
}

const retryable = (retryAfterMs?: number): ExportResult => ({ kind: 'retryable', status: 503, retryAfterMs, reason: 'busy' });
const limits = { maxQueueItems: 3, maxQueueBytes: 100, sendTimeoutMs: 1000, initialBackoffMs: 20, maxBackoffMs: 80 };

function recorder(): { outcomes: ForwardOutcome[]; hooks: { outcome(s: OtlpSignal, o: ForwardOutcome): void } } {
  const outcomes: ForwardOutcome[] = [];
  return { outcomes, hooks: { outcome: (_s, o) => outcomes.push(o) } };
}

describe('SignalForwarder', () => {
  it('sends in order, retries the head, drops permanent failures and too-large bodies', async () => {
    const t = new ScriptedTransport([retryable(), retryable(30), { kind: 'too_large', status: 413, reason: 'big' }, { kind: 'failure', status: 400, reason: 'bad' }]);
    const { outcomes, hooks } = recorder();
    const f = new SignalForwarder('logs', t, limits, hooks);
    expect(f.offer(Buffer.from('a'))).toBe(true);
    expect(f.offer(Buffer.from('b'))).toBe(true);
    expect(f.offer(Buffer.from('c'))).toBe(true);
    await until('an empty queue', () => f.queuedItems === 0, 5000);
    expect(t.sent).toEqual(['a', 'a', 'a', 'b', 'c']);
    expect(outcomes).toEqual(['retry', 'retry', 'too_large', 'failed', 'ok']);
    expect(f.queuedBytes).toBe(0);
    await f.close(Date.now() + 100);
  });

  it('refuses when full by items or bytes, and says how long to wait', async () => {
    const t = new ScriptedTransport(Array.from({ length: 50 }, () => retryable()));
    const { hooks } = recorder();
    const f = new SignalForwarder('metrics', t, limits, hooks);
    expect(f.offer(Buffer.alloc(60))).toBe(true);
    expect(f.fits(50)).toBe(false);
    expect(f.offer(Buffer.alloc(50))).toBe(false);
    expect(f.offer(Buffer.alloc(10))).toBe(true);
    expect(f.offer(Buffer.alloc(10))).toBe(true);
    expect(f.offer(Buffer.alloc(1))).toBe(false);
    expect(f.retryAfterSeconds()).toBeGreaterThanOrEqual(1);
    await f.close(Date.now() + 50);
  });

  it('close() abandons what it cannot send by the deadline, and refuses new bodies', async () => {
    const t = new ScriptedTransport(Array.from({ length: 1000 }, () => retryable()));
    const { outcomes, hooks } = recorder();
    const f = new SignalForwarder('traces', t, limits, hooks);
    f.offer(Buffer.from('x'));
    f.offer(Buffer.from('y'));
    const t0 = Date.now();
    await f.close(Date.now() + 150);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(outcomes.filter((o) => o === 'abandoned')).toHaveLength(2);
    expect(f.queuedItems).toBe(0);
    expect(f.offer(Buffer.from('z'))).toBe(false);
  });

  it('treats a transport that throws as a network error', async () => {
    let calls = 0;
    const t: Transport = {
      async send() {
        if (calls++ === 0) throw new Error('boom');
        return { kind: 'success', status: 200, rejected: 0, message: '' };
      },
      async close() {},
    };
    const { outcomes, hooks } = recorder();
    const f = new SignalForwarder('logs', t, limits, hooks);
    f.offer(Buffer.from('q'));
    await until('an empty queue', () => f.queuedItems === 0, 5000);
    expect(outcomes).toEqual(['retry', 'ok']);
  });
});
