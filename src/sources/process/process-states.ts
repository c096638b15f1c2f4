import type { Attributes } from '../../model/index.js';

/**
 * Processes by state, from the state letter of /proc/<pid>/stat (proc(5)) that every scan reads
 * anyway. Values are OpenTelemetry's `process.state` where it has one (running, sleeping,
 * stopped, defunct); `blocked` (D, uninterruptible — usually waiting on I/O) and `idle` (I, idle
 * kernel threads) are the OTel Collector's names for the states semconv lacks.
 */
export const PROCESS_STATES = ['running', 'sleeping', 'blocked', 'idle', 'stopped', 'defunct', 'unknown'] as const;

/** State letter (ASCII code) → index into PROCESS_STATES; anything unlisted is `unknown`. */
const INDEX = new Uint8Array(128).fill(PROCESS_STATES.indexOf('unknown'));
for (const [letters, state] of [
  ['R', 'running'],
  ['S', 'sleeping'],
  ['D', 'blocked'],
  ['I', 'idle'],
  ['Tt', 'stopped'],
  ['Z', 'defunct'],
] as const) {
  for (const c of letters) INDEX[c.charCodeAt(0)] = PROCESS_STATES.indexOf(state);
}

export const STATE_ATTRIBUTES: readonly Attributes[] = PROCESS_STATES.map((s) => Object.freeze({ 'process.state': s }));

/** Counts the first `rows` state letters into `out` (length PROCESS_STATES.length), zeroed first. */
export function countStates(states: Uint8Array, rows: number, out: Int32Array): void {
  out.fill(0);
  for (let i = 0; i < rows; i++) {
    const c = states[i]!;
    out[c < 128 ? INDEX[c]! : PROCESS_STATES.length - 1]!++;
  }
}
