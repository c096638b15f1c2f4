import { UsageError } from '../config/flags.js';
import { parseDurationText } from '../config-kinds/values.js';
import { resolveTarget, ScrapeError } from '../top/scrape.js';
import { runTop, type TopIo } from '../top/top.js';

/**
 * `sextant top [--target URL] [--interval 1s]`: argument parsing only; the view lives in
 * src/top/. Not config-driven: the one setting it borrows is the agent's SEXTANT_LISTEN, the
 * default target.
 */

export interface TopArgs {
  readonly target: string | undefined;
  readonly intervalMs: number;
}

const MIN_INTERVAL_MS = 200;
const MAX_INTERVAL_MS = 60_000;

export function parseTopArgs(argv: readonly string[]): TopArgs {
  let target: string | undefined;
  let intervalMs = 1000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--target':
        target = value();
        break;
      case '--interval': {
        const ms = parseDurationText(value());
        if (ms === undefined || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) throw new UsageError('--interval must be a duration from 200ms to 1m, e.g. 1s');
        intervalMs = ms;
        break;
      }
      default:
        throw new UsageError(/^--?[a-z][a-z0-9-]{0,40}$/.test(name) ? `top: unknown flag ${name}` : 'top: unexpected argument');
    }
  }
  return { target, intervalMs };
}

/** Runs `sextant top`; resolves to the exit status (usage errors throw UsageError). */
export async function runTopCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: TopIo): Promise<number> {
  const args = parseTopArgs(argv);
  let target: URL;
  try {
    target = resolveTarget(args.target, env['SEXTANT_LISTEN']);
  } catch (err) {
    if (err instanceof ScrapeError) throw new UsageError(`top: ${err.message}`);
    throw err;
  }
  // A scrape may take most of an interval, never more than a few seconds.
  return runTop({ target, intervalMs: args.intervalMs, timeoutMs: Math.min(5000, Math.max(1000, args.intervalMs)) }, io);
}
