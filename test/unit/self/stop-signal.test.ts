import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until } from '../../helpers/wait.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/self');

/** A real process: waits for the first signal, then "shuts down" for 5 s. */
function child(): { proc: ReturnType<typeof spawn>; out: () => string } {
  const script = `
    const { untilStopSignal } = await import(${JSON.stringify(`${DIST}/stop-signal.js`)});
    const { createLogger } = await import(${JSON.stringify(`${DIST}/logger.js`)});
    setInterval(() => {}, 1000); // stands in for the servers that keep a real agent's loop alive
    // Handlers first, then 'ready': a SIGTERM sent on 'ready' must find them installed (the other
    // order left a window in which the default action killed the process).
    const stopped = untilStopSignal(createLogger('info'));
    process.stdout.write('ready\\n');
    const s = await stopped;
    process.stdout.write('stopping on ' + s + '\\n');
    setTimeout(() => process.exit(0), 5000);
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text += d));
  proc.stderr!.on('data', (d: Buffer) => (text += d));
  return { proc, out: () => text };
}

describe('untilStopSignal', () => {
  it('resolves on the first signal and exits 130, with a log line, on the second', async () => {
    const { proc, out } = child();
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    await until('ready', () => out().includes('ready'));
    proc.kill('SIGTERM');
    await until('the stop line', () => out().includes('stopping on SIGTERM'));
    proc.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(out()).toMatch(/second signal during shutdown/);
  });
});
