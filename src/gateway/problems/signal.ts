/**
 * What the detectors find and the correlator merges: one signal per cause on one entity (an
 * OOM kill of a container, a filesystem of a host almost full, a series above its baseline),
 * keyed so that finding it again — next evaluation, or after a gateway restart — is the same
 * signal, never a new one.
 */

export type SignalKind =
  | 'crash_loop'
  | 'oom_kill'
  | 'nonzero_exit'
  | 'image_pull'
  | 'unschedulable'
  | 'node_not_ready'
  | 'node_pressure'
  | 'node_reboot'
  | 'filesystem_full'
  | 'cpu_throttling'
  | 'metric_anomaly'
  | 'error_logs'
  | 'rollout';

/**
 * cause: something went wrong here (an exit, a kill, a resource used up); symptom: something
 * suffers here (stalls waiting for CPU): it joins a problem but never opens one; change: a
 * deliberate change (a rollout) that joins problems as a candidate cause and opens none.
 */
export type SignalRole = 'cause' | 'symptom' | 'change';

export interface MetricExcerpt {
  readonly metric: string;
  readonly unit: string;
  /** Step start times, Unix ms. */
  readonly t: number[];
  readonly v: number[];
  /** The baseline's median and the threshold a step had to pass (baseline anomalies). */
  readonly median?: number;
  readonly threshold?: number;
}

export interface LogLine {
  readonly time: string;
  readonly severity: number;
  readonly body: string;
}

export interface Evidence {
  readonly type: 'event' | 'metric' | 'log';
  /** The signal it supports. */
  readonly signal: SignalKind;
  readonly entityId: string;
  /** RFC 3339. */
  readonly time: string;
  readonly summary: string;
  readonly event?: { readonly name: string; readonly body: string; readonly attributes: Readonly<Record<string, unknown>> };
  readonly metric?: MetricExcerpt;
  readonly lines?: readonly LogLine[];
}

export interface Signal {
  /** Stable across evaluations and restarts: kind, entity and what on it (`filesystem_full:<host>:/data`). */
  readonly key: string;
  readonly kind: SignalKind;
  readonly role: SignalRole;
  readonly entityId: string;
  /** When it started (the first event, the first violating step). */
  readonly onsetMs: number;
  /** When it was last seen (the last event, the end of the last violating step). */
  readonly lastMs: number;
  /** Whether it holds now (an event within the hold, a series still violating). */
  readonly active: boolean;
  /** One line: "OOM kill", "CPU usage 1.9 cores, baseline 0.02". */
  readonly title: string;
  /** How strongly it points at its entity (more events, a larger deviation): ranks ties. */
  readonly strength: number;
  readonly evidence: readonly Evidence[];
}

export function signalKey(kind: SignalKind, entityId: string, detail = ''): string {
  return detail === '' ? `${kind}:${entityId}` : `${kind}:${entityId}:${detail}`;
}

/** A signal's role by kind. */
export const ROLE: Readonly<Record<SignalKind, SignalRole>> = {
  crash_loop: 'cause',
  oom_kill: 'cause',
  nonzero_exit: 'cause',
  image_pull: 'cause',
  unschedulable: 'cause',
  node_not_ready: 'cause',
  node_pressure: 'cause',
  node_reboot: 'cause',
  filesystem_full: 'cause',
  cpu_throttling: 'cause',
  metric_anomaly: 'cause',
  error_logs: 'cause',
  rollout: 'change',
};

export function iso(ms: number): string {
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString();
}
