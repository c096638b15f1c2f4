import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareIdentity, extendIdentity, FINGERPRINT_BYTES, headMatches, probeFile } from '../../../../src/sources/logs/file-identity.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sextant-fid-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function probe(file: string) {
  const fh = await open(file, 'r');
  try {
    const p = await probeFile(fh);
    return { ...p, head: Buffer.from(p.head) };
  } finally {
    await fh.close();
  }
}

describe('file identity', () => {
  it('keeps a stable identity while a short file grows past the fingerprint length', async () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'short\n');
    const first = await probe(f);
    expect(first.identity.headLength).toBe(6);
    appendFileSync(f, 'x'.repeat(1000));
    const later = await probe(f);
    expect(later.identity.key).toBe(first.identity.key);
    expect(later.identity.headLength).toBe(FINGERPRINT_BYTES);
    expect(compareIdentity(first.identity, 6, later)).toBe('same');
    const extended = extendIdentity(first.identity, later);
    expect(extended).toEqual(later.identity);
    expect(extendIdentity(extended, later)).toBe(extended);
  });

  it('an empty file matches anything until it has a head', async () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, '');
    const empty = await probe(f);
    expect(empty.identity.headLength).toBe(0);
    appendFileSync(f, 'hello\n');
    expect(compareIdentity(empty.identity, 0, await probe(f))).toBe('same');
  });

  it('same inode, new content (in-place rewrite, as after inode reuse) → replaced', async () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'first file content\n'.repeat(20));
    const a = await probe(f);
    writeFileSync(f, 'other file content\n'.repeat(20)); // O_TRUNC keeps the inode
    const b = await probe(f);
    expect(b.identity.key).toBe(a.identity.key);
    expect(compareIdentity(a.identity, 100, b)).toBe('replaced');
    expect(headMatches(a.identity, b.head)).toBe(false);
  });

  it('size below the offset → truncated; another inode → other-file', async () => {
    const f = path.join(dir, 'a.log');
    const g = path.join(dir, 'b.log');
    writeFileSync(f, 'z'.repeat(1000));
    writeFileSync(g, 'z'.repeat(1000));
    const a = await probe(f);
    const fh = await open(f, 'r+');
    await fh.truncate(500);
    await fh.close();
    expect(compareIdentity(a.identity, 800, await probe(f))).toBe('truncated');
    expect(compareIdentity(a.identity, 400, await probe(f))).toBe('same');
    expect(compareIdentity(a.identity, 0, await probe(g))).toBe('other-file');
    // Truncated below the recorded head: the head cannot be checked, still a truncation.
    writeFileSync(f, 'z'.repeat(10));
    expect(compareIdentity(a.identity, 800, await probe(f))).toBe('truncated');
  });
});
