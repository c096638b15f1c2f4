import { renderView } from './render.js';
import { scrape as scrapeAgent, ScrapeError } from './scrape.js';
import { buildView, type Scrape } from './view.js';

/**
 * `sextant top`: on a terminal, a live screen (alternate screen, redrawn every interval, `q` or
 * Ctrl-C to leave, the terminal restored whatever happens); on a pipe, one table from two
 * scrapes an interval apart (so it has rates) and exit 0. An unreachable target is one line on
 * stderr and exit 1.
 */

export interface TopOutput {
  write(s: string): unknown;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
  readonly rows?: number | undefined;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export interface TopInput {
  readonly isTTY?: boolean | undefined;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface TopOptions {
  readonly target: URL;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface TopIo {
  readonly stdout: TopOutput;
  readonly stderr: { write(s: string): unknown };
  readonly stdin: TopInput;
  /** Injectable for tests. */
  readonly scrape?: (target: URL, timeoutMs: number) => Promise<Scrape>;
}

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[?25l';
const ALT_SCREEN_OFF = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';
/** Width of the one-shot table when stdout is not a terminal. */
const PIPE_WIDTH = 160;

export async function runTop(options: TopOptions, io: TopIo): Promise<number> {
  const scrape = io.scrape ?? scrapeAgent;
  let first: Scrape;
  try {
    first = await scrape(options.target, options.timeoutMs);
  } catch (err) {
    io.stderr.write(`sextant top: ${err instanceof ScrapeError ? err.message : (err as Error).message}\n`);
    io.stderr.write(`sextant top: is the agent running? Its self endpoint is SEXTANT_LISTEN (default 127.0.0.1:9464); pass --target URL to point elsewhere.\n`);
    return 1;
  }
  if (io.stdout.isTTY === true && io.stdin.isTTY === true) return live(first, options, io, scrape);

  await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  let second: Scrape | undefined;
  try {
    second = await scrape(options.target, options.timeoutMs);
  } catch {
    // One scrape is still a table, without rates.
  }
  const view = second === undefined ? buildView(first, undefined) : buildView(second, first);
  io.stdout.write(renderView(view, { target: options.target.origin, width: PIPE_WIDTH }).join('\n') + '\n');
  return 0;
}

function live(first: Scrape, options: TopOptions, io: TopIo, scrape: (target: URL, timeoutMs: number) => Promise<Scrape>): Promise<number> {
  const { stdout, stdin } = io;
  let prev: Scrape | undefined;
  let cur = first;
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const hint = `refresh ${options.intervalMs / 1000}s, q to quit`;

  const draw = (): void => {
    const width = Math.max(40, stdout.columns ?? 120);
    const lines = renderView(buildView(cur, prev), { target: options.target.origin, width, hint, error, height: stdout.rows });
    stdout.write(HOME + lines.map((l) => l + CLEAR_LINE_END).join('\n') + CLEAR_BELOW);
  };

  return new Promise<number>((resolve) => {
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      stdin.off('data', onKey);
      stdout.off?.('resize', draw);
      process.off('SIGTERM', finish);
      process.off('SIGINT', finish);
      process.off('SIGHUP', finish);
      try {
        stdin.setRawMode?.(false);
      } catch {
        // The terminal may be gone already (SIGHUP); nothing left to restore then.
      }
      stdin.pause();
      stdout.write(ALT_SCREEN_OFF);
      resolve(0);
    };
    const onKey = (chunk: Buffer | string): void => {
      const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
      // q, Q, Ctrl-C (raw mode delivers it as a byte, not SIGINT), Ctrl-D.
      if (/[qQ\x03\x04]/.test(s)) finish();
    };
    const tick = async (): Promise<void> => {
      try {
        const next = await scrape(options.target, options.timeoutMs);
        prev = cur;
        cur = next;
        error = undefined;
      } catch (err) {
        // Keep the last numbers on screen and say why they are not moving.
        error = err instanceof Error ? err.message : String(err);
      }
      if (done) return;
      draw();
      timer = setTimeout(() => void tick(), options.intervalMs);
    };

    stdout.write(ALT_SCREEN_ON);
    stdin.setRawMode?.(true);
    stdin.on('data', onKey);
    stdin.resume();
    stdout.on?.('resize', draw);
    process.on('SIGTERM', finish);
    process.on('SIGINT', finish);
    process.on('SIGHUP', finish);
    draw();
    timer = setTimeout(() => void tick(), options.intervalMs);
  });
}
