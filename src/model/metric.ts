import type { Attributes } from './attributes.js';
import type { Resource, Scope } from './resource.js';

export type MetricKind = 'gauge' | 'sum';
export type ValueType = 'int' | 'double';

/**
 * What a metric is, independent of any one reading. Declared once per metric as a module
 * constant and shared by every point of it; the encoder caches the encoded name/unit on it.
 */
export interface MetricDescriptor {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: MetricKind;
  /** Sums only: true for counters that never decrease (CPU time, bytes read). */
  readonly monotonic: boolean;
  readonly valueType: ValueType;
  encoded?: Uint8Array;
}

/**
 * One reading. Sums are always produced cumulative (as the kernel counts them) with
 * `startTimeUnixNano` set to when the counter started; the exporter turns them into deltas
 * per endpoint when configured. Gauges leave `startTimeUnixNano` at 0n.
 */
export interface MetricPoint {
  readonly descriptor: MetricDescriptor;
  readonly resource: Resource;
  readonly scope: Scope;
  readonly attributes: Attributes;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: number;
}

export function defineMetric(d: Omit<MetricDescriptor, 'encoded'>): MetricDescriptor {
  return { ...d };
}
