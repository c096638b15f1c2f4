import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Severity } from '../../../../src/model/log.js';
import { detectSeverity, SCAN_CHARS, severityText } from '../../../../src/sources/logs/severity.js';

const { TRACE, DEBUG, INFO, WARN, ERROR, FATAL } = Severity;

describe('detectSeverity', () => {
  it.each([
    ['{"level":"info","msg":"hello"}', INFO],
    ['{"level":30,"time":1700000000000,"pid":1,"hostname":"h","msg":"pino"}', INFO],
    ['{"level":10,"msg":"x"}', TRACE],
    ['{"level":20,"msg":"x"}', DEBUG],
    ['{"level":40,"msg":"x"}', WARN],
    ['{"level":50,"msg":"x"}', ERROR],
    ['{"level":60,"msg":"x"}', FATAL],
    ['{"time":"2026-11-25T10:05:31Z","severity":"ERROR","message":"x"}', ERROR],
    ['{"ts":1.5,"caller":"main.go:1","lvl":"warn"}', WARN],
    ['{"@timestamp":"2026","log.level":"warning","message":"ecs"}', WARN],
    ['  { "Level" : "Debug" }', DEBUG],
    ['{"msg":"a \\"level\\":\\"error\\" inside","level":"info"}', INFO],
    ['{"nested":{"level":"error"},"level":"info"}', INFO],
    ['{"nested":{"level":"error"}}', 0],
    ['{"arr":["level","error"]}', 0],
    ['{"msg":"x","level":"verbose"}', 0],
    ['{"level":99}', 0],
    ['{"level":true}', 0],
    ['{"level', 0],
    ['INFO starting server', INFO],
    ['info: starting', INFO],
    ['WARN  low disk', WARN],
    ['WARNING: low disk', WARN],
    ['ERROR something broke', ERROR],
    ['ERR something broke', ERROR],
    ['DEBUG x', DEBUG],
    ['TRACE x', TRACE],
    ['FATAL x', FATAL],
    ['CRITICAL x', FATAL],
    ['[ERROR] x', ERROR],
    ['<warn> x', WARN],
    ['2026-11-25T10:05:31.123Z INFO x', INFO],
    ['2026-11-25 10:05:31,123 [main] ERROR com.example.App - boom', ERROR],
    ['2026/11/25 10:05:31 | warn | x', WARN],
    ['[2026-11-25 10:05:31] [error] x', ERROR],
    ['I1125 10:16:51.123456       1 main.go:42] glog info', INFO],
    ['W1125 10:16:51.123456       1 main.go:42] glog warn', WARN],
    ['E1125 10:16:51.123456       1 main.go:42] glog error', ERROR],
    ['F1125 10:16:51.123456       1 main.go:42] glog fatal', FATAL],
    ['time="2026-11-25T10:05:31Z" level=error msg="boom"', ERROR],
    ['ts=2026-11-25T10:05:31Z lvl=info msg=x', INFO],
    ['time="a b c" level="warning" msg="x"', WARN],
    ['ERROR:root:python logging', ERROR],
    ['hello world ERROR later', 0],
    ['Errors found: 3', 0],
    ['INFORMATIONAL x', 0],
    ['information x', INFO],
    ['error-handler started', 0],
    ['', 0],
    ['   ', 0],
    ['12345', 0],
    ['I1125x', 0],
    [`${' '.repeat(SCAN_CHARS)}ERROR beyond the scan window`, 0],
  ])('%j → %i', (body, want) => {
    expect(detectSeverity(body)).toBe(want);
  });

  it('names the numbers it returns', () => {
    expect([TRACE, DEBUG, INFO, WARN, ERROR, FATAL, 0].map(severityText)).toEqual(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', '']);
  });

  it('looks at no more than the first characters of a huge body', () => {
    const huge = `{"msg":"${'x'.repeat(5 * 1024 * 1024)}","level":"error"}`;
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) detectSeverity(huge);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(detectSeverity(huge)).toBe(0);
  });

  it('property: never throws, always a known number', () => {
    const known = new Set([0, TRACE, DEBUG, INFO, WARN, ERROR, FATAL]);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.json(), fc.string({ maxLength: 50 }).map((s) => `{"level":${s}`)), (body) => {
        expect(known.has(detectSeverity(body))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: finds the level of any short JSON object with a top-level level key', () => {
    const levels: [string, number][] = [['info', INFO], ['WARN', WARN], ['error', ERROR], ['debug', DEBUG]];
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'grapheme-ascii', maxLength: 6 }).filter((k) => !/^(level|lvl|severity|log\.level)$/i.test(k)), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), fc.constantFrom(...levels), (obj, [word, want]) => {
        const body = JSON.stringify({ ...obj, level: word });
        fc.pre(body.length <= SCAN_CHARS);
        expect(detectSeverity(body)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});
