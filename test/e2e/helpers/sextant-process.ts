import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../../helpers/wait.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(REPO, 'dist/cli/sextant.js');

/**
 * A real `sextant` process (the built dist/, through dist/cli/sextant.js, on the Node running the
 * tests). Collects stdout and stderr, parses pino's JSON log lines, and waits for lines.
 */
export class SextantProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /**
   * `prefix`: a command that execs the rest (AgentMemoryCgroup.prefix(): start inside a cgroup).
   * `nodeFlags`: Node's own flags, before the script.
   */
  constructor(args: string[], options: { cwd: string; env: Record<string, string>; prefix?: readonly string[]; nodeFlags?: readonly string[] }) {
    const argv = [...(options.prefix ?? []), process.execPath, ...(options.nodeFlags ?? []), BIN, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      // A clean environment: nothing SEXTANT_* leaks in from the developer's shell.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.cwd, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** pino log lines from stderr, parsed. */
  logs(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Polls `probe` (test/helpers/wait.ts); fails at once, with the process's output, when it exits first. */
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return until(
      what,
      () => {
        const v = probe();
        if (v === undefined && this.child.exitCode !== null) throw new Error(`sextant exited (${this.child.exitCode}) while waiting for ${what}\nstderr:\n${this.stderr}`);
        return v;
      },
      { timeoutMs, everyMs: 50, detail: () => `stdout:\n${this.stdout}\nstderr:\n${this.stderr}` },
    );
  }

  /** Waits for a log line whose `msg` is `msg` and returns it. */
  waitForLog(msg: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return this.waitFor(() => this.logs().find((l) => l['msg'] === msg), timeoutMs, `log "${msg}"`);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }
}
