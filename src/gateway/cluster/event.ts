import { parseRfc3339Nano } from '../../io/rfc3339.js';
import { countAt, isJsonObject, type Json, objectAt, stringAt } from './kinds/json-fields.js';

/**
 * A Kubernetes event (`events.k8s.io/v1` Event) cut down to what its OTLP log record carries.
 * Events written through the older core/v1 API are served by events.k8s.io too, with their
 * counts and times in the `deprecated*` fields; both shapes are read.
 */

export interface ObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly fieldPath: string;
}

export interface ClusterEvent {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion: string;
  /**
   * The resourceVersion as a number, which orders versions of one resource (Kubernetes 1.35,
   * KEP-5504: "comparable resource versions"); undefined when the server's are not decimal
   * integers (then events are told apart by uid and version only, and a restart may repeat some).
   */
  readonly order: bigint | undefined;
  /** `Normal` or `Warning`. */
  readonly type: string;
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  /** How many times it happened: `series.count`, else `deprecatedCount`, else 1. */
  readonly count: number;
  /** When it last happened (ms since the epoch): series.lastObservedTime, deprecatedLastTimestamp, eventTime, creation. */
  readonly lastMs: number;
  /** When it first happened (ms): eventTime, deprecatedFirstTimestamp, creation. */
  readonly firstMs: number;
  readonly regarding: ObjectReference;
  readonly reportingController: string;
  readonly reportingInstance: string;
}

/** Longest note kept (the API allows 1 KiB; an older event's message can be longer). */
const MAX_NOTE = 4096;

const DECIMAL = /^[1-9][0-9]{0,30}$/;

/** The resourceVersion as an ordered number, or undefined when it is not a decimal integer. */
export function resourceVersionOrder(rv: string): bigint | undefined {
  return DECIMAL.test(rv) ? BigInt(rv) : undefined;
}

function time(v: unknown): number | undefined {
  if (typeof v !== 'string' || v.length === 0) return undefined;
  const ns = parseRfc3339Nano(v);
  return ns === undefined ? undefined : Number(ns / 1_000_000n);
}

function reference(v: unknown): ObjectReference {
  const r: Json = isJsonObject(v) ? v : {};
  return {
    apiVersion: stringAt(r, 'apiVersion'),
    kind: stringAt(r, 'kind'),
    name: stringAt(r, 'name'),
    namespace: stringAt(r, 'namespace'),
    uid: stringAt(r, 'uid'),
    fieldPath: stringAt(r, 'fieldPath'),
  };
}

export function convertEvent(raw: unknown): ClusterEvent | undefined {
  if (!isJsonObject(raw)) return undefined;
  const declared = raw['kind'];
  if (declared !== undefined && declared !== 'Event') return undefined;
  const m = objectAt(raw, 'metadata');
  const uid = stringAt(m, 'uid');
  const name = stringAt(m, 'name');
  const resourceVersion = stringAt(m, 'resourceVersion');
  if (uid.length === 0 || name.length === 0 || resourceVersion.length === 0) return undefined;
  const series = objectAt(raw, 'series');
  const created = time(m['creationTimestamp']);
  const eventTime = time(raw['eventTime']);
  const firstMs = eventTime ?? time(raw['deprecatedFirstTimestamp']) ?? created ?? 0;
  const lastMs = time(series['lastObservedTime']) ?? time(raw['deprecatedLastTimestamp']) ?? firstMs;
  const note = stringAt(raw, 'note');
  return {
    uid,
    name,
    namespace: stringAt(m, 'namespace'),
    resourceVersion,
    order: resourceVersionOrder(resourceVersion),
    type: stringAt(raw, 'type'),
    reason: stringAt(raw, 'reason'),
    action: stringAt(raw, 'action'),
    note: note.length > MAX_NOTE ? note.slice(0, MAX_NOTE) : note,
    count: countAt(series, 'count') ?? countAt(raw, 'deprecatedCount') ?? 1,
    lastMs,
    firstMs,
    regarding: reference(raw['regarding']),
    reportingController: stringAt(raw, 'reportingController') || stringAt(objectAt(raw, 'deprecatedSource'), 'component'),
    reportingInstance: stringAt(raw, 'reportingInstance') || stringAt(objectAt(raw, 'deprecatedSource'), 'host'),
  };
}
