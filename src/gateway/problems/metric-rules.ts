import { increases, judge, latestWithData, slope, type BaselineOptions } from './baseline.js';
import type { ProblemsConfig } from './config.js';
import { iso, ROLE, signalKey, type MetricExcerpt, type Signal, type SignalKind, type SignalRole } from './signal.js';

/**
 * Metric rules: thresholds on what the agents and the cluster monitor measure (CPU throttling,
 * filesystems, node conditions, container states, Pending pods) and robust baselines on the
 * series whose normal is each workload's own (CPU, memory, CPU stalls, error-log rate). Each
 * is a function of step series read from the store; each returns the signals active now.
 */

/** One series in steps: the same grid (t) for every series of one read. */
export interface StepSeries {
  readonly entityId: string;
  /**
   * The store's resource: one entity may have several (a container's resource built again with
   * other attributes, a pod container restarted under a new id), each with counters of its own.
   */
  readonly resourceId: number;
  readonly metric: string;
  readonly unit: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Step start times, Unix ms, oldest first. */
  readonly t: readonly number[];
  /** The mean of the step's points (gauges); undefined: no point in the step. */
  readonly avg: readonly (number | undefined)[];
  /** The step's last point (cumulative counters). */
  readonly last: readonly (number | undefined)[];
  /** The sum of the step's points (delta counters: each point is the increase since the one before). */
  readonly sum: readonly (number | undefined)[];
  /** A sum sent with delta temporality (the agent's default): its points are increases, not totals. */
  readonly delta: boolean;
}

/**
 * A counter's increase per step, whatever its temporality: the sum of the step's deltas, or the
 * growth of the cumulative total (increases()). Reading deltas as totals gives a flat "total"
 * whose growth is 0 in every step but where the interval jitters.
 */
export function stepIncreases(s: StepSeries): (number | undefined)[] {
  return s.delta ? [...s.sum] : increases(s.last);
}

/** Error-or-worse log lines per step of one group (workload, else pod, else container). */
export interface ErrorCounts {
  readonly entityId: string;
  readonly t: readonly number[];
  /** Undefined before the group's first line of any severity in the window. */
  readonly errors: readonly (number | undefined)[];
}

/** Steps of excerpt kept as evidence. */
const EXCERPT_STEPS = 30;

function excerpt(metric: string, unit: string, t: readonly number[], v: readonly (number | undefined)[], extra: { median?: number; threshold?: number } = {}): MetricExcerpt {
  const from = Math.max(0, t.length - EXCERPT_STEPS);
  const tt: number[] = [];
  const vv: number[] = [];
  for (let i = from; i < t.length; i++) {
    const x = v[i];
    if (typeof x === 'number' && Number.isFinite(x)) {
      tt.push(t[i]!);
      vv.push(Number(x.toPrecision(6)));
    }
  }
  return { metric, unit, t: tt, v: vv, ...extra };
}

function fmt(v: number, unit: string): string {
  if (unit === 'By') {
    const mib = v / (1024 * 1024);
    return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(0)} MiB`;
  }
  if (unit === '1') return `${(v * 100).toFixed(0)}%`;
  if (unit === '{cpu}') return `${v.toFixed(2)} cores`;
  return `${Number(v.toPrecision(3))}${unit === '' ? '' : ` ${unit}`}`;
}

interface Run {
  /** Violating steps among the latest n. */
  readonly count: number;
  readonly onsetIndex: number;
  readonly lastIndex: number;
}

/**
 * k-of-n over the latest n steps of a condition; the onset goes back over the run of violating
 * steps (steps without data do not end it) so a condition that lasts is dated from its start.
 */
function kOfN(ok: readonly (boolean | undefined)[], k: number, n: number): Run | undefined {
  let count = 0;
  let first = -1;
  let last = -1;
  for (const i of latestWithData(ok, n)) {
    if (ok[i] === true) {
      count++;
      if (first < 0) first = i;
      last = i;
    }
  }
  if (count < k) return undefined;
  let onset = first;
  for (let i = first - 1; i >= 0 && ok[i] !== false; i--) if (ok[i] === true) onset = i;
  return { count, onsetIndex: onset, lastIndex: last };
}

function signal(kind: SignalKind, entityId: string, detail: string, s: { t: readonly number[]; step: number; run: Run; title: string; strength: number; evidence: Signal['evidence'] }, role: SignalRole = ROLE[kind]): Signal {
  return {
    key: signalKey(kind, entityId, detail),
    kind,
    role,
    entityId,
    onsetMs: s.t[s.run.onsetIndex]!,
    lastMs: s.t[s.run.lastIndex]! + s.step,
    active: true,
    title: s.title,
    strength: s.strength,
    evidence: s.evidence,
  };
}

/**
 * CPU throttling: throttled periods over CFS periods, per step, above the threshold in k of n
 * steps. The two counters are paired per resource: an entity with several (its resource rebuilt,
 * a restart) has counters that began apart, and one resource's periods over another's throttled
 * periods is no ratio. One signal per entity: the resource with the latest violating step.
 */
export function throttlingSignals(periods: readonly StepSeries[], throttled: readonly StepSeries[], c: ProblemsConfig, step: number): Signal[] {
  const pairKey = (s: StepSeries): string => `${s.entityId}\u0000${s.resourceId}`;
  const throttledOf = new Map<string, StepSeries>();
  for (const s of throttled) throttledOf.set(pairKey(s), s);
  const byEntity = new Map<string, Signal>();
  for (const p of periods) {
    const th = throttledOf.get(pairKey(p));
    if (th === undefined) continue;
    const dp = stepIncreases(p);
    const dt = stepIncreases(th);
    const ratio = dp.map((d, i) => (d !== undefined && d > 0 && dt[i] !== undefined ? Math.min(1, dt[i]! / d) : undefined));
    const limit = c.throttlingPercent / 100;
    const run = kOfN(
      ratio.map((r) => (r === undefined ? undefined : r > limit)),
      c.violations,
      c.steps,
    );
    if (run === undefined) continue;
    const latest = ratio[run.lastIndex]!;
    const s = signal('cpu_throttling', p.entityId, '', {
      t: p.t,
      step,
      run,
      title: `CPU throttled in ${(latest * 100).toFixed(0)}% of periods (threshold ${c.throttlingPercent}%)`,
      strength: Math.min(10, run.count * latest * 2),
      evidence: [
        {
          type: 'metric',
          signal: 'cpu_throttling',
          entityId: p.entityId,
          time: iso(p.t[run.onsetIndex]!),
          summary: `throttled periods ÷ periods above ${c.throttlingPercent}% in ${run.count} of the latest ${c.steps} steps`,
          metric: excerpt('sextant.container.cpu.throttling.throttled_periods / periods', '1', p.t, ratio, { threshold: limit }),
        },
      ],
    });
    const other = byEntity.get(p.entityId);
    if (other === undefined || s.lastMs > other.lastMs) byEntity.set(p.entityId, s);
  }
  return [...byEntity.values()];
}

/**
 * A filesystem almost full: used above the threshold, or above half and filling fast enough
 * (least squares over the latest steps) to be full within gateway.problems.filesystemTimeToFull.
 */
export function filesystemSignals(utilization: readonly StepSeries[], c: ProblemsConfig, step: number): Signal[] {
  const out: Signal[] = [];
  const limit = c.filesystemPercent / 100;
  for (const s of utilization) {
    const v = s.avg;
    const trendFrom = Math.max(0, v.length - Math.max(c.steps * 4, 8));
    const rate = slope(s.t.slice(trendFrom), v.slice(trendFrom));
    const full = v.map((x) => {
      if (x === undefined || !Number.isFinite(x)) return undefined;
      if (x >= limit) return true;
      return x >= 0.5 && rate !== undefined && rate > 0 && (1 - x) / rate <= c.filesystemTimeToFullMs;
    });
    const run = kOfN(full, Math.min(c.violations, 2), c.steps);
    if (run === undefined) continue;
    const u = v[run.lastIndex]!;
    const ttfMs = rate !== undefined && rate > 0 ? (1 - u) / rate : undefined;
    const mount = typeof s.attrs['system.filesystem.mountpoint'] === 'string' ? (s.attrs['system.filesystem.mountpoint'] as string) : '';
    const ttfText = ttfMs === undefined ? 'not growing' : `full in about ${ttfMs < 120_000 ? `${Math.round(ttfMs / 1000)} s` : `${Math.round(ttfMs / 60_000)} min`} at the current rate`;
    out.push(
      signal('filesystem_full', s.entityId, mount, {
        t: s.t,
        step,
        run,
        title: `filesystem ${mount} ${(u * 100).toFixed(0)}% used, ${ttfText}`,
        strength: Math.min(10, 5 * u + (ttfMs !== undefined && ttfMs < c.filesystemTimeToFullMs ? 3 : 0)),
        evidence: [
          {
            type: 'metric',
            signal: 'filesystem_full',
            entityId: s.entityId,
            time: iso(s.t[run.onsetIndex]!),
            summary: `${mount} ${(u * 100).toFixed(1)}% used (threshold ${c.filesystemPercent}%), ${ttfText}`,
            metric: excerpt(s.metric, s.unit, s.t, v, { threshold: limit }),
          },
        ],
      }),
    );
  }
  return out;
}

/** What a baseline watches: a metric, how its steps are valued, and the least deviation that counts. */
export interface BaselineSpec {
  readonly metric: string;
  /** avg: the step's mean (gauges); rate: the counter's increase per second. */
  readonly value: 'avg' | 'rate';
  /** Least deviation from the median that counts, in the metric's unit (per second for rates). */
  readonly floor: number;
  /** Only series with these point attributes. */
  readonly attrs?: Readonly<Record<string, string>>;
  readonly role: SignalRole;
  /** What the title calls it. */
  readonly label: string;
}

/** The series Sextant baselines (containers: CPU, memory, CPU stalls). */
export const BASELINES: readonly BaselineSpec[] = [
  // The floor is low on purpose: a noisy neighbour on a busy node gets only its share of the
  // CPU (0.3 cores of 2 at a load of 13 in the evaluation), and that is still its anomaly.
  { metric: 'container.cpu.usage', value: 'avg', floor: 0.1, role: 'cause', label: 'CPU usage' },
  { metric: 'container.memory.working_set', value: 'avg', floor: 128 * 1024 * 1024, role: 'cause', label: 'memory working set' },
  {
    metric: 'sextant.container.pressure.stall.time',
    value: 'rate',
    floor: 0.1,
    attrs: { 'sextant.pressure.resource': 'cpu', 'sextant.pressure.stall.type': 'some' },
    role: 'symptom',
    label: 'time stalled waiting for CPU',
  },
];

export function baselineOptions(c: ProblemsConfig, step: number, floor: number): BaselineOptions {
  return { violations: c.violations, steps: c.steps, deviations: c.deviations, minHistorySteps: Math.max(3, Math.ceil(c.minHistoryMs / step)), floor };
}

function matches(attrs: Readonly<Record<string, unknown>>, want: Readonly<Record<string, string>> | undefined): boolean {
  if (want === undefined) return true;
  for (const [k, v] of Object.entries(want)) if (attrs[k] !== v) return false;
  return true;
}

/** Baseline anomalies of one spec's series (upward only: less CPU or memory is no problem). */
export function baselineSignals(spec: BaselineSpec, series: readonly StepSeries[], c: ProblemsConfig, step: number): Signal[] {
  const out: Signal[] = [];
  const opts = baselineOptions(c, step, spec.floor);
  for (const s of series) {
    if (s.metric !== spec.metric || !matches(s.attrs, spec.attrs)) continue;
    const values = spec.value === 'avg' ? s.avg : stepIncreases(s).map((d) => (d === undefined ? undefined : d / (step / 1000)));
    const v = judge(values, opts);
    if (v.verdict !== 'anomaly') continue;
    const latest = values[v.lastIndex]!;
    const unit = spec.value === 'rate' ? `${s.unit}/s` : s.unit;
    const excess = v.threshold > v.median ? (latest - v.median) / (v.threshold - v.median) : 1;
    out.push({
      key: signalKey('metric_anomaly', s.entityId, spec.metric),
      kind: 'metric_anomaly',
      role: spec.role,
      entityId: s.entityId,
      onsetMs: s.t[v.onsetIndex]!,
      lastMs: s.t[v.lastIndex]! + step,
      active: true,
      title: `${spec.label} ${fmt(latest, spec.value === 'rate' ? '' : s.unit)} above its baseline (median ${fmt(v.median, spec.value === 'rate' ? '' : s.unit)})`,
      strength: Math.min(10, v.violations * Math.min(excess, 5)),
      evidence: [
        {
          type: 'metric',
          signal: 'metric_anomaly',
          entityId: s.entityId,
          time: iso(s.t[v.onsetIndex]!),
          summary: `${spec.metric}${spec.value === 'rate' ? ' (per second)' : ''} above median + ${c.deviations}×1.4826×MAD (at least +${spec.floor}) in ${v.violations} of the latest ${c.steps} steps`,
          metric: excerpt(spec.metric, unit, s.t, values, { median: v.median, threshold: v.threshold }),
        },
      ],
    });
  }
  return out;
}

/** An error-log rate above its baseline, per group, at least gateway.problems.errorLogsPerMinute. */
export function errorLogSignals(counts: readonly ErrorCounts[], c: ProblemsConfig, step: number): Signal[] {
  const out: Signal[] = [];
  const opts = baselineOptions(c, step, (c.errorLogsPerMinute * step) / 60_000);
  for (const g of counts) {
    const v = judge(g.errors, opts);
    if (v.verdict !== 'anomaly') continue;
    const latest = g.errors[v.lastIndex]!;
    const perMin = (latest * 60_000) / step;
    out.push({
      key: signalKey('error_logs', g.entityId),
      kind: 'error_logs',
      role: 'cause',
      entityId: g.entityId,
      onsetMs: g.t[v.onsetIndex]!,
      lastMs: g.t[v.lastIndex]! + step,
      active: true,
      title: `error logs ${perMin.toFixed(0)}/min (baseline ${((v.median * 60_000) / step).toFixed(0)}/min)`,
      strength: Math.min(10, v.violations * 2),
      evidence: [
        {
          type: 'metric',
          signal: 'error_logs',
          entityId: g.entityId,
          time: iso(g.t[v.onsetIndex]!),
          summary: `ERROR-or-worse log lines per step above the baseline in ${v.violations} of the latest ${c.steps} steps`,
          metric: excerpt('log records (severity ≥ ERROR)', '{record}', g.t, g.errors, { median: v.median, threshold: v.threshold }),
        },
      ],
    });
  }
  return out;
}

/** Cluster state: a state family's point at 1 for the latest steps. */
function stateRun(s: StepSeries, c: ProblemsConfig, minSteps = 1): Run | undefined {
  return kOfN(
    s.avg.map((x) => (x === undefined ? undefined : x >= 0.5)),
    Math.min(minSteps, c.steps),
    Math.max(2, Math.min(c.steps, 3)),
  );
}

const CONTAINER_REASON_KIND: Readonly<Record<string, SignalKind>> = {
  CrashLoopBackOff: 'crash_loop',
  ErrImagePull: 'image_pull',
  ImagePullBackOff: 'image_pull',
  OOMKilled: 'oom_kill',
  CreateContainerConfigError: 'image_pull',
};

/**
 * The cluster monitor's state families: node conditions (NotReady, pressure), container
 * waiting/terminated reasons (CrashLoopBackOff, image pull back-off), pods Pending too long.
 */
export function clusterStateSignals(series: readonly StepSeries[], c: ProblemsConfig, step: number): Signal[] {
  const out: Signal[] = [];
  for (const s of series) {
    let kind: SignalKind | undefined;
    let detail = '';
    let title = '';
    if (s.metric === 'k8s.node.condition.status') {
      const type = s.attrs['k8s.node.condition.type'];
      const status = s.attrs['k8s.node.condition.status'];
      if (type === 'Ready' && (status === 'false' || status === 'unknown')) {
        kind = 'node_not_ready';
        title = status === 'unknown' ? 'node not ready (kubelet stopped posting status)' : 'node not ready';
      } else if ((type === 'MemoryPressure' || type === 'DiskPressure' || type === 'PIDPressure') && status === 'true') {
        kind = 'node_pressure';
        detail = String(type);
        title = `node under ${String(type).replace('Pressure', '').toLowerCase()} pressure`;
      }
    } else if (s.metric === 'k8s.container.status.reason') {
      const reason = String(s.attrs['k8s.container.status.reason'] ?? '');
      kind = CONTAINER_REASON_KIND[reason];
      detail = kind === 'crash_loop' || kind === 'oom_kill' ? '' : reason;
      title = `container ${reason}`;
    } else if (s.metric === 'k8s.pod.status.phase' && s.attrs['k8s.pod.status.phase'] === 'Pending') {
      kind = 'unschedulable';
      title = 'pod Pending';
    }
    if (kind === undefined) continue;
    const run = stateRun(s, c);
    if (run === undefined) continue;
    const onset = s.t[run.onsetIndex]!;
    if (kind === 'unschedulable' && s.t[run.lastIndex]! + step - onset < c.pendingAfterMs) continue;
    out.push(
      signal(kind, s.entityId, detail, {
        t: s.t,
        step,
        run,
        title,
        strength: Math.min(10, run.count),
        evidence: [{ type: 'metric', signal: kind, entityId: s.entityId, time: iso(onset), summary: `${s.metric} ${JSON.stringify(s.attrs)} is 1 since ${iso(onset)}`, metric: excerpt(s.metric, s.unit, s.t, s.avg) }],
      }),
    );
  }
  return out;
}
