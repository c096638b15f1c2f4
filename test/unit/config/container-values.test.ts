import { describe, expect, it } from 'vitest';
import { dnsName, hostPaths, type ParseContext, Problem } from '../../../src/config-kinds/values.js';

const TEXT: ParseContext = { cwd: '/work', origin: 'env SEXTANT_X', from: 'text' };
const YAML: ParseContext = { cwd: '/work', origin: 'file /etc/sextant.yaml', from: 'yaml' };

describe('hostPaths', () => {
  const spec = hostPaths({ description: 'sockets', default: ['/var/run/docker.sock'] });

  it('keeps absolute host paths as written (not resolved against the working directory)', () => {
    expect(spec.parse('/run/a.sock, /run/b.sock', TEXT)).toEqual(['/run/a.sock', '/run/b.sock']);
    expect(spec.parse(['/run/a.sock'], YAML)).toEqual(['/run/a.sock']);
  });

  it('an empty list turns the feature off', () => {
    expect(spec.parse('', TEXT)).toEqual([]);
  });

  it('refuses relative paths, NUL bytes and over-long paths, naming the item', () => {
    expect(() => spec.parse('/ok.sock,run/docker.sock', TEXT)).toThrow(/item 2: expected an absolute path/);
    expect(() => spec.parse(['/a\0b'], YAML)).toThrow(Problem);
    expect(() => spec.parse(['/' + 'a'.repeat(5000)], YAML)).toThrow(/item 1/);
    expect(() => spec.parse([{}], YAML)).toThrow(/item 1/);
  });
});

describe('dnsName', () => {
  const spec = dnsName({ description: 'node', default: '' });

  it('takes node names and the empty "not set"', () => {
    expect(spec.parse('ip-10-0-1-5.eu-west-1.compute.internal', TEXT)).toBe('ip-10-0-1-5.eu-west-1.compute.internal');
    expect(spec.parse('', TEXT)).toBe('');
  });

  it('refuses upper case, spaces, leading dashes and names over 253 characters, without echoing them', () => {
    for (const bad of ['Node1', 'a b', '-a', 'a-', 'x'.repeat(254), 'secret_token=abc']) {
      let message = '';
      try {
        spec.parse(bad, TEXT);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/DNS-1123/);
      expect(message).not.toContain(bad.trim() || '\u0000');
    }
  });
});
