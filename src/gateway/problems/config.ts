import { ConfigError } from '../../errors.js';

/** A secret read only where it is used (the config's `Secret` fits). */
export interface SecretText {
  reveal(): string;
}

/** Problem detection's options (`gateway.problems.*`, parsed: durations in ms). */
export interface ProblemsConfig {
  readonly enabled: boolean;
  readonly intervalMs: number;
  /** Baseline history. */
  readonly windowMs: number;
  /** Least history before a baseline judges. */
  readonly minHistoryMs: number;
  /** Step of the series read; 0: the interval. */
  readonly stepMs: number;
  /** k of k-of-n. */
  readonly violations: number;
  /** n of k-of-n. */
  readonly steps: number;
  /** Robust standard deviations above the median that violate. */
  readonly deviations: number;
  readonly closeAfterMs: number;
  readonly eventHoldMs: number;
  readonly crashLoopRestarts: number;
  readonly crashLoopWindowMs: number;
  readonly throttlingPercent: number;
  readonly filesystemPercent: number;
  readonly filesystemTimeToFullMs: number;
  readonly errorLogsPerMinute: number;
  readonly pendingAfterMs: number;
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: SecretText | undefined;
}

const MIN = 60_000;

export const DEFAULT_PROBLEMS_CONFIG: ProblemsConfig = Object.freeze({
  enabled: true,
  intervalMs: 30_000,
  windowMs: 60 * MIN,
  minHistoryMs: 10 * MIN,
  stepMs: 0,
  violations: 3,
  steps: 5,
  deviations: 5,
  closeAfterMs: 5 * MIN,
  eventHoldMs: 5 * MIN,
  crashLoopRestarts: 3,
  crashLoopWindowMs: 10 * MIN,
  throttlingPercent: 25,
  filesystemPercent: 90,
  filesystemTimeToFullMs: 60 * MIN,
  errorLogsPerMinute: 10,
  pendingAfterMs: 5 * MIN,
  webhookUrl: undefined,
  webhookSecret: undefined,
});

/** The step series are read in. */
export function stepOf(c: ProblemsConfig): number {
  return c.stepMs > 0 ? c.stepMs : c.intervalMs;
}

function positive(key: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new ConfigError(key, `must be positive, got ${String(v)}`);
}

/** Checks the options at start, naming the key that sets each. Never prints the secret. */
export function validateProblemsConfig(c: ProblemsConfig): void {
  positive('gateway.problems.interval', c.intervalMs);
  positive('gateway.problems.window', c.windowMs);
  positive('gateway.problems.minHistory', c.minHistoryMs);
  if (!Number.isFinite(c.stepMs) || c.stepMs < 0) throw new ConfigError('gateway.problems.step', `must be 0 or positive, got ${String(c.stepMs)}`);
  positive('gateway.problems.violations', c.violations);
  positive('gateway.problems.steps', c.steps);
  if (c.violations > c.steps) throw new ConfigError('gateway.problems.violations', `k (${c.violations}) must not exceed n (gateway.problems.steps, ${c.steps})`);
  positive('gateway.problems.deviations', c.deviations);
  positive('gateway.problems.closeAfter', c.closeAfterMs);
  positive('gateway.problems.eventHold', c.eventHoldMs);
  if (c.crashLoopRestarts < 2) throw new ConfigError('gateway.problems.crashLoopRestarts', 'must be at least 2');
  positive('gateway.problems.crashLoopWindow', c.crashLoopWindowMs);
  if (c.throttlingPercent <= 0 || c.throttlingPercent > 100) throw new ConfigError('gateway.problems.throttlingPercent', 'must be from 1 to 100');
  if (c.filesystemPercent <= 0 || c.filesystemPercent > 100) throw new ConfigError('gateway.problems.filesystemPercent', 'must be from 1 to 100');
  positive('gateway.problems.filesystemTimeToFull', c.filesystemTimeToFullMs);
  positive('gateway.problems.errorLogsPerMinute', c.errorLogsPerMinute);
  positive('gateway.problems.pendingAfter', c.pendingAfterMs);
  if (c.minHistoryMs > c.windowMs) throw new ConfigError('gateway.problems.minHistory', 'must not exceed gateway.problems.window');
  if (c.webhookUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(c.webhookUrl);
    } catch {
      throw new ConfigError('gateway.problems.webhookUrl', 'must be an absolute http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('gateway.problems.webhookUrl', `must be http or https, got ${u.protocol}`);
  }
  if (c.webhookSecret !== undefined && /[\r\n]/.test(c.webhookSecret.reveal())) throw new ConfigError('gateway.problems.webhookSecret', 'must be one line');
}
