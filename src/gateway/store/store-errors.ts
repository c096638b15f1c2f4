import { SextantError } from '../../errors.js';

/** Why the store could not be used, as an operator acts on it. */
export type StoreProblem = 'corrupt' | 'version' | 'disk_full' | 'locked' | 'permission' | 'io';

/**
 * The store cannot be opened or written. The gateway keeps receiving and forwarding without it;
 * `recovery` is the one thing to do, also in README "Troubleshooting".
 */
export class StoreUnavailableError extends SextantError {
  readonly problem: StoreProblem;
  readonly file: string;
  readonly recovery: string;
  constructor(problem: StoreProblem, file: string, detail: string, options?: { cause?: unknown }) {
    const recovery = recoveryFor(problem, file);
    super('SEXTANT_ERR_STORE_UNAVAILABLE', `store ${file} cannot be used (${problem}): ${detail}`, options);
    this.problem = problem;
    this.file = file;
    this.recovery = recovery;
  }
}

function recoveryFor(problem: StoreProblem, file: string): string {
  const moveAside = `move it aside and restart the gateway, which then starts a fresh, empty store: mv ${file} ${file}.broken && mv ${file}.wal ${file}.wal.broken (if present); the moved file can still be opened with the duckdb CLI`;
  switch (problem) {
    case 'corrupt':
      return `the file is damaged or not a DuckDB database: ${moveAside}`;
    case 'version':
      return `the file was written by a newer Sextant or DuckDB: run that version, or ${moveAside}`;
    case 'disk_full':
      return 'free space on the data volume (or give it more); the gateway tries to open the store again every minute and forwards meanwhile';
    case 'locked':
      return 'another process holds the store open (a second gateway with the same gateway.dataDir?): stop it, or give this gateway its own gateway.dataDir';
    case 'permission':
      return `make ${file} and its directory readable and writable by the gateway's user, or set gateway.dataDir to a writable directory`;
    case 'io':
      return `check the data volume (dmesg, df); if the file itself is at fault, ${moveAside}`;
  }
}

/** What a DuckDB or file-system error at open or commit means. */
export function classifyStoreError(err: unknown, file: string): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  let problem: StoreProblem = 'io';
  if (code === 'ENOSPC' || /no space left|disk is full|ENOSPC|could not write all bytes|file too large/i.test(text)) problem = 'disk_full';
  else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /permission denied|read-only file system/i.test(text)) problem = 'permission';
  else if (/could not set lock|conflicting lock/i.test(text)) problem = 'locked';
  else if (/version number|newer version|older version|storage version|serialized by|schema version/i.test(text)) problem = 'version';
  else if (/not a valid duckdb|corrupt|checksum|invalid.*header|magic bytes|failed to read.*block|INTERNAL Error/i.test(text)) problem = 'corrupt';
  return new StoreUnavailableError(problem, file, firstLine(text), { cause: err });
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  const line = nl < 0 ? text : text.slice(0, nl);
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** DuckDB refuses every further statement after some failures ("database has been invalidated"). */
export function isFatalStoreError(err: unknown): boolean {
  const text = err instanceof Error ? err.message : String(err);
  return /invalidated|FATAL Error|database has been invalidated/i.test(text);
}

/** A query ran past its deadline and was cancelled (DuckDB interrupted it). */
export class QueryTimeoutError extends SextantError {
  constructor(timeoutMs: number) {
    super('SEXTANT_ERR_QUERY_TIMEOUT', `query cancelled after ${timeoutMs} ms (gateway.queryTimeout); narrow the range or the filters`);
  }
}

/** Too many queries are waiting for a connection. */
export class QueryBusyError extends SextantError {
  constructor() {
    super('SEXTANT_ERR_QUERY_BUSY', 'too many queries in progress; retry shortly');
  }
}
