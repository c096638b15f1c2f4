import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, Registry } from '../../../src/self/registry.js';
import { registerProcessMetrics } from '../../../src/self/server.js';
import { parsePrometheusText, valueOf } from '../../../src/top/prom-text.js';
import { promtoolCheck, promtoolOrSkip } from '../../helpers/promtool.js';

const promtool = promtoolOrSkip();

/** A registry with every shape the renderer has: what a real agent's page is made of. */
function everyShape(): Registry {
  const r = new Registry();
  registerProcessMetrics(r);
  const c = r.counter('sextant_test_events_total', 'Events, by kind.');
  c.inc({ kind: 'a' });
  c.bind({ kind: 'b' }).inc(3);
  r.counter('sextant_test_plain_total', 'A counter without labels.').inc();
  r.counter('sextant_test_read_total', 'A counter read at scrape time.').collect(() => 42, { source: 'x' });
  r.counter('sextant_test_never_total', 'Registered, never counted.');
  const g = r.gauge('sextant_test_level', 'A gauge, set and collected.');
  g.set(1.5, { signal: 'logs' });
  g.collect(() => 7, { signal: 'metrics' });
  r.gauge('sextant_test_escaped', 'Label values with a quote, a backslash and a newline.').set(1, { reason: 'a "b" \\c\nd' });
  const h = r.histogram('sextant_test_latency_seconds', 'A histogram with labels.', LATENCY_BUCKETS);
  h.observe(0.003, { signal: 'metrics' });
  h.observe(40, { signal: 'metrics' });
  r.histogram('sextant_test_plain_seconds', 'A histogram without labels.', [0.1, 1]).observe(0.5);
  return r;
}

describe('Registry', () => {
  it('a counter can read its value at scrape time, and says it is a counter', () => {
    const r = new Registry();
    let total = 1;
    const c = r.counter('sextant_test_read_total', 'Read at scrape time.');
    c.collect(() => total);
    expect(r.render()).toBe('# HELP sextant_test_read_total Read at scrape time.\n# TYPE sextant_test_read_total counter\nsextant_test_read_total 1\n');
    total = 2.5;
    expect(c.get()).toBe(2.5);
    expect(c.sum()).toBe(2.5);
    expect(r.render()).toContain('\nsextant_test_read_total 2.5\n');
  });

  it('sums kept and read series of a counter alike', () => {
    const c = new Registry().counter('sextant_test_mixed_total', '');
    c.inc({ signal: 'logs' }, 2);
    c.collect(() => 5, { signal: 'metrics' });
    expect(c.sum()).toBe(7);
    expect(c.sum({ signal: 'metrics' })).toBe(5);
    expect(c.get({ signal: 'logs' })).toBe(2);
  });

  it('exports process_cpu_seconds_total as a counter that never goes down', () => {
    const r = new Registry();
    registerProcessMetrics(r);
    const before = r.render();
    expect(before).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    // Burn 10 ms of CPU (not of wall time: on a busy machine this process may not run at all for
    // a while) so the second reading has something to add.
    const cpuMicros = (u: NodeJS.CpuUsage): number => u.user + u.system;
    const from = cpuMicros(process.cpuUsage());
    while (cpuMicros(process.cpuUsage()) - from < 10_000);
    const a = valueOf(parsePrometheusText(before), 'process_cpu_seconds_total');
    const b = valueOf(parsePrometheusText(r.render()), 'process_cpu_seconds_total');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a!);
  });

  it('renders every shape so that sextant top reads every sample', () => {
    const parsed = parsePrometheusText(everyShape().render());
    expect(parsed.badLines).toBe(0);
    expect(valueOf(parsed, 'sextant_test_read_total', { source: 'x' })).toBe(42);
    expect(valueOf(parsed, 'sextant_test_escaped')).toBe(1);
    expect(parsed.byName.get('sextant_test_escaped')![0]!.labels['reason']).toBe('a "b" \\c\nd');
    expect(valueOf(parsed, 'sextant_test_latency_seconds_bucket', { signal: 'metrics', le: '+Inf' })).toBe(2);
  });
});

describe(`promtool check metrics${promtool.reason}`, () => {
  it.skipIf(!promtool.available)('accepts every shape the registry renders, without a lint warning', () => {
    expect(promtoolCheck(everyShape().render())).toEqual({ status: 0, output: '' });
  });

  it.skipIf(!promtool.available)('rejects a gauge named *_total (what process_cpu_seconds_total was): the check has teeth', () => {
    const r = new Registry();
    r.gauge('process_cpu_seconds_total', 'CPU time.').set(1);
    const verdict = promtoolCheck(r.render());
    expect(verdict.status).not.toBe(0);
    expect(verdict.output).toContain('process_cpu_seconds_total');
  });
});
