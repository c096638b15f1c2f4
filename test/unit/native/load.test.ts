// Choosing the reader: one info line says which and why; under CI=true the addon must load.
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clockTicks, loadProcReader, pageSize } from '../../../src/native/index.js';
import { createLogger } from '../../../src/self/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('loadProcReader', () => {
  it('uses the fallback when native is false, and says so once', () => {
    const { logger, lines } = capture();
    const r = loadProcReader({ native: false, logger });
    expect(r.implementation).toBe('js');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, implementation: 'js', msg: 'proc reader: pure-JS fallback' });
    expect(String(lines[0]!.reason)).toContain('SEXTANT_NATIVE=0');
  });

  it('uses the addon when it is built, and says which in one line', () => {
    const { logger, lines } = capture();
    const r = loadProcReader({ native: true, logger });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, implementation: r.implementation });
    if (r.implementation === 'js') expect(String(lines[0]!.reason)).toMatch(/addon (not built|failed to load)/);
  });

  it.runIf(process.env.CI === 'true')('loads the NATIVE addon in CI (no silent fallback)', () => {
    const { logger, lines } = capture();
    expect(loadProcReader({ native: true, logger }).implementation, JSON.stringify(lines)).toBe('native');
  });
});

describe('kernel constants', () => {
  it('reads the clock tick rate and page size once from getconf', () => {
    const getconf = (name: string) => Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    expect(clockTicks()).toBe(getconf('CLK_TCK'));
    expect(pageSize()).toBe(getconf('PAGESIZE'));
    expect(clockTicks()).toBe(clockTicks());
  });
});
