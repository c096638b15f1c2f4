import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Histogram, LATENCY_BUCKETS, Registry } from '../../../src/self/registry.js';
import { bucketQuantile, parsePrometheusText, parseSampleLine, sum, valueOf } from '../../../src/top/prom-text.js';

describe('parsePrometheusText', () => {
  it('reads what the agent registry renders, labels and histograms included', () => {
    const r = new Registry();
    r.counter('sextant_x_total', 'help').inc({ signal: 'logs', reason: 'a"b\\c\nd' }, 5);
    r.gauge('sextant_g', 'help').set(1.5e-3);
    r.histogram('sextant_h_seconds', 'help', [0.1, 1]).observe(0.5, { signal: 'metrics' });
    const p = parsePrometheusText(r.render());
    expect(p.badLines).toBe(0);
    expect(sum(p, 'sextant_x_total', { reason: 'a"b\\c\nd' })).toBe(5);
    expect(valueOf(p, 'sextant_g')).toBe(0.0015);
    expect(valueOf(p, 'sextant_h_seconds_bucket', { le: '+Inf', signal: 'metrics' })).toBe(1);
    expect(valueOf(p, 'sextant_h_seconds_count')).toBe(1);
  });

  it('takes timestamps, special values, CRLF, blank lines and comments', () => {
    const p = parsePrometheusText('# HELP a x\r\n# TYPE a counter\r\na 1 1700000000000\r\n\r\nb{l="v"} +Inf\nc NaN\nd -Inf\ne 1e3\n  f{ a = "1" , b="2",} 7\n');
    expect(p.badLines).toBe(0);
    expect(valueOf(p, 'a')).toBe(1);
    expect(valueOf(p, 'b')).toBe(Infinity);
    expect(Number.isNaN(valueOf(p, 'c'))).toBe(true);
    expect(valueOf(p, 'd')).toBe(-Infinity);
    expect(valueOf(p, 'e')).toBe(1000);
    expect(valueOf(p, 'f', { a: '1', b: '2' })).toBe(7);
  });

  it('counts bad lines and keeps the good ones', () => {
    const text = [
      'good 1',
      'no_value',
      'bad{l="unterminated} 1',
      'bad{l=unquoted} 1',
      'bad{="x"} 1',
      '9starts_with_digit 1',
      'bad_value abc',
      'bad_value 1 2 3',
      'bad_ts 1 12.5',
      'dup{a="1",a="2"} 1',
      'trailing{a="1"',
      'esc{a="\\',
      'also_good{x="y"} 2',
    ].join('\n');
    const p = parsePrometheusText(text);
    expect(p.badLines).toBe(11);
    expect(valueOf(p, 'good')).toBe(1);
    expect(valueOf(p, 'also_good', { x: 'y' })).toBe(2);
  });

  it('never throws on random bytes, invalid UTF-8, truncation or oversized lines', () => {
    for (let i = 0; i < 200; i++) {
      const text = randomBytes(1 + ((i * 97) % 2000)).toString('utf8');
      const p = parsePrometheusText(text);
      // Each line is bad at most once, whatever is wrong with it.
      expect(p.badLines).toBeLessThanOrEqual(text.split('\n').length);
    }
    const invalid = Buffer.from([0x61, 0x7b, 0x6c, 0x3d, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x20, 0x31]).toString('utf8');
    expect(valueOf(parsePrometheusText(invalid), 'a')).toBe(1);
    const full = 'sextant_x_total{signal="logs",reason="queue_full"} 12\n';
    for (let cut = 0; cut < full.length; cut++) parsePrometheusText(full.slice(0, cut));
    const huge = `x{a="${'y'.repeat(100_000)}"} 1\nok 2\n`;
    const p = parsePrometheusText(huge);
    expect(p.badLines).toBe(1);
    expect(valueOf(p, 'ok')).toBe(2);
    expect(parseSampleLine('')).toBeUndefined();
  });
});

describe('bucketQuantile', () => {
  it('agrees with the registry histogram on the same observations', () => {
    const h = new Histogram('lat', '', LATENCY_BUCKETS);
    const values = [0.0012, 0.003, 0.004, 0.02, 0.03, 0.07, 0.2, 0.3, 0.9, 2];
    for (const v of values) h.observe(v);
    const p = parsePrometheusText(h.render());
    const buckets = p.byName.get('lat_bucket')!.map((s) => [s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']), s.value] as [number, number]);
    for (const q of [0.5, 0.9, 0.99]) expect(bucketQuantile(q, buckets)).toBeCloseTo(h.quantile(q), 9);
  });

  it('has no answer without observations, and caps at the highest finite bound', () => {
    expect(bucketQuantile(0.5, [])).toBeUndefined();
    expect(bucketQuantile(0.5, [[1, 0], [Infinity, 0]])).toBeUndefined();
    expect(bucketQuantile(0.99, [[1, 0], [Infinity, 5]])).toBe(1);
    expect(bucketQuantile(0.5, [[NaN, 3], [2, 4], [Infinity, 4]])).toBe(1);
  });
});
