import type { ProblemsConfig } from './config.js';
import { iso, ROLE, signalKey, type Evidence, type Signal, type SignalKind } from './signal.js';

/**
 * Event rules: container lifecycle events from the agents (exit, restart, OOM), the node's
 * reboot event, and Kubernetes events from the cluster monitor (back-offs, scheduling, node
 * state, rollouts). Each rule is a function of the events in the lookback: the same events give
 * the same signals, whenever and however often they are evaluated.
 */

/** An event as the store keeps it, with the entity its resource belongs to. */
export interface EventRow {
  readonly timeMs: number;
  readonly entityId: string;
  readonly name: string;
  readonly severity: number;
  readonly body: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Event names the rules read (the reader asks the store for these only). */
export const RULE_EVENTS = ['container.exit', 'container.restart', 'container.oom', 'sextant.host.reboot', 'k8s.event'] as const;

/**
 * Exit codes of a stop someone asked for: 130 (SIGINT), 143 (SIGTERM), 137 (SIGKILL after a
 * stop's grace period) unless the runtime says OOMKilled. A single one is no problem; many
 * in a row still make a crash loop (restarts are counted, not exits).
 */
const STOP_CODES = new Set([130, 137, 143]);

/** Most events kept as evidence per signal (the first and the latest). */
const MAX_EVENT_EVIDENCE = 4;

const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

class Collector {
  readonly #by = new Map<string, { kind: SignalKind; entityId: string; events: EventRow[]; title: string }>();

  add(kind: SignalKind, e: EventRow, title: string, detail = ''): void {
    const key = signalKey(kind, e.entityId, detail);
    let s = this.#by.get(key);
    if (s === undefined) {
      s = { kind, entityId: e.entityId, events: [], title };
      this.#by.set(key, s);
    }
    s.events.push(e);
  }

  get entries(): IterableIterator<[string, { kind: SignalKind; entityId: string; events: EventRow[]; title: string }]> {
    return this.#by.entries();
  }
}

function evidenceOf(kind: SignalKind, events: readonly EventRow[]): Evidence[] {
  const picked = events.length <= MAX_EVENT_EVIDENCE ? events : [events[0]!, ...events.slice(events.length - (MAX_EVENT_EVIDENCE - 1))];
  return picked.map((e) => ({
    type: 'event' as const,
    signal: kind,
    entityId: e.entityId,
    time: iso(e.timeMs),
    summary: e.body.slice(0, 300),
    event: { name: e.name, body: e.body.slice(0, 1000), attributes: e.attributes },
  }));
}

/**
 * The signals the events (oldest first, within the lookback) give at `nowMs`. A signal is
 * active while its latest event is within gateway.problems.eventHold; a crash loop needs
 * gateway.problems.crashLoopRestarts restarts within gateway.problems.crashLoopWindow; a pod
 * that cannot be scheduled must have been reported so for gateway.problems.pendingAfter.
 */
export function eventSignals(events: readonly EventRow[], nowMs: number, c: ProblemsConfig): Signal[] {
  const single = new Collector();
  const restarts = new Map<string, EventRow[]>();
  const noteRestart = (e: EventRow): void => {
    let list = restarts.get(e.entityId);
    if (list === undefined) restarts.set(e.entityId, (list = []));
    list.push(e);
  };
  for (const e of events) {
    if (!Number.isFinite(e.timeMs) || e.entityId === '') continue;
    const reason = str(e.attributes['sextant.container.exit.reason']);
    switch (e.name) {
      case 'container.oom':
        single.add('oom_kill', e, 'OOM kill');
        break;
      case 'container.exit': {
        const code = num(e.attributes['process.exit.code']);
        if (reason === 'OOMKilled') single.add('oom_kill', e, 'OOM kill');
        else if (code !== undefined && code !== 0 && !STOP_CODES.has(code)) single.add('nonzero_exit', e, `exited with code ${code}`);
        break;
      }
      case 'container.restart':
        noteRestart(e);
        break;
      case 'sextant.host.reboot':
        single.add('node_reboot', e, 'node rebooted');
        break;
      case 'k8s.event': {
        const r = str(e.attributes['k8s.event.reason']);
        const body = e.body;
        if (IMAGE_PULL_REASONS.has(r) || (r === 'BackOff' && /pull/i.test(body)) || (r === 'Failed' && /pull/i.test(body))) single.add('image_pull', e, 'image cannot be pulled');
        else if (r === 'BackOff') noteRestart(e);
        else if (r === 'FailedScheduling') single.add('unschedulable', e, 'pod cannot be scheduled');
        else if (r === 'NodeNotReady') single.add('node_not_ready', e, 'node not ready');
        else if (r === 'OOMKilling' || r === 'SystemOOM') single.add('oom_kill', e, 'OOM kill');
        else if (r === 'Evicted') single.add('node_pressure', e, 'pod evicted', 'evicted');
        else if (r === 'ScalingReplicaSet') single.add('rollout', e, 'rollout');
        break;
      }
      default:
        break;
    }
  }

  const out: Signal[] = [];
  for (const [key, s] of single.entries) {
    const first = s.events[0]!;
    const last = s.events[s.events.length - 1]!;
    let active = nowMs - last.timeMs <= c.eventHoldMs;
    if (s.kind === 'unschedulable') active = active && last.timeMs - first.timeMs >= c.pendingAfterMs;
    const n = s.events.length;
    out.push({
      key,
      kind: s.kind,
      role: ROLE[s.kind],
      entityId: s.entityId,
      onsetMs: first.timeMs,
      lastMs: last.timeMs,
      active,
      title: n > 1 ? `${s.title} (${n} times)` : s.title,
      strength: Math.min(n, 10),
      evidence: evidenceOf(s.kind, s.events),
    });
  }
  // A crash loop: enough restarts within the window ending at the latest one.
  for (const [entityId, list] of restarts) {
    const last = list[list.length - 1]!;
    const inWindow = list.filter((e) => e.timeMs > last.timeMs - c.crashLoopWindowMs);
    if (inWindow.length < c.crashLoopRestarts) continue;
    out.push({
      key: signalKey('crash_loop', entityId),
      kind: 'crash_loop',
      role: 'cause',
      entityId,
      onsetMs: inWindow[0]!.timeMs,
      lastMs: last.timeMs,
      active: nowMs - last.timeMs <= c.eventHoldMs,
      title: `crash loop (${inWindow.length} restarts within ${Math.round(c.crashLoopWindowMs / 60_000)} min)`,
      strength: Math.min(inWindow.length, 10),
      evidence: evidenceOf('crash_loop', inWindow),
    });
  }
  return out;
}
