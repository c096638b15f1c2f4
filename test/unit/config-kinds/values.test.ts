import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config-kinds/secret.js';
import {
  boolean,
  bytes,
  duration,
  formatBytes,
  formatDuration,
  headers,
  integer,
  list,
  listen,
  oneOf,
  parseBytesText,
  parseDurationText,
  path,
  Problem,
  secret,
  secretList,
  url,
  type KeySpec,
  type ParseContext,
} from '../../../src/config-kinds/values.js';

const TEXT: ParseContext = { cwd: '/work', origin: 'env SEXTANT_X', from: 'text' };
const YAML: ParseContext = { cwd: '/work', origin: 'file /etc/sextant.yaml', from: 'yaml' };

function fails<T>(spec: KeySpec<T>, value: unknown, ctx: ParseContext, match?: RegExp): string {
  let caught: unknown;
  try {
    spec.parse(value, ctx);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${String(value)} to be rejected`).toBeInstanceOf(Problem);
  const message = (caught as Problem).message;
  expect(message).not.toMatch(/\n/);
  if (match !== undefined) expect(message).toMatch(match);
  return message;
}

describe('duration', () => {
  const d = duration({ description: '', default: '10s', min: '100ms' });
  const forever = duration({ description: '', default: '0', min: '1s', zero: 'retry forever' });

  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    [' 10s ', 10_000],
    ['100ms', 100],
  ])('text %j → %d ms', (text, ms) => {
    expect(d.parse(text, TEXT)).toBe(ms);
  });

  it('takes plain YAML numbers as milliseconds', () => {
    expect(d.parse(250, YAML)).toBe(250);
    expect(d.parse('250ms', YAML)).toBe(250);
  });

  it('rejects a bare number in text with a hint about units', () => {
    fails(d, '10', TEXT, /bare number has no unit.*10s/);
    fails(d, '10', YAML, /bare number/); // a quoted "10" in YAML is text too
  });

  it.each(['10x', '-1s', '1e999', '1e3s', 's', 'ms', '10 s', '', '10s5', '1.s', 'NaN', 'Infinity', '0x10s', '١٠s', '10S', 'x'.repeat(100)])(
    'rejects garbage %j',
    (text) => {
      fails(d, text, TEXT);
    },
  );

  it('rejects non-finite, negative and fractional numbers in YAML', () => {
    fails(d, Infinity, YAML);
    fails(d, -5, YAML);
    fails(d, Number.NaN, YAML);
    fails(d, 100.5, YAML, /millisecond resolution/);
    fails(d, 10, YAML, /at least 100ms \(a plain number in YAML is milliseconds; write 10s for seconds\)/);
    fails(d, true, YAML, /expected a duration, got a boolean/);
    fails(d, [1], YAML);
  });

  it('enforces bounds, and the timer ceiling', () => {
    fails(d, '99ms', TEXT, /at least 100ms/);
    fails(d, '0', TEXT, /at least 100ms/);
    fails(d, '1000000h', TEXT, /at most/);
    fails(d, 2 ** 31, YAML, /at most/);
    fails(d, '0.5ms', TEXT, /millisecond resolution/);
  });

  it('lets 0 through where it means something', () => {
    expect(forever.parse('0', TEXT)).toBe(0);
    expect(forever.parse('0s', TEXT)).toBe(0);
    expect(forever.parse(0, YAML)).toBe(0);
    expect(forever.default).toBe(0);
    fails(forever, '500ms', TEXT, /at least 1s \(or 0 for retry forever\)/);
  });

  it('formats back', () => {
    expect(formatDuration(10_000)).toBe('10s');
    expect(formatDuration(200)).toBe('200ms');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(1500)).toBe('1500ms');
    for (const ms of [1, 999, 1000, 61_000, 3_600_000, 86_400_000]) expect(parseDurationText(formatDuration(ms))).toBe(ms);
  });
});

describe('byte size', () => {
  const b = bytes({ description: '', default: '16MiB', min: 1024, max: { value: 40_000_000, why: 'the backend says so' } });

  it.each([
    ['16MiB', 16 * 1024 * 1024],
    ['2MB', 2_000_000],
    ['1048576', 1048576],
    ['1536KiB', 1536 * 1024],
    ['1.5MiB', 1.5 * 1024 * 1024],
    ['2mb', 2_000_000],
    ['4000000B', 4_000_000],
    ['2 MiB', 2 * 1024 * 1024],
  ])('%j → %d', (text, n) => {
    expect(b.parse(text, TEXT)).toBe(n);
  });

  it.each(['16XB', '-1MiB', '1e999', '1e6', 'MiB', '', '1.0000001KiB', '16 M', '0x100', 'x'.repeat(100)])('rejects %j', (text) => {
    fails(b, text, TEXT);
  });

  it('takes YAML numbers as bytes', () => {
    expect(b.parse(2048, YAML)).toBe(2048);
    fails(b, 1e999, YAML);
    fails(b, -1, YAML);
    fails(b, 1.5e3 + 0.5, YAML);
  });

  it('explains a cap', () => {
    fails(b, '50MB', TEXT, /at most 40000000 bytes: the backend says so/);
    fails(b, '1000', TEXT, /at least 1KiB/);
  });

  it('formats back', () => {
    expect(formatBytes(16 * 1024 * 1024)).toBe('16MiB');
    expect(formatBytes(1536 * 1024)).toBe('1536KiB');
    expect(formatBytes(2_000_000)).toBe(2_000_000);
    expect(formatBytes(1024 ** 3)).toBe('1GiB');
    for (const n of [1, 1024, 1536 * 1024, 3 * 1024 ** 3, 2_000_000]) expect(parseBytesText(String(formatBytes(n)))).toBe(n);
  });
});

describe('integer', () => {
  const i = integer({ description: '', default: 2, min: 1, max: { value: 64 } });
  it('parses and bounds', () => {
    expect(i.parse('8', TEXT)).toBe(8);
    expect(i.parse('+8', TEXT)).toBe(8);
    expect(i.parse(8, YAML)).toBe(8);
    fails(i, '0', TEXT, /at least 1/);
    fails(i, '65', TEXT, /at most 64/);
    fails(i, '1.5', TEXT, /not an integer/);
    fails(i, 1.5, YAML, /not an integer/);
  });
  it.each(['', 'eight', '0x10', '1e2', '99999999999999999999', '--1'])('rejects %j', (t) => {
    fails(i, t, TEXT);
  });
});

describe('boolean', () => {
  const b = boolean({ description: '', default: false });
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['No', false],
  ])('%j → %s', (t, v) => {
    expect(b.parse(t, TEXT)).toBe(v);
  });
  it('takes YAML booleans and rejects the rest', () => {
    expect(b.parse(true, YAML)).toBe(true);
    expect(b.parse(0, YAML)).toBe(false);
    fails(b, 'maybe', TEXT, /true or false/);
    fails(b, 2, YAML);
    fails(b, '', TEXT);
  });
});

describe('enum', () => {
  const e = oneOf({ description: '', values: ['delta', 'cumulative'], default: 'delta' });
  it('accepts listed values in any case', () => {
    expect(e.parse('cumulative', TEXT)).toBe('cumulative');
    expect(e.parse('Delta', TEXT)).toBe('delta');
  });
  it('names the choices', () => {
    fails(e, 'deltas', TEXT, /one of delta, cumulative/);
    fails(e, 1, YAML);
  });
});

describe('url', () => {
  const u = url({ description: '' });
  it('accepts http(s) and drops the trailing slash', () => {
    expect(u.parse('https://abc.live.dynatrace.com/api/v2/otlp/', TEXT)).toBe('https://abc.live.dynatrace.com/api/v2/otlp');
    expect(u.parse('http://collector:4318', TEXT)).toBe('http://collector:4318');
    expect(u.parse('http://[::1]:4318', TEXT)).toBe('http://[::1]:4318');
  });
  it('rejects malformed, other schemes, credentials, queries', () => {
    fails(u, 'not a url', TEXT, /not a valid URL/);
    fails(u, 'collector:4318', TEXT, /http/);
    fails(u, 'ftp://host', TEXT, /http:\/\/ or https:\/\//);
    fails(u, 'file:///etc/passwd', TEXT);
    const m = fails(u, 'https://user:s3cr3tpassword@host/', TEXT, /credentials/);
    expect(m).not.toContain('s3cr3tpassword');
    fails(u, 'https://host/x?a=1', TEXT, /query/);
    fails(u, 'https://host/x#f', TEXT, /fragment/);
    fails(u, 'http://', TEXT);
    fails(u, 42, YAML);
  });
});

describe('listen', () => {
  const l = listen({ description: '', default: '127.0.0.1:9464' });
  it('parses host:port', () => {
    expect(l.default).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(l.parse('0.0.0.0:0', TEXT)).toEqual({ host: '0.0.0.0', port: 0 });
    expect(l.parse('[::1]:9464', TEXT)).toEqual({ host: '::1', port: 9464 });
    expect(l.parse('localhost:80', TEXT)).toEqual({ host: 'localhost', port: 80 });
    expect(l.show({ host: '::', port: 1 })).toBe('[::]:1');
  });
  it.each(['9464', ':9464', '127.0.0.1', '127.0.0.1:65536', '127.0.0.1:-1', 'host:port', '::1:9464', 'a b:1', '127.0.0.1:99999999', ''])(
    'rejects %j',
    (t) => {
      fails(l, t, TEXT);
    },
  );
});

describe('path', () => {
  const p = path({ description: '', default: './data' });
  it('resolves against the working directory', () => {
    expect(p.parse('state', TEXT)).toBe('/work/state');
    expect(p.parse('/abs', TEXT)).toBe('/abs');
    expect(p.fromDefault!('./data', TEXT)).toBe('/work/data');
  });
  it('rejects empty and NUL', () => {
    fails(p, '', TEXT, /empty/);
    fails(p, 'a\0b', TEXT, /NUL/);
    fails(p, 5, YAML);
  });
});

describe('list and headers', () => {
  const l = list({ description: '' });
  const h = headers({ description: '' });
  it('lists: comma-separated text, YAML lists', () => {
    expect(l.parse('a, b,,c', TEXT)).toEqual(['a', 'b', 'c']);
    expect(l.parse(['a', 'b'], YAML)).toEqual(['a', 'b']);
    expect(l.parse('', TEXT)).toEqual([]);
    fails(l, [{ a: 1 }], YAML, /item 1/);
  });
  it('headers: k=v text, YAML maps, names lower-cased', () => {
    expect(h.parse('X-Scope-OrgID=tenant1, x-api-key=abc=def', TEXT)).toEqual({ 'x-scope-orgid': 'tenant1', 'x-api-key': 'abc=def' });
    expect(h.parse({ 'X-A': 'b', 'x-n': 5 }, YAML)).toEqual({ 'x-a': 'b', 'x-n': '5' });
    expect(h.parse('', TEXT)).toEqual({});
  });
  it('headers: rejects malformed, reserved and duplicate names, bad values, never echoing values', () => {
    fails(h, 'novalue', TEXT, /name=value/);
    fails(h, '=v', TEXT, /name=value/);
    fails(h, 'bad name=v', TEXT, /not a valid header name/);
    fails(h, 'content-type=text/plain', TEXT, /set by sextant/);
    fails(h, 'a=1,A=2', TEXT, /twice/);
    const m = fails(h, { 'x-key': 'secret\nvalue' }, YAML, /control/);
    expect(m).not.toContain('secret');
    fails(h, { 'x-key': { a: 1 } }, YAML);
    expect(h.show({ 'x-api-key': 'topsecret' })).toEqual({ 'x-api-key': '[redacted]' });
  });
});

describe('rejected values are never echoed', () => {
  const TOKEN = 'dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUV';
  const specs: Array<KeySpec<unknown>> = [
    duration({ description: '', default: '1s' }),
    bytes({ description: '', default: 1024 }),
    integer({ description: '', default: 1, min: 0, max: { value: 9 } }),
    boolean({ description: '', default: true }),
    oneOf({ description: '', values: ['a', 'b'], default: 'a' }),
    url({ description: '' }),
    listen({ description: '', default: '127.0.0.1:1' }),
    headers({ description: '' }),
  ];
  it.each([TOKEN, `${TOKEN}:99`, `https://${TOKEN}@host`, `https://u:${TOKEN}@host/`, `x-key=${TOKEN}\u0001`, `${TOKEN} ${TOKEN}`])('%#', (bad) => {
    for (const spec of specs) {
      try {
        spec.parse(bad, TEXT);
      } catch (err) {
        expect((err as Error).message).not.toContain(TOKEN);
        expect((err as Error).message).not.toContain(TOKEN.slice(7, 30));
      }
    }
  });
});

describe('secrets', () => {
  const s = secret({ description: '' });
  const sl = secretList({ description: '' });
  it('wraps the value with where it came from', () => {
    const v = s.parse('dt0c01.abc', TEXT)!;
    expect(v).toBeInstanceOf(Secret);
    expect(v.reveal()).toBe('dt0c01.abc');
    expect(v.source).toBe('env SEXTANT_X');
    expect(s.show(v)).toBe('[redacted]');
  });
  it('rejects whitespace, control characters and non-strings without echoing', () => {
    fails(s, 'dt0c01 abc-with-space', TEXT, /spaces/);
    fails(s, 'dt0c01.abc\n', TEXT, /control/);
    fails(s, 12345678, YAML, /expected a string/);
    fails(s, '', TEXT, /empty/);
  });
  it('secret lists split on commas', () => {
    const v = sl.parse('tok1,tok2, tok3 ,', TEXT);
    expect(v.map((x) => x.reveal())).toEqual(['tok1', 'tok2', 'tok3']);
    expect(sl.parse(['a', 'b'], YAML).map((x) => x.reveal())).toEqual(['a', 'b']);
    expect(sl.parse('', TEXT)).toEqual([]);
    expect(sl.show(v)).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    fails(sl, ['a', 5], YAML, /item 2/);
  });
});
