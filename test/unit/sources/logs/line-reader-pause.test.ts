import { mkdtempSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeFile } from '../../../../src/sources/logs/file-identity.js';
import { LineReader, type LineSink, type ReadStatus } from '../../../../src/sources/logs/line-reader.js';

/**
 * A pause (the pipeline full) leaves whole lines in the reader's buffer. Found by the real-writer
 * copytruncate test (test/e2e/logs-truncate-delete-real.test.ts: 800 lines that were in the
 * copy never arrived): a copytruncate noticed at the next turn threw those lines away with the
 * buffer, though they were read from the old content and exist nowhere the reader will look.
 */

/** Takes `every` lines, then pauses (returns false after the last one). */
class PausingSink implements LineSink {
  lines: string[] = [];
  #n = 0;
  constructor(readonly every: number) {}
  line(buf: Buffer, start: number, end: number): boolean {
    this.lines.push(buf.toString('latin1', start, end));
    return ++this.#n % this.every !== 0;
  }
}

let dir: string;
let fh: FileHandle | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sextant-lrp-'));
});
afterEach(async () => {
  await fh?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const lines = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix} ${i}\n`).join('');

describe('LineReader paused with whole lines buffered', () => {
  for (const refill of [false, true]) {
    it(`copytruncate ${refill ? 'refilled past the offset' : 'caught empty'}: the buffered lines of the old content are delivered, then the new content from 0`, async () => {
      const f = path.join(dir, 'a.log');
      writeFileSync(f, lines('old', 100));
      fh = await open(f, 'r');
      const sink = new PausingSink(10);
      const r = new LineReader(fh, (await probeFile(fh)).identity, 0, sink, { bufferSize: 64 * 1024 });
      expect(await r.readTurn()).toBe('paused'); // the whole file is in the buffer, 10 lines out
      truncateSync(f, 0);
      // Refilled with more than we had read: only the changed head tells.
      if (refill) appendFileSync(f, lines('new-and-longer', 200));
      else appendFileSync(f, lines('new', 5));
      const statuses: ReadStatus[] = [];
      for (let k = 0; k < 100 && r.truncations === 0; k++) statuses.push(await r.readTurn());
      for (let k = 0; k < 100; k++) if ((await r.readTurn()) === 'eof') break;
      const want = [...lines('old', 100).split('\n').slice(0, -1), ...lines(refill ? 'new-and-longer' : 'new', refill ? 200 : 5).split('\n').slice(0, -1)];
      expect(sink.lines).toEqual(want);
      expect(statuses.at(-1)).toBe('truncated');
      expect(r.truncations).toBe(1);
    });
  }
});
