import { describe, expect, it } from 'vitest';
import { readBody } from '../../../src/io/read-body.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

describe('readBody', () => {
  it('reads a body up to the cap whole; one byte more overflows and stops reading', async () => {
    expect(await readBody(chunks('abc', 'de'), 5)).toEqual({ bytes: Buffer.from('abcde'), overflowed: false });
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (const p of ['abc', 'def', 'ghi']) {
        pulled++;
        yield Buffer.from(p);
      }
    }
    const r = await readBody(counted(), 5);
    expect(r.overflowed).toBe(true);
    expect(r.bytes.toString()).toBe('abcdef'); // the chunk that crossed the cap is kept
    expect(pulled).toBe(2);
  });

  it('an empty body is empty', async () => {
    expect(await readBody(chunks(), 10)).toEqual({ bytes: Buffer.alloc(0), overflowed: false });
  });
});
