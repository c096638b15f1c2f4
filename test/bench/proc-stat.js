// What the benches need to run a process and measure it from outside: a free loopback port to
// hand it, and its CPU time from /proc/<pid>/stat (every thread: utime + stime).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Clock ticks per second, the unit of /proc/<pid>/stat's times. */
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** A loopback port free right now (for a process that must be told its port up front). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** utime + stime of a process, in clock ticks; throws once it is gone. `pid` may be `<pid>/task/<tid>` (one thread). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); f[0] is field 3 (state).
  return Number(f[11]) + Number(f[12]);
}

/** utime + stime in seconds, or NaN once the process is gone. */
export function cpuSeconds(pid) {
  try {
    return cpuTicks(pid) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
