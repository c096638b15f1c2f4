import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BurstLog } from '../../../src/self/burst-log.js';

interface Line {
  level: number;
  msg: string;
  count: number;
  reasons: Record<string, number>;
  windowMs: number;
  status?: number;
  detail?: string;
  signal?: string;
}

/** A real pino logger writing into an array, and a clock the test moves together with the fake timers. */
function rig(options: { windowMs?: number; level?: 'warn' | 'error' } = {}) {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      done();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  const log = new BurstLog(logger, 'things failed', { windowMs: 1000, ...options, now: Date.now });
  return { log, lines, logger };
}

describe('BurstLog', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the first event of a quiet period at once', () => {
    const { log, lines } = rig();
    log.note('timeout');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'things failed', count: 1, reasons: { timeout: 1 }, windowMs: 0, level: 40 });
    // Nothing given, nothing written: no empty status or detail keys.
    expect(lines[0]).not.toHaveProperty('status');
    expect(lines[0]).not.toHaveProperty('detail');
  });

  it('sums the rest of a burst by reason into one line when the window closes', () => {
    const { log, lines } = rig();
    log.note('rejected', 2, 400, 'bad request');
    for (let i = 0; i < 400; i++) {
      vi.advanceTimersByTime(1);
      log.note(i % 4 === 0 ? 'too_large' : 'rejected', 3, i % 4 === 0 ? 413 : 400, `answer ${i}`);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ count: 2, reasons: { rejected: 2 }, status: 400, detail: 'bad request' });
    vi.advanceTimersByTime(599);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(lines).toHaveLength(2);
    // The last status and detail given win; counts are weighted by `count`.
    expect(lines[1]).toMatchObject({ count: 1200, reasons: { too_large: 300, rejected: 900 }, status: 400, detail: 'answer 399' });
    // From the first event summed (1 ms after the immediate line) to the window's end.
    expect(lines[1]!.windowMs).toBe(999);
  });

  it('writes at most one line per window under a steady flood, and at once again after a quiet window', () => {
    const { log, lines } = rig();
    // 10 s of one event every 10 ms: the first at once, then one summary per 1 s window.
    for (let i = 0; i < 1000; i++) {
      log.note('refused');
      vi.advanceTimersByTime(10);
    }
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(11);
    vi.advanceTimersByTime(1000);
    const total = lines.reduce((n, l) => n + l.count, 0);
    expect(total).toBe(1000);
    const n = lines.length;
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(n);
    log.note('refused');
    expect(lines).toHaveLength(n + 1);
  });

  it('does not carry status and detail into the next line', () => {
    const { log, lines } = rig();
    log.note('a', 1, 503, 'busy');
    vi.advanceTimersByTime(2000);
    log.note('b');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ count: 1, reasons: { b: 1 } });
    expect(lines[1]).not.toHaveProperty('status');
    expect(lines[1]).not.toHaveProperty('detail');
  });

  it('bounds a long detail (it may be an endpoint answer)', () => {
    const { log, lines } = rig();
    log.note('rejected', 1, 400, 'x'.repeat(10_000));
    expect(lines[0]!.detail).toBe(`${'x'.repeat(200)}…`);
  });

  it('flush writes the pending summary now, once, and cancels its timer', () => {
    const { log, lines } = rig({ level: 'error' });
    log.flush();
    expect(lines).toHaveLength(0);
    log.note('disk_full');
    log.note('disk_full');
    log.note('eacces');
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(100);
    log.flush();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 50, count: 2, reasons: { disk_full: 1, eacces: 1 }, windowMs: 100 });
    log.flush();
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
  });

  it('keeps context from a child logger', () => {
    const { lines, logger } = rig();
    const log = new BurstLog(logger.child({ signal: 'logs' }), 'export dropped records', { now: Date.now });
    log.note('shutdown', 7);
    expect(lines[0]).toMatchObject({ signal: 'logs', msg: 'export dropped records', count: 7, reasons: { shutdown: 7 } });
  });
});

describe('BurstLog timers', () => {
  it('a pending summary does not keep the process alive', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
    const log = new BurstLog(logger, 'x', { windowMs: 60_000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    log.note('a');
    log.note('a'); // pending: a summary timer is armed now
    expect(timers()).toBe(before);
    expect(lines).toHaveLength(1);
    log.flush();
    expect(lines).toHaveLength(2);
  });
});
