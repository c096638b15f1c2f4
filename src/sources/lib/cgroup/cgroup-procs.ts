import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The first process of a cgroup, from `cgroup.procs` (one pid per line, in the reader's pid
 * namespace). Enough to reach what a container's processes share — its network namespace
 * (`/proc/<pid>/net/dev`) — without asking the runtime. Only the first line is read: a busy
 * container may list thousands of pids.
 *
 * Undefined when the cgroup holds no process (an exited container, or a v2 cgroup whose
 * processes all live in child cgroups: v2 keeps processes out of inner nodes) or is gone.
 */
export interface PidCounts {
  /** The cgroup was gone (ENOENT/ENODEV: the container exited). */
  gone: number;
  /** Anything else (permission, a first line that is not a pid). */
  failed: number;
}

/** pid_max is at most 2^22 (7 digits): a first line longer than this is not a pid. */
const HEAD = 32;

export async function firstPid(dir: string, counts?: PidCounts): Promise<number | undefined> {
  let fh;
  try {
    fh = await open(dir + '/cgroup.procs', 'r');
  } catch (err) {
    count(err, counts);
    return undefined;
  }
  try {
    const buf = Buffer.allocUnsafe(HEAD);
    const { bytesRead } = await fh.read(buf, 0, HEAD, 0);
    return parseHead(buf, bytesRead, counts);
  } catch (err) {
    count(err, counts);
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * firstPid with blocking syscalls: cgroup.procs is generated from kernel memory, so this costs
 * what open/read/close cost (~8 µs) where the promise version pays ~80 µs of threadpool hand-offs.
 * The container source calls it once per container per cycle at most.
 */
export function firstPidSync(dir: string, counts?: PidCounts): number | undefined {
  let fd: number;
  try {
    fd = openSync(dir + '/cgroup.procs', 'r');
  } catch (err) {
    count(err, counts);
    return undefined;
  }
  try {
    const n = readSync(fd, head, 0, HEAD, 0);
    return parseHead(head, n, counts);
  } catch (err) {
    count(err, counts);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

const head = Buffer.allocUnsafe(HEAD);

/** A pid, then the end of its line (or of a file that has just this one pid and no newline). */
function parseHead(head: Buffer, bytesRead: number, counts: PidCounts | undefined): number | undefined {
  if (bytesRead === 0) return undefined;
  let v = 0;
  let i = 0;
  for (; i < bytesRead; i++) {
    const c = head[i]!;
    if (c === 10) break;
    if (c < 48 || c > 57 || i >= 10) break;
    v = v * 10 + (c - 48);
  }
  const ended = i < bytesRead ? head[i] === 10 : bytesRead < HEAD;
  if (i === 0 || !ended || v === 0) {
    if (counts) counts.failed++;
    return undefined;
  }
  return v;
}

function count(err: unknown, counts: PidCounts | undefined): void {
  if (counts === undefined) return;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR' || code === 'ESRCH') counts.gone++;
  else counts.failed++;
}
