/**
 * The OTLP messages the receiver reads, as tables: field number → kind, and the JSON names of
 * each field (lowerCamelCase and the proto's snake_case, as OTLP/JSON allows both). One table
 * serves the protobuf walk (structure, UTF-8, item counts: otlp-walk.ts) and the OTLP/JSON
 * reader (otlp-json.ts). Field numbers follow proto/opentelemetry (OTLP 1.x).
 */

export type FieldKind =
  | 'string'
  | 'bytes'
  /** trace_id / span_id / parent_span_id: bytes in protobuf, hex in OTLP/JSON. */
  | 'id'
  | 'message'
  | 'bool'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'int64'
  | 'uint64'
  | 'enum'
  | 'fixed64'
  | 'sfixed64'
  | 'double'
  | 'fixed32';

export interface FieldDesc {
  readonly number: number;
  readonly json: string;
  readonly snake: string;
  readonly kind: FieldKind;
  readonly repeated: boolean;
  /** For `message` fields: the message, resolved after the tables are built. */
  message: MessageDesc | undefined;
  /** Enum value names accepted in JSON. */
  readonly enumValues?: Readonly<Record<string, number>>;
  /** Each occurrence is one item of the request (a span, a data point, a log record). */
  readonly item: boolean;
  /** Protobuf wire type of one (unpacked) value. */
  readonly wire: number;
  /** What the walk does with it when it comes length-delimited (LEN_* in otlp-walk.ts). */
  readonly lenAction: number;
}

/** `FieldDesc.lenAction`: skip the bytes, check UTF-8, walk a message, check a packed list, refuse. */
export const LEN_SKIP = 0;
export const LEN_STRING = 1;
export const LEN_MESSAGE = 2;
export const LEN_PACKED = 3;
const LEN_WRONG = 4;

export interface MessageDesc {
  readonly name: string;
  /** Indexed by field number (sparse); undefined for unknown fields. */
  readonly byNumber: readonly (FieldDesc | undefined)[];
  readonly byJson: ReadonlyMap<string, FieldDesc>;
  readonly fields: readonly FieldDesc[];
}

const WIRE: Readonly<Record<FieldKind, number>> = {
  string: 2,
  bytes: 2,
  id: 2,
  message: 2,
  bool: 0,
  int32: 0,
  uint32: 0,
  sint32: 0,
  int64: 0,
  uint64: 0,
  enum: 0,
  fixed64: 1,
  sfixed64: 1,
  double: 1,
  fixed32: 5,
};

type Spec = readonly [number: number, name: string, kind: FieldKind, options?: { repeated?: true; message?: string; enumValues?: Record<string, number>; item?: true }];

function camel(snake: string): string {
  return snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

const tables = new Map<string, { name: string; specs: readonly Spec[] }>();
function define(name: string, specs: readonly Spec[]): void {
  tables.set(name, { name, specs });
}

const SPAN_KIND = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };
const STATUS_CODE = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const TEMPORALITY = { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 };
const SEVERITY: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
  for (let k = 0; k < 4; k++) SEVERITY[`SEVERITY_NUMBER_${level}${k === 0 ? '' : k + 1}`] = i * 4 + k + 1;
});

// common/v1
define('AnyValue', [
  [1, 'string_value', 'string'],
  [2, 'bool_value', 'bool'],
  [3, 'int_value', 'int64'],
  [4, 'double_value', 'double'],
  [5, 'array_value', 'message', { message: 'ArrayValue' }],
  [6, 'kvlist_value', 'message', { message: 'KeyValueList' }],
  [7, 'bytes_value', 'bytes'],
]);
define('ArrayValue', [[1, 'values', 'message', { repeated: true, message: 'AnyValue' }]]);
define('KeyValueList', [[1, 'values', 'message', { repeated: true, message: 'KeyValue' }]]);
define('KeyValue', [
  [1, 'key', 'string'],
  [2, 'value', 'message', { message: 'AnyValue' }],
]);
define('InstrumentationScope', [
  [1, 'name', 'string'],
  [2, 'version', 'string'],
  [3, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [4, 'dropped_attributes_count', 'uint32'],
]);
define('EntityRef', [
  [1, 'schema_url', 'string'],
  [2, 'type', 'string'],
  [3, 'id_keys', 'string', { repeated: true }],
  [4, 'description_keys', 'string', { repeated: true }],
]);
// resource/v1
define('Resource', [
  [1, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [2, 'dropped_attributes_count', 'uint32'],
  [3, 'entity_refs', 'message', { repeated: true, message: 'EntityRef' }],
]);
// trace/v1
define('ExportTraceServiceRequest', [[1, 'resource_spans', 'message', { repeated: true, message: 'ResourceSpans' }]]);
define('ResourceSpans', [
  [1, 'resource', 'message', { message: 'Resource' }],
  [2, 'scope_spans', 'message', { repeated: true, message: 'ScopeSpans' }],
  [3, 'schema_url', 'string'],
]);
define('ScopeSpans', [
  [1, 'scope', 'message', { message: 'InstrumentationScope' }],
  [2, 'spans', 'message', { repeated: true, message: 'Span', item: true }],
  [3, 'schema_url', 'string'],
]);
define('Span', [
  [1, 'trace_id', 'id'],
  [2, 'span_id', 'id'],
  [3, 'trace_state', 'string'],
  [4, 'parent_span_id', 'id'],
  [5, 'name', 'string'],
  [6, 'kind', 'enum', { enumValues: SPAN_KIND }],
  [7, 'start_time_unix_nano', 'fixed64'],
  [8, 'end_time_unix_nano', 'fixed64'],
  [9, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [10, 'dropped_attributes_count', 'uint32'],
  [11, 'events', 'message', { repeated: true, message: 'Span.Event' }],
  [12, 'dropped_events_count', 'uint32'],
  [13, 'links', 'message', { repeated: true, message: 'Span.Link' }],
  [14, 'dropped_links_count', 'uint32'],
  [15, 'status', 'message', { message: 'Status' }],
  [16, 'flags', 'fixed32'],
]);
define('Span.Event', [
  [1, 'time_unix_nano', 'fixed64'],
  [2, 'name', 'string'],
  [3, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [4, 'dropped_attributes_count', 'uint32'],
]);
define('Span.Link', [
  [1, 'trace_id', 'id'],
  [2, 'span_id', 'id'],
  [3, 'trace_state', 'string'],
  [4, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [5, 'dropped_attributes_count', 'uint32'],
  [6, 'flags', 'fixed32'],
]);
define('Status', [
  [2, 'message', 'string'],
  [3, 'code', 'enum', { enumValues: STATUS_CODE }],
]);
// metrics/v1
define('ExportMetricsServiceRequest', [[1, 'resource_metrics', 'message', { repeated: true, message: 'ResourceMetrics' }]]);
define('ResourceMetrics', [
  [1, 'resource', 'message', { message: 'Resource' }],
  [2, 'scope_metrics', 'message', { repeated: true, message: 'ScopeMetrics' }],
  [3, 'schema_url', 'string'],
]);
define('ScopeMetrics', [
  [1, 'scope', 'message', { message: 'InstrumentationScope' }],
  [2, 'metrics', 'message', { repeated: true, message: 'Metric' }],
  [3, 'schema_url', 'string'],
]);
define('Metric', [
  [1, 'name', 'string'],
  [2, 'description', 'string'],
  [3, 'unit', 'string'],
  [5, 'gauge', 'message', { message: 'Gauge' }],
  [7, 'sum', 'message', { message: 'Sum' }],
  [9, 'histogram', 'message', { message: 'Histogram' }],
  [10, 'exponential_histogram', 'message', { message: 'ExponentialHistogram' }],
  [11, 'summary', 'message', { message: 'Summary' }],
  [12, 'metadata', 'message', { repeated: true, message: 'KeyValue' }],
]);
define('Gauge', [[1, 'data_points', 'message', { repeated: true, message: 'NumberDataPoint', item: true }]]);
define('Sum', [
  [1, 'data_points', 'message', { repeated: true, message: 'NumberDataPoint', item: true }],
  [2, 'aggregation_temporality', 'enum', { enumValues: TEMPORALITY }],
  [3, 'is_monotonic', 'bool'],
]);
define('Histogram', [
  [1, 'data_points', 'message', { repeated: true, message: 'HistogramDataPoint', item: true }],
  [2, 'aggregation_temporality', 'enum', { enumValues: TEMPORALITY }],
]);
define('ExponentialHistogram', [
  [1, 'data_points', 'message', { repeated: true, message: 'ExponentialHistogramDataPoint', item: true }],
  [2, 'aggregation_temporality', 'enum', { enumValues: TEMPORALITY }],
]);
define('Summary', [[1, 'data_points', 'message', { repeated: true, message: 'SummaryDataPoint', item: true }]]);
define('NumberDataPoint', [
  [2, 'start_time_unix_nano', 'fixed64'],
  [3, 'time_unix_nano', 'fixed64'],
  [4, 'as_double', 'double'],
  [5, 'exemplars', 'message', { repeated: true, message: 'Exemplar' }],
  [6, 'as_int', 'sfixed64'],
  [7, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [8, 'flags', 'uint32'],
]);
define('HistogramDataPoint', [
  [2, 'start_time_unix_nano', 'fixed64'],
  [3, 'time_unix_nano', 'fixed64'],
  [4, 'count', 'fixed64'],
  [5, 'sum', 'double'],
  [6, 'bucket_counts', 'fixed64', { repeated: true }],
  [7, 'explicit_bounds', 'double', { repeated: true }],
  [8, 'exemplars', 'message', { repeated: true, message: 'Exemplar' }],
  [9, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [10, 'flags', 'uint32'],
  [11, 'min', 'double'],
  [12, 'max', 'double'],
]);
define('ExponentialHistogramDataPoint', [
  [1, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [2, 'start_time_unix_nano', 'fixed64'],
  [3, 'time_unix_nano', 'fixed64'],
  [4, 'count', 'fixed64'],
  [5, 'sum', 'double'],
  [6, 'scale', 'sint32'],
  [7, 'zero_count', 'fixed64'],
  [8, 'positive', 'message', { message: 'ExponentialHistogramDataPoint.Buckets' }],
  [9, 'negative', 'message', { message: 'ExponentialHistogramDataPoint.Buckets' }],
  [10, 'flags', 'uint32'],
  [11, 'exemplars', 'message', { repeated: true, message: 'Exemplar' }],
  [12, 'min', 'double'],
  [13, 'max', 'double'],
  [14, 'zero_threshold', 'double'],
]);
define('ExponentialHistogramDataPoint.Buckets', [
  [1, 'offset', 'sint32'],
  [2, 'bucket_counts', 'uint64', { repeated: true }],
]);
define('SummaryDataPoint', [
  [2, 'start_time_unix_nano', 'fixed64'],
  [3, 'time_unix_nano', 'fixed64'],
  [4, 'count', 'fixed64'],
  [5, 'sum', 'double'],
  [6, 'quantile_values', 'message', { repeated: true, message: 'SummaryDataPoint.ValueAtQuantile' }],
  [7, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [8, 'flags', 'uint32'],
]);
define('SummaryDataPoint.ValueAtQuantile', [
  [1, 'quantile', 'double'],
  [2, 'value', 'double'],
]);
define('Exemplar', [
  [2, 'time_unix_nano', 'fixed64'],
  [3, 'as_double', 'double'],
  [4, 'span_id', 'id'],
  [5, 'trace_id', 'id'],
  [6, 'as_int', 'sfixed64'],
  [7, 'filtered_attributes', 'message', { repeated: true, message: 'KeyValue' }],
]);
// logs/v1
define('ExportLogsServiceRequest', [[1, 'resource_logs', 'message', { repeated: true, message: 'ResourceLogs' }]]);
define('ResourceLogs', [
  [1, 'resource', 'message', { message: 'Resource' }],
  [2, 'scope_logs', 'message', { repeated: true, message: 'ScopeLogs' }],
  [3, 'schema_url', 'string'],
]);
define('ScopeLogs', [
  [1, 'scope', 'message', { message: 'InstrumentationScope' }],
  [2, 'log_records', 'message', { repeated: true, message: 'LogRecord', item: true }],
  [3, 'schema_url', 'string'],
]);
define('LogRecord', [
  [1, 'time_unix_nano', 'fixed64'],
  [2, 'severity_number', 'enum', { enumValues: SEVERITY }],
  [3, 'severity_text', 'string'],
  [5, 'body', 'message', { message: 'AnyValue' }],
  [6, 'attributes', 'message', { repeated: true, message: 'KeyValue' }],
  [7, 'dropped_attributes_count', 'uint32'],
  [8, 'flags', 'fixed32'],
  [9, 'trace_id', 'id'],
  [10, 'span_id', 'id'],
  [11, 'observed_time_unix_nano', 'fixed64'],
  [12, 'event_name', 'string'],
]);

/** Every message, by name, with `message` fields resolved. */
const MESSAGES: ReadonlyMap<string, MessageDesc> = (() => {
  const out = new Map<string, MessageDesc & { fields: FieldDesc[] }>();
  for (const t of tables.values()) {
    const fields: FieldDesc[] = t.specs.map(([number, snake, kind, o]) => ({
      number,
      json: camel(snake),
      snake,
      kind,
      repeated: o?.repeated === true,
      message: undefined,
      ...(o?.enumValues !== undefined ? { enumValues: o.enumValues } : {}),
      item: o?.item === true,
      wire: WIRE[kind],
      lenAction: kind === 'string' ? LEN_STRING : kind === 'message' ? LEN_MESSAGE : kind === 'bytes' || kind === 'id' ? LEN_SKIP : o?.repeated === true ? LEN_PACKED : LEN_WRONG,
    }));
    const byNumber: (FieldDesc | undefined)[] = [];
    const byJson = new Map<string, FieldDesc>();
    for (const f of fields) {
      byNumber[f.number] = f;
      byJson.set(f.json, f);
      byJson.set(f.snake, f);
    }
    out.set(t.name, { name: t.name, byNumber, byJson, fields });
  }
  for (const t of tables.values()) {
    const m = out.get(t.name)!;
    t.specs.forEach(([, , kind, o], i) => {
      if (kind === 'message') m.fields[i]!.message = out.get(o!.message!)!;
    });
  }
  return out;
})();

export type OtlpKind = 'traces' | 'metrics' | 'logs';

/** Per signal: the request message and its resource entry (ResourceSpans …). */
export const REQUEST_OF: Readonly<Record<OtlpKind, MessageDesc>> = {
  traces: MESSAGES.get('ExportTraceServiceRequest')!,
  metrics: MESSAGES.get('ExportMetricsServiceRequest')!,
  logs: MESSAGES.get('ExportLogsServiceRequest')!,
};

export const RESOURCE_ENTRY_OF: Readonly<Record<OtlpKind, MessageDesc>> = {
  traces: MESSAGES.get('ResourceSpans')!,
  metrics: MESSAGES.get('ResourceMetrics')!,
  logs: MESSAGES.get('ResourceLogs')!,
};

export const RESOURCE = MESSAGES.get('Resource')!;
export const KEY_VALUE = MESSAGES.get('KeyValue')!;
