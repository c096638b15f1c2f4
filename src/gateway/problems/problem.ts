import type { EntityType } from '../store/entities.js';
import type { Evidence, LogLine, MetricExcerpt, SignalKind, SignalRole } from './signal.js';

/**
 * A problem as it is kept (the store's `problems` table, one JSON document per row) and as the
 * query API answers it. Entities are kept as references with their names, so a problem still
 * reads right after its pods are gone.
 */

export interface EntityRef {
  readonly id: string;
  readonly type: EntityType;
  readonly name: string;
}

export interface ProblemEvidence {
  readonly type: 'event' | 'metric' | 'log';
  readonly signal: SignalKind;
  readonly entity: EntityRef | null;
  readonly time: string;
  readonly summary: string;
  readonly event?: Evidence['event'];
  readonly metric?: MetricExcerpt;
  readonly lines?: readonly LogLine[];
}

export interface ProblemSignal {
  readonly key: string;
  readonly kind: SignalKind;
  readonly role: SignalRole;
  readonly entity: EntityRef | null;
  title: string;
  onsetMs: number;
  lastMs: number;
  active: boolean;
  strength: number;
}

export interface RankedCause {
  readonly entity: EntityRef;
  readonly score: number;
  readonly reasons: readonly string[];
}

export type HistoryEvent = 'opened' | 'signal_added' | 'root_cause_changed' | 'closed';

export interface HistoryEntry {
  readonly time: string;
  readonly event: HistoryEvent;
  readonly detail: string;
}

export interface Problem {
  readonly id: string;
  /** The signal key of the root cause when the problem opened: what "the same cause" means. */
  readonly causeKey: string;
  title: string;
  status: 'open' | 'closed';
  readonly openedMs: number;
  closedMs: number | null;
  /** The last evaluation that found one of its signals active. */
  lastActiveMs: number;
  rootCause: EntityRef & { why: string };
  affected: EntityRef[];
  candidates: RankedCause[];
  signals: ProblemSignal[];
  evidence: ProblemEvidence[];
  history: HistoryEntry[];
}

/** The answer of GET /api/v1/problems (each item) and, with history and signals, of /problems/{id}. */
export function problemJson(p: Problem, detail: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: p.id,
    title: p.title,
    status: p.status,
    openedAt: new Date(p.openedMs).toISOString(),
    closedAt: p.closedMs === null ? null : new Date(p.closedMs).toISOString(),
    rootCause: { id: p.rootCause.id, type: p.rootCause.type, name: p.rootCause.name, why: p.rootCause.why },
    affected: p.affected.map((e) => ({ id: e.id, type: e.type, name: e.name })),
    evidence: p.evidence,
    ranking: p.candidates.map((c) => ({ id: c.entity.id, type: c.entity.type, name: c.entity.name, score: c.score, reasons: c.reasons })),
  };
  if (detail) {
    out['history'] = p.history;
    out['signals'] = p.signals.map((s) => ({
      key: s.key,
      kind: s.kind,
      role: s.role,
      entity: s.entity,
      title: s.title,
      onset: new Date(s.onsetMs).toISOString(),
      last: new Date(s.lastMs).toISOString(),
      active: s.active,
    }));
  }
  return out;
}
