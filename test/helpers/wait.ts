/**
 * How tests wait for something to happen: `until` polls a probe until a deadline. Every wait says
 * what it waits for, so a timeout reads "timed out after 8000 ms waiting for the namespace
 * watch", not "condition not met".
 *
 * Wait on the thing itself, never on a guess of how long it takes: a 2-core CI machine running
 * two test files side by side is many times slower than a laptop. Where a slow machine is a
 * real possibility (a writer producing megabytes), give `progress`: the deadline then counts
 * from the last time it moved, so a slow writer is waited for and a stalled one still fails.
 */

/** A probe answers the value waited for, or undefined / null / false while it is not there yet. */
export type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

export interface UntilOptions {
  /** How long to wait (ms); with `progress`, how long to wait without progress. Default 10 s. */
  readonly timeoutMs?: number;
  /** Pause between polls (ms). Default 20; more for a probe that costs (a file read, an API call). */
  readonly everyMs?: number;
  /** Runs before each poll: what makes the condition come true (a source's collect, a rescan). */
  readonly step?: () => unknown;
  /** A measure that moves while the awaited thing is on its way (bytes written, records stored). */
  readonly progress?: () => number | Promise<number>;
  /** The state the wait ended in, added to the timeout error (a process's stderr, a listing). */
  readonly detail?: () => string | Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_EVERY_MS = 20;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it answers a value (anything but undefined, null or false) and returns
 * that value; throws, naming `what`, when `timeoutMs` pass first. A probe that throws ends the
 * wait with its error (say, the process it waits on has exited).
 *
 *   await until('the namespace watch', () => nsEvents !== undefined, 8000);
 *   const row = await until('the child in the scan', () => scan().rows.find(isChild));
 *   await until('every line stored', () => stored() >= N, { timeoutMs: 20_000, progress: stored });
 */
export async function until<T>(what: string, probe: Probe<T>, options: number | UntilOptions = {}): Promise<T> {
  const o: UntilOptions = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const everyMs = o.everyMs ?? DEFAULT_EVERY_MS;
  const started = performance.now();
  let deadline = started + timeoutMs;
  let last = o.progress === undefined ? 0 : await o.progress();
  for (;;) {
    if (o.step !== undefined) await o.step();
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    const now = performance.now();
    if (o.progress !== undefined) {
      const p = await o.progress();
      if (p !== last) {
        last = p;
        deadline = now + timeoutMs;
      }
    }
    if (now > deadline) {
      const waited = Math.round(now - started);
      const why = o.progress === undefined ? `timed out after ${waited} ms` : `no progress in ${timeoutMs} ms (at ${last}, after ${waited} ms in all)`;
      const detail = o.detail === undefined ? '' : `\n${await o.detail()}`;
      throw new Error(`${why} waiting for ${what}${detail}`);
    }
    await pause(everyMs);
  }
}
