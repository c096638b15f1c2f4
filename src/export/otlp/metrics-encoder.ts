import type { MetricDescriptor, MetricPoint, Resource, Scope } from '../../model/index.js';
import { AttributeTable } from './attributes.js';
import { ResourceScopeGroups, grow, growFloat, placeByGroup } from './grouping.js';
import { encodedResource, encodedScope } from './logs-encoder.js';
import { OutputPool, ProtoWriter, hi32, lenFieldSize, lo32, varintSize } from './proto-writer.js';
import { encodeStringFields } from './string-fields.js';

/**
 * Encodes metric points as an OTLP `ExportMetricsServiceRequest`
 * (opentelemetry/proto/collector/metrics/v1, metrics/v1), grouped resource → scope → metric
 * (descriptor identity). Gauges become `Gauge`, sums `Sum` with `is_monotonic` from the
 * descriptor. Values are `as_int` (sfixed64) or `as_double` by `descriptor.valueType`;
 * `start_time_unix_nano` is written for sums only.
 *
 * The encoder is pure: it labels sums with a temporality but computes nothing. Turning
 * cumulative readings into deltas is `DeltaConverter`'s job (src/export/temporality.ts), which
 * must run first when `temporality` is 'delta'. Same two-pass, canonical layout as LogsEncoder.
 */

export type Temporality = 'delta' | 'cumulative';

/** OTLP AggregationTemporality values. */
export const AGGREGATION_TEMPORALITY_DELTA = 1;
export const AGGREGATION_TEMPORALITY_CUMULATIVE = 2;

const TAG_RESOURCE_METRICS = 0x0a; // ExportMetricsServiceRequest.resource_metrics
const TAG_RESOURCE = 0x0a; // ResourceMetrics.resource
const TAG_SCOPE_METRICS = 0x12; // ResourceMetrics.scope_metrics
const TAG_SCOPE = 0x0a; // ScopeMetrics.scope
const TAG_METRIC = 0x12; // ScopeMetrics.metrics
const TAG_NAME = 0x0a; // Metric.name
const TAG_DESCRIPTION = 0x12; // Metric.description
const TAG_UNIT = 0x1a; // Metric.unit
const TAG_GAUGE = 0x2a; // Metric.gauge, field 5
const TAG_SUM = 0x3a; // Metric.sum, field 7
const TAG_DATA_POINT = 0x0a; // Gauge/Sum.data_points
const TAG_TEMPORALITY = 0x10; // Sum.aggregation_temporality, field 2
const TAG_MONOTONIC = 0x18; // Sum.is_monotonic, field 3
// NumberDataPoint
const TAG_START_TIME = 0x11; // field 2, fixed64
const TAG_TIME = 0x19; // field 3, fixed64
const TAG_AS_DOUBLE = 0x21; // field 4, double
const TAG_AS_INT = 0x31; // field 6, sfixed64
const TAG_ATTRIBUTES = 0x3a; // field 7

const INT64_LIMIT = 2 ** 63;

/** The encoded name/description/unit fields of a Metric, cached on the descriptor. */
function encodedDescriptor(d: MetricDescriptor): Uint8Array {
  return (d.encoded ??= encodeStringFields([
    [TAG_NAME, d.name],
    [TAG_DESCRIPTION, d.description],
    [TAG_UNIT, d.unit],
  ]));
}

export class MetricsEncoder {
  readonly #w = new ProtoWriter();
  /** Bodies' memory, given back through `release` once a request is done with it. */
  readonly #out = new OutputPool();
  readonly #groups = new ResourceScopeGroups();
  readonly #attrs = new AttributeTable(TAG_ATTRIBUTES);
  // Per point.
  #metric = new Int32Array(1024);
  #size = new Int32Array(1024);
  #order = new Int32Array(1024);
  // Per scope group: descriptor → metric group, and the metric groups in first-seen order.
  #descriptorMaps: Map<MetricDescriptor, number>[] = [];
  #scopeFirstMetric = new Int32Array(64);
  #scopeLastMetric = new Int32Array(64);
  #scopeBytes = new Float64Array(64);
  #resourceBytes = new Float64Array(64);
  // Per metric group.
  #descriptors: MetricDescriptor[] = [];
  #metricCount = 0;
  #metricNext = new Int32Array(256);
  #metricPoints = new Int32Array(256);
  #metricStart = new Int32Array(256);
  #metricFill = new Int32Array(256);
  #metricBytes = new Float64Array(256);
  #dataBytes = new Float64Array(256);

  /** A body this encoder made is no longer needed (the endpoint took it): its memory serves a later one. */
  release(body: Uint8Array): void {
    this.#out.give(body);
  }

  /**
   * An ExportMetricsServiceRequest holding `points` in an owned array, or null when there is
   * nothing to send. Monotonic sums are labelled DELTA when `temporality` is 'delta'; every
   * other sum is CUMULATIVE (non-monotonic sums stay cumulative, as OTel's delta preference has it).
   */
  encode(points: readonly MetricPoint[], temporality: Temporality): Uint8Array | null {
    const n = points.length;
    if (n === 0) return null;
    const delta = temporality === 'delta';
    this.#ensurePoints(n);
    const groups = this.#groups;
    const attrs = this.#attrs;
    groups.reset();
    attrs.reset(n);
    this.#metricCount = 0;
    this.#descriptors.length = 0;
    const metric = this.#metric;
    const size = this.#size;

    // Pass 1: group and measure.
    for (let i = 0; i < n; i++) {
      const p = points[i] as MetricPoint;
      const g = groups.groupOf(p.resource, p.scope);
      const m = this.#metricOf(g, p.descriptor);
      metric[i] = m;
      let s = 18; // time_unix_nano and the value, both 8 bytes plus a tag
      if (p.timeUnixNano === 0n) s -= 9;
      if (p.descriptor.kind === 'sum' && p.startTimeUnixNano !== 0n) s += 9;
      s += attrs.add(i, p.attributes);
      size[i] = s;
      this.#metricPoints[m] = (this.#metricPoints[m] as number) + 1;
      this.#dataBytes[m] = (this.#dataBytes[m] as number) + 1 + varintSize(s) + s;
    }

    const total = this.#layout(n);

    // Pass 2: write front to back.
    const w = this.#w;
    w.reserve(total);
    const order = this.#order;
    for (let ri = 0; ri < groups.resourceCount; ri++) {
      const res = encodedResource(groups.resources[ri] as Resource);
      w.byte(TAG_RESOURCE_METRICS);
      w.varint(this.#resourceBytes[ri] as number);
      w.byte(TAG_RESOURCE);
      w.varint(res.length);
      w.bytes(res);
      for (let g = groups.resourceFirstScope[ri] as number; g !== -1; g = groups.scopeNext[g] as number) {
        const scope = encodedScope(groups.scopes[g] as Scope);
        w.byte(TAG_SCOPE_METRICS);
        w.varint(this.#scopeBytes[g] as number);
        w.byte(TAG_SCOPE);
        w.varint(scope.length);
        w.bytes(scope);
        for (let m = this.#scopeFirstMetric[g] as number; m !== -1; m = this.#metricNext[m] as number) {
          const d = this.#descriptors[m] as MetricDescriptor;
          const isSum = d.kind === 'sum';
          const isInt = d.valueType === 'int';
          w.byte(TAG_METRIC);
          w.varint(this.#metricBytes[m] as number);
          w.bytes(encodedDescriptor(d));
          w.byte(isSum ? TAG_SUM : TAG_GAUGE);
          w.varint(this.#dataBytes[m] as number);
          const end = (this.#metricStart[m] as number) + (this.#metricPoints[m] as number);
          for (let k = this.#metricStart[m] as number; k < end; k++) {
            const i = order[k] as number;
            this.#writePoint(w, points[i] as MetricPoint, i, isSum, isInt);
          }
          if (isSum) {
            w.byte(TAG_TEMPORALITY);
            w.byte(delta && d.monotonic ? AGGREGATION_TEMPORALITY_DELTA : AGGREGATION_TEMPORALITY_CUMULATIVE);
            if (d.monotonic) {
              w.byte(TAG_MONOTONIC);
              w.byte(1);
            }
          }
        }
      }
    }
    attrs.clear();
    groups.reset();
    this.#descriptors.length = 0;
    for (let g = 0; g < this.#descriptorMaps.length; g++) this.#descriptorMaps[g]?.clear();
    return w.finish(this.#out);
  }

  #writePoint(w: ProtoWriter, p: MetricPoint, i: number, isSum: boolean, isInt: boolean): void {
    w.byte(TAG_DATA_POINT);
    w.varint(this.#size[i] as number);
    if (isSum && p.startTimeUnixNano !== 0n) {
      w.byte(TAG_START_TIME);
      w.fixed64(p.startTimeUnixNano);
    }
    if (p.timeUnixNano !== 0n) {
      w.byte(TAG_TIME);
      w.fixed64(p.timeUnixNano);
    }
    const v = p.value;
    if (isInt) {
      w.byte(TAG_AS_INT);
      // An int metric carrying a fraction is truncated; NaN/±Infinity become 0 / the int64 bounds.
      if (v !== v) w.fixed64Parts(0, 0);
      else if (v >= INT64_LIMIT) w.fixed64Parts(0xffff_ffff, 0x7fff_ffff);
      else if (v < -INT64_LIMIT) w.fixed64Parts(0, 0x8000_0000);
      else {
        const t = Math.trunc(v);
        w.fixed64Parts(lo32(t), hi32(t));
      }
    } else {
      w.byte(TAG_AS_DOUBLE);
      w.double(v);
    }
    this.#attrs.write(w, i);
  }

  /** The metric group of `descriptor` within scope group `g`. */
  #metricOf(g: number, d: MetricDescriptor): number {
    if (g >= this.#scopeFirstMetric.length) {
      this.#scopeFirstMetric = grow(this.#scopeFirstMetric, g + 1);
      this.#scopeLastMetric = grow(this.#scopeLastMetric, g + 1);
      this.#scopeBytes = growFloat(this.#scopeBytes, g + 1);
    }
    let map = this.#descriptorMaps[g];
    if (map === undefined) {
      map = new Map();
      this.#descriptorMaps[g] = map;
    }
    if (map.size === 0) {
      this.#scopeFirstMetric[g] = -1;
      this.#scopeLastMetric[g] = -1;
    }
    let m = map.get(d);
    if (m !== undefined) return m;
    m = this.#metricCount++;
    if (m === this.#metricNext.length) {
      this.#metricNext = grow(this.#metricNext);
      this.#metricPoints = grow(this.#metricPoints);
      this.#metricStart = grow(this.#metricStart);
      this.#metricFill = grow(this.#metricFill);
      this.#metricBytes = growFloat(this.#metricBytes);
      this.#dataBytes = growFloat(this.#dataBytes);
    }
    map.set(d, m);
    this.#descriptors.push(d);
    this.#metricNext[m] = -1;
    this.#metricPoints[m] = 0;
    this.#dataBytes[m] = 0;
    const last = this.#scopeLastMetric[g] as number;
    if (last === -1) this.#scopeFirstMetric[g] = m;
    else this.#metricNext[last] = m;
    this.#scopeLastMetric[g] = m;
    return m;
  }

  /** Message sizes bottom-up and the output order of points; returns the request size. */
  #layout(n: number): number {
    const groups = this.#groups;
    if (groups.resourceCount > this.#resourceBytes.length) {
      this.#resourceBytes = growFloat(this.#resourceBytes, groups.resourceCount);
    }
    let total = 0;
    let cursor = 0;
    for (let ri = 0; ri < groups.resourceCount; ri++) {
      let rb = lenFieldSize(encodedResource(groups.resources[ri] as Resource).length);
      for (let g = groups.resourceFirstScope[ri] as number; g !== -1; g = groups.scopeNext[g] as number) {
        let sb = lenFieldSize(encodedScope(groups.scopes[g] as Scope).length);
        for (let m = this.#scopeFirstMetric[g] as number; m !== -1; m = this.#metricNext[m] as number) {
          const d = this.#descriptors[m] as MetricDescriptor;
          let data = this.#dataBytes[m] as number;
          if (d.kind === 'sum') {
            data += 2 + (d.monotonic ? 2 : 0);
            this.#dataBytes[m] = data;
          }
          const mb = encodedDescriptor(d).length + lenFieldSize(data);
          this.#metricBytes[m] = mb;
          sb += lenFieldSize(mb);
          this.#metricStart[m] = cursor;
          this.#metricFill[m] = cursor;
          cursor += this.#metricPoints[m] as number;
        }
        this.#scopeBytes[g] = sb;
        rb += lenFieldSize(sb);
      }
      this.#resourceBytes[ri] = rb;
      total += lenFieldSize(rb);
    }
    placeByGroup(this.#metric, n, this.#metricFill, this.#order);
    return total;
  }

  #ensurePoints(n: number): void {
    if (n <= this.#metric.length) return;
    this.#metric = grow(this.#metric, n);
    this.#size = grow(this.#size, n);
    this.#order = grow(this.#order, n);
  }
}
