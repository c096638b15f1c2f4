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
    if (bytesRead === 0) return undefined;
    let v = 0;
    let i = 0;
    for (; i < bytesRead; i++) {
      const c = buf[i]!;
      if (c === 10) break;
      if (c < 48 || c > 57 || i >= 10) break;
      v = v * 10 + (c - 48);
    }
    // A pid, then the end of its line (or of a file that has just this one pid and no newline).
    const ended = i < bytesRead ? buf[i] === 10 : bytesRead < HEAD;
    if (i === 0 || !ended || v === 0) {
      if (counts) counts.failed++;
      return undefined;
    }
    return v;
  } catch (err) {
    count(err, counts);
    return undefined;
  } finally {
    await fh.close();
  }
}

function count(err: unknown, counts: PidCounts | undefined): void {
  if (counts === undefined) return;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR' || code === 'ESRCH') counts.gone++;
  else counts.failed++;
}
