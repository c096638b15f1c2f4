import { DEFAULT_PROBLEMS_CONFIG, type ProblemsConfig } from '../../../../src/gateway/problems/config.js';
import type { StepSeries } from '../../../../src/gateway/problems/metric-rules.js';
import type { Signal, SignalKind, SignalRole } from '../../../../src/gateway/problems/signal.js';
import type { EntityInfo } from '../../../../src/gateway/problems/topology.js';
import type { EntityType } from '../../../../src/gateway/store/entities.js';

/** A config for tests: 10 s steps, 2 min of history before a verdict, 3 of 5. */
export function testProblemsConfig(over: Partial<ProblemsConfig> = {}): ProblemsConfig {
  return { ...DEFAULT_PROBLEMS_CONFIG, intervalMs: 10_000, windowMs: 30 * 60_000, minHistoryMs: 2 * 60_000, ...over };
}

export const STEP = 10_000;
export const T0 = Date.UTC(2026, 11, 7, 0, 0, 0);

/** A step series from values (oldest first), avg, last and sum the same (cumulative); of resource 1 unless told. */
export function series(entityId: string, metric: string, values: readonly (number | undefined)[], attrs: Record<string, unknown> = {}, unit = '1', resourceId = 1, delta = false): StepSeries {
  return { entityId, resourceId, metric, unit, attrs, delta, t: values.map((_, i) => T0 + i * STEP), avg: values, last: values, sum: values };
}

/** A small entity graph: `parents` by id. */
export class FakeEntities {
  readonly #all = new Map<string, EntityInfo>();

  add(id: string, type: EntityType, parents: string[] = []): this {
    this.#all.set(id, { id, type, name: id, parents: new Set(parents) });
    return this;
  }

  entity(id: string): EntityInfo | undefined {
    return this.#all.get(id);
  }
}

export function sig(kind: SignalKind, entityId: string, onsetMs: number, over: Partial<Signal> = {}, role: SignalRole = 'cause'): Signal {
  return { key: `${kind}:${entityId}`, kind, role, entityId, onsetMs, lastMs: onsetMs + 60_000, active: true, title: kind, strength: 1, evidence: [], ...over };
}
