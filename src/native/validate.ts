import { HOST_KINDS, HOST_MIN_OUT } from './host-layout.js';
import { TCP_COUNT_SLOTS, type ProcessTable } from './types.js';

/*
 * Argument checks shared by both readers, so a bad call fails the same way whichever is loaded
 * and the addon never sees a value that would make it write out of bounds. Once per call.
 */

const INT32_MAX = 2147483647;
/** The kernel's cmdline is bounded by ARG_MAX (¼ of the stack limit); 64 MiB is more than enough. */
export const MAX_CMDLINE_CAP = 64 * 1024 * 1024;

export function checkProcDir(procDir: string): void {
  if (typeof procDir !== 'string' || procDir.includes('\0')) {
    throw new TypeError('procDir must be a string without NUL bytes');
  }
}

export function checkScanArgs(procDir: string, table: ProcessTable): void {
  checkProcDir(procDir);
  const cap = table?.capacity;
  if (!Number.isInteger(cap) || cap < 0 || cap > 0xffffffff) throw new TypeError('table.capacity must be a non-negative integer');
  if (
    !(table.pid instanceof Int32Array && table.pid.length >= cap) ||
    !(table.ppid instanceof Int32Array && table.ppid.length >= cap) ||
    !(table.state instanceof Uint8Array && table.state.length >= cap) ||
    !(table.startTicks instanceof Float64Array && table.startTicks.length >= cap) ||
    !(table.utimeTicks instanceof Float64Array && table.utimeTicks.length >= cap) ||
    !(table.stimeTicks instanceof Float64Array && table.stimeTicks.length >= cap) ||
    !(table.minorFaults instanceof Float64Array && table.minorFaults.length >= cap) ||
    !(table.majorFaults instanceof Float64Array && table.majorFaults.length >= cap) ||
    !(table.threads instanceof Int32Array && table.threads.length >= cap) ||
    !(table.vsizeBytes instanceof Float64Array && table.vsizeBytes.length >= cap) ||
    !(table.rssPages instanceof Float64Array && table.rssPages.length >= cap)
  ) {
    throw new TypeError('table must come from createProcessTable (a column has the wrong type or length)');
  }
}

export function checkDetailsArgs(procDir: string, pid: number, maxCmdlineBytes: number): void {
  checkProcDir(procDir);
  if (!Number.isInteger(pid) || pid < 1 || pid > INT32_MAX) throw new TypeError(`pid must be an integer from 1 to ${INT32_MAX}`);
  if (!Number.isInteger(maxCmdlineBytes) || maxCmdlineBytes < 0 || maxCmdlineBytes > MAX_CMDLINE_CAP) {
    throw new TypeError(`maxCmdlineBytes must be an integer from 0 to ${MAX_CMDLINE_CAP}`);
  }
}

/** The error both readers throw when procDir itself cannot be listed; `code` is the errno name. */
export function procDirError(procDir: string, code: string): Error & { code: string } {
  const err = new Error(`cannot read process directory ${procDir}: ${code}`) as Error & { code: string };
  err.code = code;
  return err;
}

export function checkHostKind(kind: number): void {
  if (!Number.isInteger(kind) || kind < 0 || kind >= HOST_KINDS) throw new TypeError(`kind must be an integer from 0 to ${HOST_KINDS - 1}`);
}

export function checkHostArgs(kind: number, path: string, out: Float64Array): void {
  checkHostKind(kind);
  if (typeof path !== 'string' || path.includes('\0')) throw new TypeError('path must be a string without NUL bytes');
  if (!(out instanceof Float64Array) || out.length < HOST_MIN_OUT) throw new TypeError(`out must be a Float64Array of at least ${HOST_MIN_OUT} elements`);
}

export function checkTcpOut(out: Float64Array): void {
  if (!(out instanceof Float64Array) || out.length < TCP_COUNT_SLOTS) throw new TypeError(`out must be a Float64Array of at least ${TCP_COUNT_SLOTS} elements`);
}
