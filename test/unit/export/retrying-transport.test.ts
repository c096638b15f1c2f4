import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { RetryingTransport, type RetryPolicy } from '../../../src/export/retrying-transport.js';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../../src/export/types.js';

/** Answers from a script, recording when each attempt came. */
class ScriptedTransport implements Transport {
  readonly calls: number[] = [];
  closed = false;
  readonly #script: ExportResult[];
  constructor(script: ExportResult[]) {
    this.#script = script;
  }
  async send(_signal: OtlpSignal, _body: Uint8Array, _options: SendOptions): Promise<ExportResult> {
    this.calls.push(performance.now());
    return this.#script.length > 1 ? this.#script.shift()! : this.#script[0]!;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const busy = (retryAfterMs?: number): ExportResult => ({ kind: 'retryable', status: 503, retryAfterMs, reason: 'HTTP 503' });
const ok: ExportResult = { kind: 'success', status: 200, rejected: 0, message: '' };
const policy: RetryPolicy = { initialBackoffMs: 10, maxBackoffMs: 40, multiplier: 2, maxElapsedMs: 0 };
const BODY = new Uint8Array([1]);
const SEND = { timeoutMs: 1000 };

function recordRetries() {
  const delays: number[] = [];
  const attempts: number[] = [];
  return { delays, attempts, hooks: { onRetry: (_s: OtlpSignal, _r: ExportResult, attempt: number, delay: number) => { attempts.push(attempt); delays.push(delay); } } };
}

describe('RetryingTransport', () => {
  test('hands the retry hook the request\'s own options object, so the caller knows which request it is', async () => {
    const inner = new ScriptedTransport([busy(), ok]);
    const seen: unknown[] = [];
    const t = new RetryingTransport(inner, policy, { onRetry: (_s, _r, _a, _d, options) => seen.push(options) }, () => 0);
    const mine = { timeoutMs: 1000 };
    expect(await t.send('logs', BODY, mine)).toBe(ok);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(mine);
  });

  test('exponential backoff with full jitter, capped at maxBackoff', async () => {
    const inner = new ScriptedTransport([busy(), busy(), busy(), busy(), busy(), ok]);
    const { delays, attempts, hooks } = recordRetries();
    const t = new RetryingTransport(inner, policy, hooks, () => 0.5);
    expect(await t.send('logs', BODY, SEND)).toBe(ok);
    // 0.5 × min(40, 10·2^n) for n = 0..4
    expect(delays).toEqual([5, 10, 20, 20, 20]);
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    expect(inner.calls).toHaveLength(6);
  });

  test('random() scales the whole interval (full jitter): 0 retries at once, ~1 waits the ceiling', async () => {
    const zero = recordRetries();
    await new RetryingTransport(new ScriptedTransport([busy(), busy(), ok]), policy, zero.hooks, () => 0).send('logs', BODY, SEND);
    expect(zero.delays).toEqual([0, 0]);
    const one = recordRetries();
    await new RetryingTransport(new ScriptedTransport([busy(), busy(), ok]), policy, one.hooks, () => 0.999).send('logs', BODY, SEND);
    expect(one.delays).toEqual([10, 20]);
  });

  test('waits at least Retry-After, and really waits', async () => {
    const inner = new ScriptedTransport([busy(150), ok]);
    const { delays, hooks } = recordRetries();
    const t = new RetryingTransport(inner, policy, hooks, () => 0.5);
    expect(await t.send('logs', BODY, SEND)).toBe(ok);
    expect(delays).toEqual([150]);
    expect(inner.calls[1]! - inner.calls[0]!).toBeGreaterThanOrEqual(140);
  });

  test('non-retryable results return at once', async () => {
    for (const r of [
      ok,
      { kind: 'failure', status: 400, reason: 'HTTP 400' } as const,
      { kind: 'too_large', status: 413, reason: 'HTTP 413' } as const,
    ]) {
      const inner = new ScriptedTransport([r]);
      expect(await new RetryingTransport(inner, policy).send('logs', BODY, SEND)).toBe(r);
      expect(inner.calls).toHaveLength(1);
    }
  });

  test('gives up with the last retryable result once the next wait would pass maxElapsed', async () => {
    const last = busy();
    const inner = new ScriptedTransport([last]);
    const t = new RetryingTransport(inner, { initialBackoffMs: 20, maxBackoffMs: 20, multiplier: 1, maxElapsedMs: 100 }, {}, () => 1);
    const started = performance.now();
    expect(await t.send('logs', BODY, SEND)).toBe(last);
    const took = performance.now() - started;
    expect(took).toBeLessThan(150);
    expect(inner.calls.length).toBeGreaterThanOrEqual(3);
    expect(inner.calls.length).toBeLessThanOrEqual(6);
  });

  test('a Retry-After beyond maxElapsed gives up at once instead of waiting', async () => {
    const inner = new ScriptedTransport([busy(60_000)]);
    const t = new RetryingTransport(inner, { ...policy, maxElapsedMs: 1_000 });
    const started = performance.now();
    expect(await t.send('logs', BODY, SEND)).toMatchObject({ kind: 'retryable' });
    expect(performance.now() - started).toBeLessThan(100);
    expect(inner.calls).toHaveLength(1);
  });

  test('abort during the wait returns the last retryable result promptly (no reject, timer cleared)', async () => {
    const inner = new ScriptedTransport([busy(30_000)]);
    const t = new RetryingTransport(inner, policy);
    const ac = new AbortController();
    const pending = t.send('logs', BODY, { timeoutMs: 1000, signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    const started = performance.now();
    await expect(pending).resolves.toMatchObject({ kind: 'retryable', status: 503 });
    expect(performance.now() - started).toBeLessThan(500);
    expect(inner.calls).toHaveLength(1);
  });

  test('an already-aborted signal makes no retry', async () => {
    const inner = new ScriptedTransport([busy()]);
    const r = await new RetryingTransport(inner, policy).send('logs', BODY, { timeoutMs: 1000, signal: AbortSignal.abort() });
    expect(r).toMatchObject({ kind: 'retryable' });
    expect(inner.calls).toHaveLength(1);
  });

  test('rejects bad policies naming the key that sets them; close closes the inner transport', async () => {
    const inner = new ScriptedTransport([ok]);
    // No setting reaches the multiplier: a bad one is a bug (RangeError), not a config error.
    expect(() => new RetryingTransport(inner, { ...policy, multiplier: 0.5 })).toThrow(RangeError);
    expect(() => new RetryingTransport(inner, { ...policy, initialBackoffMs: -1 })).toThrow(ConfigError);
    expect(() => new RetryingTransport(inner, { ...policy, initialBackoffMs: -1 })).toThrow(/^export\.retryInitialBackoff: /);
    expect(() => new RetryingTransport(inner, { ...policy, maxBackoffMs: 5 })).toThrow(/^export\.retryMaxBackoff: must be >= export\.retryInitialBackoff/);
    expect(() => new RetryingTransport(inner, { ...policy, maxElapsedMs: Number.NaN })).toThrow(/^export\.retryMaxElapsed: /);
    await new RetryingTransport(inner, policy).close();
    expect(inner.closed).toBe(true);
  });
});
