import type { Catalog } from './catalog.js';
import { ColumnBatch } from './column-batch.js';
import { LogsScanner, type LogsTarget } from './otlp-logs-scan.js';
import { anyValueJson, attributesJson, bodyText, idHex, int64Number, SEVERITY_NAMES, uint64BigInt, type AnyValueLike, type Int64Like, type KeyValueLike } from './otlp-values.js';

/*
 * The parts of decoded OTLP export requests the store reads. Structural, so the store needs
 * nothing from the gateway's codec: whatever decoded the body (protobufjs, from binary or JSON)
 * produces these shapes.
 */

interface ResourceLike {
  readonly attributes?: readonly KeyValueLike[] | null;
}
interface ScopeLike {
  readonly name?: string | null;
}
interface PointLike {
  readonly attributes?: readonly KeyValueLike[] | null;
  readonly startTimeUnixNano?: Int64Like;
  readonly timeUnixNano?: Int64Like;
  readonly flags?: number | null;
}
interface NumberPointLike extends PointLike {
  readonly asDouble?: number | null;
  readonly asInt?: Int64Like;
}
interface SummaryPointLike extends PointLike {
  readonly count?: Int64Like;
  readonly sum?: number | null;
}
interface MetricLike {
  readonly name?: string | null;
  readonly description?: string | null;
  readonly unit?: string | null;
  readonly gauge?: { readonly dataPoints?: readonly NumberPointLike[] | null } | null;
  readonly sum?: { readonly dataPoints?: readonly NumberPointLike[] | null; readonly aggregationTemporality?: number | null; readonly isMonotonic?: boolean | null } | null;
  readonly histogram?: { readonly dataPoints?: readonly SummaryPointLike[] | null; readonly aggregationTemporality?: number | null } | null;
  readonly exponentialHistogram?: { readonly dataPoints?: readonly SummaryPointLike[] | null; readonly aggregationTemporality?: number | null } | null;
  readonly summary?: { readonly dataPoints?: readonly SummaryPointLike[] | null } | null;
}
export interface MetricsRequestLike {
  readonly resourceMetrics?: readonly { readonly resource?: ResourceLike | null; readonly scopeMetrics?: readonly { readonly metrics?: readonly MetricLike[] | null }[] | null }[] | null;
}
interface LogRecordLike {
  readonly timeUnixNano?: Int64Like;
  readonly observedTimeUnixNano?: Int64Like;
  readonly severityNumber?: number | null;
  readonly severityText?: string | null;
  readonly body?: AnyValueLike | null;
  readonly attributes?: readonly KeyValueLike[] | null;
  readonly traceId?: Uint8Array | string | null;
  readonly spanId?: Uint8Array | string | null;
  readonly eventName?: string | null;
}
export interface LogsRequestLike {
  readonly resourceLogs?: readonly {
    readonly resource?: ResourceLike | null;
    readonly scopeLogs?: readonly { readonly scope?: ScopeLike | null; readonly logRecords?: readonly LogRecordLike[] | null }[] | null;
  }[] | null;
}
interface SpanLike {
  readonly traceId?: Uint8Array | string | null;
  readonly spanId?: Uint8Array | string | null;
  readonly parentSpanId?: Uint8Array | string | null;
  readonly name?: string | null;
  readonly kind?: number | null;
  readonly startTimeUnixNano?: Int64Like;
  readonly endTimeUnixNano?: Int64Like;
  readonly attributes?: readonly KeyValueLike[] | null;
  readonly events?: readonly { readonly timeUnixNano?: Int64Like; readonly name?: string | null; readonly attributes?: readonly KeyValueLike[] | null }[] | null;
  readonly status?: { readonly code?: number | null; readonly message?: string | null } | null;
}
export interface TracesRequestLike {
  readonly resourceSpans?: readonly { readonly resource?: ResourceLike | null; readonly scopeSpans?: readonly { readonly spans?: readonly SpanLike[] | null }[] | null }[] | null;
}

/** OTLP's NumberDataPoint flag: the point holds no recorded value. */
const NO_RECORDED_VALUE = 1;
const NS_PER_MS = 1_000_000;
const EMPTY_JSON = '{}';


const hasOwn = Object.prototype.hasOwnProperty;

/** The fact rows of one batch, one column batch per table, in the tables' column order. */
export class FactRows {
  readonly points = new ColumnBatch('points', ['bigint', 'bigint', 'integer', 'integer', 'integer', 'double', 'bigint']);
  readonly logs = new ColumnBatch('logs', ['bigint', 'bigint', 'integer', 'utinyint', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar']);
  readonly events = new ColumnBatch('events', ['bigint', 'bigint', 'integer', 'varchar', 'utinyint', 'varchar', 'varchar']);
  readonly spans = new ColumnBatch('spans', [
    'varchar', 'varchar', 'varchar', 'varchar', 'utinyint', 'bigint', 'bigint', 'bigint', 'utinyint', 'varchar', 'integer', 'varchar', 'varchar', 'varchar',
  ]);

  get all(): readonly ColumnBatch[] {
    return [this.points, this.logs, this.events, this.spans];
  }

  clear(): void {
    for (const b of this.all) b.clear();
  }

  /** Row counts now, to go back to with `truncate` if what follows fails. */
  mark(): readonly number[] {
    return this.all.map((b) => b.rows);
  }

  truncate(mark: readonly number[]): void {
    this.all.forEach((b, i) => b.truncate(mark[i]!));
  }
}

function severityByte(n: number | null | undefined): number {
  const s = n ?? 0;
  return s < 0 || s > 255 ? 0 : s;
}

function attributesText(kvs: readonly KeyValueLike[] | null | undefined): string {
  return kvs === null || kvs === undefined || kvs.length === 0 ? EMPTY_JSON : JSON.stringify(attributesJson(kvs));
}

/** The value of one string attribute of a resource, found without building the whole set. */
function stringAttribute(resource: ResourceLike | null | undefined, key: string): string {
  for (const kv of resource?.attributes ?? []) if (kv.key === key && kv.value != null && hasOwn.call(kv.value, 'stringValue')) return kv.value.stringValue ?? '';
  return '';
}

/** The points table's columns: time, start, resource, metric, attribute set, value, count. */
type PointColumns = [number[], number[], number[], number[], number[], number[], (number | null)[]];

/**
 * The columns every kind of point fills alike (all but value and count): its time, or the
 * receive time when it has none, its start, resource, metric and attribute set.
 */
function pushPointKeys(columns: PointColumns, cat: Catalog, dp: PointLike, rid: number, mid: number, receivedMs: number): void {
  const t = int64Number(dp.timeUnixNano);
  columns[0].push(t > 0 ? Math.floor(t / NS_PER_MS) : receivedMs);
  columns[1].push(Math.floor(int64Number(dp.startTimeUnixNano) / NS_PER_MS));
  columns[2].push(rid);
  columns[3].push(mid);
  columns[4].push(cat.attributeSet(dp.attributes));
}

/**
 * Walks decoded export requests into fact rows: resources, metric descriptors and attribute
 * sets become the catalog's ids; a log record with an event name (OTLP `event_name`, or the older
 * `event.name` attribute) is an event. `seq` numbers log records and events in arrival order,
 * across restarts, so records of the same nanosecond keep their order and cursors are exact.
 */
export class RowBuilder {
  readonly #catalog: Catalog;
  readonly rows = new FactRows();
  #seq: number;
  readonly #scanner = new LogsScanner();
  readonly #logsTarget: LogsTarget;

  constructor(catalog: Catalog, firstSeq: number) {
    this.#catalog = catalog;
    this.#seq = firstSeq;
    this.#logsTarget = { catalog, logs: this.rows.logs, events: this.rows.events, seq: firstSeq };
  }

  /** The next sequence number to hand out. */
  get seq(): number {
    return this.#seq;
  }

  /** Forgets the rows of a batch that failed; its sequence numbers are given out again. */
  reset(seq: number): void {
    this.rows.clear();
    this.#seq = seq;
  }

  metrics(req: MetricsRequestLike, receivedMs: number): void {
    const cat = this.#catalog;
    const p = this.rows.points;
    const columns = p.columns as PointColumns;
    const [, , , , , cValue, cCount] = columns;
    let added = 0;
    for (const rm of req.resourceMetrics ?? []) cat.learnContainers(rm.resource?.attributes);
    for (const rm of req.resourceMetrics ?? []) {
      const rid = cat.resource(rm.resource?.attributes, receivedMs);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const name = m.name ?? '';
          if (name === '') continue;
          const unit = m.unit ?? '';
          const description = m.description ?? '';
          if (hasOwn.call(m, 'gauge') || hasOwn.call(m, 'sum')) {
            const isSum = hasOwn.call(m, 'sum');
            const data = isSum ? m.sum : m.gauge;
            const temporality = isSum ? (m.sum?.aggregationTemporality === 1 ? 1 : 2) : 0;
            const mid = cat.metric(name, unit, isSum ? 'sum' : 'gauge', temporality, isSum && m.sum?.isMonotonic === true, description);
            for (const dp of data?.dataPoints ?? []) {
              if (((dp.flags ?? 0) & NO_RECORDED_VALUE) !== 0) continue;
              pushPointKeys(columns, cat, dp, rid, mid, receivedMs);
              cValue.push(hasOwn.call(dp, 'asDouble') ? (dp.asDouble ?? 0) : hasOwn.call(dp, 'asInt') ? int64Number(dp.asInt) : 0);
              cCount.push(null);
              added++;
            }
            continue;
          }
          let type: string;
          let temporality: number;
          let points: readonly SummaryPointLike[] | null | undefined;
          if (hasOwn.call(m, 'histogram')) {
            type = 'histogram';
            temporality = m.histogram?.aggregationTemporality === 1 ? 1 : 2;
            points = m.histogram?.dataPoints;
          } else if (hasOwn.call(m, 'exponentialHistogram')) {
            type = 'exponential_histogram';
            temporality = m.exponentialHistogram?.aggregationTemporality === 1 ? 1 : 2;
            points = m.exponentialHistogram?.dataPoints;
          } else if (hasOwn.call(m, 'summary')) {
            type = 'summary';
            temporality = 2;
            points = m.summary?.dataPoints;
          } else {
            continue;
          }
          // Histograms and summaries keep sum and count (the buckets are not stored).
          const mid = cat.metric(name, unit, type, temporality, true, description);
          for (const dp of points ?? []) {
            if (((dp.flags ?? 0) & NO_RECORDED_VALUE) !== 0) continue;
            pushPointKeys(columns, cat, dp, rid, mid, receivedMs);
            cValue.push(dp.sum ?? 0);
            cCount.push(int64Number(dp.count));
            added++;
          }
        }
      }
    }
    p.endRows(added);
  }

  /**
   * The rows of a logs request from its protobuf bytes (otlp-logs-scan.ts): the same rows `logs`
   * makes from the decoded request. False, having added nothing, when the body is one for
   * `logs` (through protobufjs) instead. `walked`: the validating walk accepted it already.
   */
  logsProtobuf(body: Uint8Array, receivedMs: number, walked = false): boolean {
    const target = this.#logsTarget;
    target.seq = this.#seq;
    const ok = this.#scanner.scan(target, body, receivedMs, walked);
    this.#seq = target.seq;
    return ok;
  }

  logs(req: LogsRequestLike, receivedMs: number): void {
    const cat = this.#catalog;
    const receivedNs = BigInt(receivedMs) * 1_000_000n;
    const logs = this.rows.logs;
    const events = this.rows.events;
    for (const rl of req.resourceLogs ?? []) cat.learnContainers(rl.resource?.attributes);
    for (const rl of req.resourceLogs ?? []) {
      const rid = cat.resource(rl.resource?.attributes, receivedMs);
      for (const sl of rl.scopeLogs ?? []) {
        const scope = sl.scope?.name ?? '';
        for (const r of sl.logRecords ?? []) {
          let t = uint64BigInt(r.timeUnixNano);
          if (t === 0n) t = uint64BigInt(r.observedTimeUnixNano);
          if (t === 0n) t = receivedNs;
          const severity = severityByte(r.severityNumber);
          let eventName = r.eventName ?? '';
          if (eventName === '') {
            for (const kv of r.attributes ?? []) {
              if (kv.key === 'event.name') {
                const v = anyValueJson(kv.value);
                if (typeof v === 'string') eventName = v;
                break;
              }
            }
          }
          if (eventName !== '') {
            events.add(t, this.#seq++, rid, eventName, severity, bodyText(r.body), cat.attributesText(r.attributes));
          } else {
            const traceId = idHex(r.traceId);
            const spanId = idHex(r.spanId);
            // Unset ids are NULL: a NULL costs DuckDB a validity bit, a string a native call a row.
            const text = r.severityText ?? '';
            const attrs = cat.attributesText(r.attributes);
            logs.add(
              t,
              this.#seq++,
              rid,
              severity,
              // The usual name of the number (INFO for 9) is implied: NULL, not a string a row.
              text === '' || text === SEVERITY_NAMES[severity] ? null : text,
              bodyText(r.body),
              attrs === EMPTY_JSON ? null : attrs,
              traceId === '' ? null : traceId,
              spanId === '' ? null : spanId,
              scope,
            );
          }
        }
      }
    }
  }

  traces(req: TracesRequestLike, receivedMs: number): void {
    const cat = this.#catalog;
    const spans = this.rows.spans;
    for (const rs of req.resourceSpans ?? []) {
      const rid = cat.resource(rs.resource?.attributes, receivedMs);
      const service = stringAttribute(rs.resource, 'service.name');
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const start = uint64BigInt(s.startTimeUnixNano);
          const end = uint64BigInt(s.endTimeUnixNano);
          const events =
            s.events === null || s.events === undefined || s.events.length === 0
              ? '[]'
              : JSON.stringify(s.events.map((e) => ({ timeUnixNano: uint64BigInt(e.timeUnixNano).toString(), name: e.name ?? '', attributes: attributesJson(e.attributes) })));
          spans.add(
            idHex(s.traceId),
            idHex(s.spanId),
            idHex(s.parentSpanId),
            s.name ?? '',
            severityByte(s.kind),
            start,
            end,
            end > start ? end - start : 0n,
            severityByte(s.status?.code),
            s.status?.message ?? '',
            rid,
            service,
            attributesText(s.attributes),
            events,
          );
        }
      }
    }
  }
}
