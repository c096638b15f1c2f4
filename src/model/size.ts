import type { Attributes } from './attributes.js';
import type { LogRecord } from './log.js';
import type { MetricPoint } from './metric.js';

/**
 * Estimates of a record's encoded size, used to bound the rings in bytes. They count what
 * varies per record (body, point attributes); the resource is shared and counted nowhere.
 * Estimates, not exact: the batcher's byte cap is checked against the real encoding.
 */
const RECORD_OVERHEAD = 48;

export function attributesSize(attrs: Attributes): number {
  let n = 0;
  for (const k in attrs) {
    const v = attrs[k];
    n += k.length + 8 + (typeof v === 'string' ? v.length : Array.isArray(v) ? v.join('').length + v.length * 4 : 10);
  }
  return n;
}

export function logRecordSize(r: LogRecord): number {
  return RECORD_OVERHEAD + r.body.length + r.severityText.length + r.eventName.length + attributesSize(r.attributes);
}

export function metricPointSize(p: MetricPoint): number {
  return RECORD_OVERHEAD + attributesSize(p.attributes);
}
