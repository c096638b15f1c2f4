// Helpers for the /proc reader tests: fake /proc trees in a tmp dir, both readers, and tables
// turned into comparable rows.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../../src/self/logger.js';
import { loadProcReader } from '../../../src/native/index.js';
import { JsProcReader } from '../../../src/native/fallback.js';
import { createProcessTable, type ProcessTable, type ProcReader } from '../../../src/native/types.js';
import { presentOrSkip } from '../../helpers/ci-gate.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/hosts/', import.meta.url));

/** The addon when it is built (otherwise undefined: those tests skip, except under CI=true). */
export const native: ProcReader | undefined = (() => {
  const r = loadProcReader({ native: true, logger: silentLogger() });
  return presentOrSkip(r.implementation === 'native', 'the native addon', 'npm ci builds it (g++, make, python3)') ? r : undefined;
})();
export const js = new JsProcReader();
/** Both readers, for `describe.each`; the JS one alone when the addon is not built. */
export const readers: ReadonlyArray<[string, ProcReader]> = native ? [['native', native], ['js', js]] : [['js', js]];

export function tmpDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `sextant-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface FakeProcess {
  stat?: string | Buffer;
  status?: string | Buffer;
  cmdline?: string | Buffer;
  cgroup?: string | Buffer;
  io?: string | Buffer;
  /** Target of the `exe` symlink (bytes allowed: a path need not be UTF-8). */
  exe?: string | Buffer;
  /** Number of entries to create under fd/. */
  fds?: number;
}

/** Writes `<root>/<name>/…` the way /proc lays a process out. */
export function writeProcess(root: string, name: string, p: FakeProcess): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['stat', 'status', 'cmdline', 'cgroup', 'io'] as const) {
    const v = p[f];
    if (v !== undefined) writeFileSync(path.join(dir, f), v);
  }
  if (p.exe !== undefined) symlinkSync(p.exe, path.join(dir, 'exe'));
  if (p.fds !== undefined) {
    mkdirSync(path.join(dir, 'fd'));
    for (let i = 0; i < p.fds; i++) writeFileSync(path.join(dir, 'fd', String(i)), '');
  }
  return dir;
}

/** Copies a captured process (test/fixtures/hosts/<host>/proc/<name>/) to `<root>/<pid>/`. */
export function copyCaptured(root: string, host: string, name: string, pid: number): void {
  const src = path.join(FIXTURES, host, 'proc', name);
  const files: FakeProcess = {};
  for (const f of ['stat', 'status', 'cmdline', 'cgroup', 'io'] as const) files[f] = readFileSync(path.join(src, f));
  writeProcess(root, String(pid), files);
}

/** A well-formed stat line; `fields` overrides by field number (1-based, as in proc(5)). */
export function statLine(pid: number, comm: string | Buffer, fields: Record<number, string | number> = {}): Buffer {
  const f: (string | number)[] = [];
  // 52 fields as on kernel 6.x; 3 = state, then ppid … rss with recognisable defaults.
  const defaults: Record<number, string | number> = { 3: 'S', 4: 1, 10: 110, 12: 12, 14: 140, 15: 150, 20: 2, 22: 2200, 23: 230000, 24: 240 };
  for (let i = 3; i <= 52; i++) f.push(fields[i] ?? defaults[i] ?? (i === 8 ? -1 : 0));
  const head = Buffer.concat([Buffer.from(`${pid} (`), typeof comm === 'string' ? Buffer.from(comm) : comm, Buffer.from(') ')]);
  return Buffer.concat([head, Buffer.from(`${f.join(' ')}\n`)]);
}

export interface Row {
  pid: number;
  ppid: number;
  state: string;
  startTicks: number;
  utimeTicks: number;
  stimeTicks: number;
  minorFaults: number;
  majorFaults: number;
  threads: number;
  vsizeBytes: number;
  rssPages: number;
}

export function rows(t: ProcessTable): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < t.count; i++) {
    out.push({
      pid: t.pid[i]!,
      ppid: t.ppid[i]!,
      state: String.fromCharCode(t.state[i]!),
      startTicks: t.startTicks[i]!,
      utimeTicks: t.utimeTicks[i]!,
      stimeTicks: t.stimeTicks[i]!,
      minorFaults: t.minorFaults[i]!,
      majorFaults: t.majorFaults[i]!,
      threads: t.threads[i]!,
      vsizeBytes: t.vsizeBytes[i]!,
      rssPages: t.rssPages[i]!,
    });
  }
  return out;
}

/** Scans with a table that grows until everything fits, as a caller is meant to. */
export function scanAll(reader: ProcReader, procDir: string, capacity = 64): { total: number; rows: Row[]; malformed: number } {
  let table = createProcessTable(capacity);
  let total = reader.scanProcesses(procDir, table);
  while (total > table.capacity) {
    table = createProcessTable(total * 2);
    total = reader.scanProcesses(procDir, table);
  }
  return { total, rows: rows(table), malformed: (reader as unknown as { malformed: number }).malformed };
}
