import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/gateway-store.js';
import { BIN } from './helpers/sextant-process.js';
import { presentOrSkip } from '../helpers/ci-gate.js';
import { until, type UntilOptions } from '../helpers/wait.js';

/**
 * `sextant top` in a real terminal: tmux runs it against a real agent (--local), the test reads
 * the screen with capture-pane, presses q (and Ctrl-C) with send-keys, and checks that top
 * exited 0 and left the alternate screen. SEXTANT_TEST_BIN points at another build (default dist/).
 */

const bin = process.env['SEXTANT_TEST_BIN'] ?? BIN;
const SOCKET = `sextant-top-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

/** A real agent from `bin`, its pino lines collected from stderr. */
function startAgent(args: string[], cwd: string, env: Record<string, string>): { child: ChildProcess; stderr: () => string; exited: Promise<unknown> } {
  let stderr = '';
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

/** Each poll captures the tmux pane (a process): not too often. */
const SCREEN: UntilOptions = { timeoutMs: 20_000, everyMs: 200 };

const screen = (session: string): string => tmux('capture-pane', '-p', '-t', session);
const altScreen = (session: string): boolean => tmux('display-message', '-p', '-t', session, '#{alternate_on}').trim() === '1';
/** File rows under CHECKPOINT LAG: "<behind> <size> <path>". */
function lagRows(text: string): number {
  const at = text.indexOf('CHECKPOINT LAG');
  if (at < 0) return 0;
  return text
    .slice(at)
    .split('\n')
    .filter((l) => /^\s+[\d.]+ (?:B|KiB|MiB|GiB)\s+[\d.]+ (?:B|KiB|MiB|GiB)\s+\S/.test(l)).length;
}

/** The records total of the `host` row (4th column), from a screen. */
function hostRecords(text: string): number | undefined {
  const m = /^\s+host\s+\S+\s+\S+(?:\s+\S+)?\s+([\d,]+)\s/m.exec(text);
  return m ? Number(m[1]!.replace(/,/g, '')) : undefined;
}

describe.skipIf(!presentOrSkip(hasTmux(), 'tmux', 'apt-get install tmux'))('sextant top under tmux', () => {
  let dir: string;
  let agent: ReturnType<typeof startAgent>;
  let target: string;
  let logFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sextant-top-'));
    mkdirSync(path.join(dir, 'app'));
    logFile = path.join(dir, 'app', 'top-test.log');
    appendFileSync(logFile, 'first line\n');
    const port = await freePort();
    target = `http://127.0.0.1:${port}`;
    agent = startAgent(['agent', '--local'], dir, {
      SEXTANT_LISTEN: `127.0.0.1:${port}`,
      SEXTANT_INTERVAL: '1s',
      SEXTANT_CONTAINERS_ENABLED: 'false',
      SEXTANT_LOGS_GLOBS: path.join(dir, 'app', '*.log'),
      SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0',
      SEXTANT_SUMMARY_INTERVAL: '0',
    });
    await until('the agent to start', () => agent.stderr().includes('"msg":"agent started"'), { ...SCREEN, timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // No server left: fine.
    }
    agent?.child.kill('SIGTERM');
    await agent?.exited;
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  function startTop(session: string): void {
    // `echo` after top: once top has exited the pane shows its status on the normal screen.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} top --target ${target}; echo "top exited $?"; sleep 120`;
    // 60 rows: the whole frame with ten lag rows is 48 lines (a shorter terminal gets it cut at
    // the bottom, test/unit/top).
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '60', cmd);
  }

  it('shows live numbers on the alternate screen and restores the terminal on q', async () => {
    startTop('q');
    await until('the top screen', () => screen('q').includes('CHECKPOINT LAG'), SCREEN);
    expect(altScreen('q')).toBe(true);
    const first = screen('q');
    for (const heading of ['sextant top', 'AGENT  cpu', 'SOURCES', 'RINGS', 'DROPS', 'EXPORT', 'CHECKPOINT LAG (top 10)']) expect(first).toContain(heading);
    expect(first).toMatch(/rss \d+\.\d MiB/);
    // Tailed files are listed with their lag (/status): ours, or up to ten of the host's own
    // container logs, which the agent also tails and which may sort before ours.
    await until('a tailed file in the lag table', () => lagRows(screen('q')) > 0, SCREEN);

    // Live: the host source's record total grows with every 1 s cycle, and top redraws it.
    await until('host records on screen', () => hostRecords(screen('q')) !== undefined, SCREEN);
    const before = hostRecords(screen('q'))!;
    appendFileSync(logFile, 'another line\n');
    await until('host records to grow', () => (hostRecords(screen('q')) ?? 0) > before, SCREEN);
    // Rates come from two scrapes: a number, not "-", once the second scrape is in.
    expect(screen('q')).toMatch(/^\s+host\s+\d+\.\d\s/m);

    tmux('send-keys', '-t', 'q', 'q');
    await until('top to exit', () => screen('q').includes('top exited 0'), SCREEN);
    expect(altScreen('q')).toBe(false);
    expect(screen('q')).not.toContain('SOURCES');
  }, 90_000);

  it('leaves cleanly on Ctrl-C too', async () => {
    startTop('c');
    await until('the top screen', () => screen('c').includes('EXPORT'), SCREEN);
    tmux('send-keys', '-t', 'c', 'C-c');
    await until('top to exit', () => screen('c').includes('top exited 0'), SCREEN);
    expect(altScreen('c')).toBe(false);
  }, 90_000);

  it('exits 1 with a message when the agent is unreachable', async () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} top --target http://127.0.0.1:1; echo "top exited $?"; sleep 120`;
    tmux('new-session', '-d', '-s', 'down', '-x', '120', '-y', '40', cmd);
    await until('top to exit', () => screen('down').includes('top exited 1'), SCREEN);
    expect(screen('down')).toContain('cannot reach http://127.0.0.1:1');
    expect(altScreen('down')).toBe(false);
  }, 90_000);
});
