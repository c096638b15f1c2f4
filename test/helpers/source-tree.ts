import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The repository root (this file is test/helpers/source-tree.ts). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** Every file under `dir` (relative to the repository root), sorted, as repository-relative paths. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(REPO_ROOT, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'build' && e.name !== 'node_modules') walk(child);
      } else if (e.isFile()) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

/** One relative import of a TypeScript file: static, type-only, re-export or dynamic. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

const IMPORT_SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'";]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The relative imports of every `.ts` file under src/, resolved to repository paths (`.js` → `.ts`). */
export function sourceImports(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of filesUnder('src').filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    for (const m of text.matchAll(IMPORT_SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      edges.push({ from: file, to });
    }
  }
  return edges;
}
