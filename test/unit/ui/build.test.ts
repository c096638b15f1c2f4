import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The explorer's build (ui/build.mjs, run by `npm run build`): within its budget of 300 KB
 * gzipped in all, an index.html with nothing inline (the gateway's CSP allows no inline script
 * or style), hashed names for everything else, and each file's compressed copies equal to it.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BUDGET = 300 * 1024;
const out = mkdtempSync(path.join(tmpdir(), 'sextant-ui-build-'));

interface Manifest {
  files: { path: string; bytes: number; gzipBytes: number; brotliBytes: number; etag: string; immutable: boolean }[];
  totalGzipBytes: number;
}

execFileSync(process.execPath, [path.join(ROOT, 'ui', 'build.mjs')], { env: { ...process.env, SEXTANT_UI_OUT: out, SEXTANT_UI_BUILD_QUIET: '1' }, stdio: 'pipe' });
const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the explorer build', () => {
  it(`is at most ${BUDGET / 1024} KB gzipped, every file counted`, () => {
    const total = manifest.files.reduce((s, f) => s + f.gzipBytes, 0);
    expect(total).toBe(manifest.totalGzipBytes);
    expect(total).toBeLessThanOrEqual(BUDGET);
    for (const f of manifest.files) {
      const body = readFileSync(path.join(out, f.path));
      expect(body.length).toBe(f.bytes);
      expect(gunzipSync(readFileSync(path.join(out, `${f.path}.gz`))).equals(body)).toBe(true);
      expect(existsSync(path.join(out, `${f.path}.br`))).toBe(true);
    }
  });

  it('index.html names hashed assets only, and has no inline script or style', () => {
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    expect(html).not.toMatch(/https?:\/\//);
    const names = [...html.matchAll(/(?:src|href)="\/ui\/([^"]+)"/g)].map((m) => m[1]!);
    expect(names).toHaveLength(2);
    for (const n of names) {
      expect(n).toMatch(/^assets\/explorer-[A-Z0-9]{8}\.(js|css)$/);
      expect(manifest.files.find((f) => f.path === n)?.immutable).toBe(true);
    }
    expect(manifest.files.find((f) => f.path === 'index.html')?.immutable).toBe(false);
  });

  it('the bundle loads nothing from another origin and evaluates no strings', () => {
    const js = readFileSync(path.join(out, manifest.files.find((f) => f.path.endsWith('.js'))!.path), 'utf8');
    expect(js).not.toMatch(/\beval\(/);
    expect(js).not.toMatch(/new Function\(/);
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });
});
