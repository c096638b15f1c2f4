import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** Sextant's version from its package.json (found above this file in src/ and in dist/). */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'sextant' && typeof pkg.version === 'string') return (cached = pkg.version);
      } catch {
        // not ours; keep looking
      }
    }
    dir = dirname(dir);
  }
  return (cached = 'unknown');
}
