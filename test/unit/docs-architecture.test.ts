/**
 * docs/architecture.md lists every file of src/ and native/ in the table row of its folder, and
 * lists nothing that is not there: a file added, moved or removed without the map fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, filesUnder } from '../helpers/source-tree.js';

const DOC = readFileSync(path.join(REPO_ROOT, 'docs/architecture.md'), 'utf8');

/** Table rows whose first cell is a folder (`src/sources/logs/`): folder → file names named in the row. */
function listedFiles(): Map<string, Set<string>> {
  const rows = new Map<string, Set<string>>();
  for (const line of DOC.split('\n')) {
    const m = /^\|\s*`((?:src|native)(?:\/[^`]*)?\/)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const folder = m[1]!.replace(/\/$/, '');
    const names = rows.get(folder) ?? new Set<string>();
    // A file is named in backticks by its name within the folder (`host-source.ts`); a name with
    // a slash (`config-kinds/names.ts`) refers to a file listed in another row.
    for (const n of m[2]!.matchAll(/`([\w.-]+\.(?:ts|c|h|gyp|js|md))`/g)) names.add(n[1]!);
    rows.set(folder, names);
  }
  return rows;
}

const rows = listedFiles();
const files = [...filesUnder('src'), ...filesUnder('native')];

/** The row a file belongs to: its own folder's, or the nearest parent folder that has a row. */
function rowOf(file: string): { folder: string; name: string } | undefined {
  for (let dir = path.posix.dirname(file); dir !== '.'; dir = path.posix.dirname(dir)) {
    if (rows.has(dir)) return { folder: dir, name: path.posix.relative(dir, file) };
  }
  return undefined;
}

describe('docs/architecture.md', () => {
  it('has a row for the folders it maps', () => {
    expect(rows.size).toBeGreaterThan(20);
    expect(rows.has('src/sources/logs')).toBe(true);
    expect(rows.has('native')).toBe(true);
  });

  it('lists every file of src/ and native/ in its folder row', () => {
    const missing = files.filter((f) => {
      const r = rowOf(f);
      return r === undefined || !rows.get(r.folder)!.has(r.name);
    });
    expect(missing).toEqual([]);
  });

  it('lists no file that does not exist', () => {
    const present = new Set(files);
    const stale: string[] = [];
    for (const [folder, names] of rows) for (const n of names) if (!present.has(`${folder}/${n}`)) stale.push(`${folder}/${n}`);
    expect(stale).toEqual([]);
  });
});
