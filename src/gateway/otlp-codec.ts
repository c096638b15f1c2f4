import path from 'node:path';
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import type { OtlpSignal } from '../export/types.js';
import { IngestError } from '../errors.js';
import { protoDir } from './proto-dir.js';
import type { BodyFormat } from '../export/http-routes.js';

type Type = protobuf.Type;
type Message = protobuf.Message<object>;

const SERVICE_FILES: Readonly<Record<OtlpSignal, string>> = {
  metrics: 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  logs: 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  traces: 'opentelemetry/proto/collector/trace/v1/trace_service.proto',
};

const REQUEST_TYPES: Readonly<Record<OtlpSignal, string>> = {
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
};

/**
 * The OTLP JSON encoding differs from ProtoJSON in one place: trace and span ids are hex, not
 * base64 (every other `bytes` field, such as AnyValue.bytes_value, stays base64).
 */
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** Options for the stored form: OTLP-JSON-like, longs as decimal strings, enums as numbers. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, json: true };

/**
 * Where the id fields sit inside a request type, worked out once at load from the schema, so the
 * hex/base64 conversion visits only the paths that can hold ids (never attribute trees).
 */
interface IdPlan {
  /** Id fields of this message: [lowerCamel name, original snake_case name]. */
  readonly ids: readonly (readonly [string, string])[];
  /** Message-typed fields whose subtree holds ids. */
  readonly children: readonly { readonly camel: string; readonly snake: string; readonly plan: IdPlan }[];
}

function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function buildPlan(type: Type, memo: Map<Type, IdPlan | null>): IdPlan | null {
  if (memo.has(type)) return memo.get(type)!;
  // Provisional null breaks cycles (AnyValue ⇄ ArrayValue): those types hold no ids anyway.
  memo.set(type, null);
  const ids: (readonly [string, string])[] = [];
  const children: { camel: string; snake: string; plan: IdPlan }[] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.type === 'bytes' && ID_FIELDS.has(field.name)) {
      ids.push([field.name, snakeCase(field.name)]);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const plan = buildPlan(field.resolvedType, memo);
      if (plan !== null) children.push({ camel: field.name, snake: snakeCase(field.name), plan });
    }
  }
  const plan = ids.length === 0 && children.length === 0 ? null : { ids, children };
  memo.set(type, plan);
  return plan;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Incoming OTLP JSON: hex ids → base64 for protojson. A value that is not hex is left as it came
 * (base64 from an old sender); a padded base64 id of 8 or 16 bytes always ends in '=', so the two
 * forms cannot be confused.
 */
function idsHexToBase64(node: unknown, plan: IdPlan): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) idsHexToBase64(item, plan);
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const [camel, snake] of plan.ids) {
    const a = obj[camel];
    if (typeof a === 'string' && HEX.test(a)) obj[camel] = Buffer.from(a, 'hex').toString('base64');
    const b = obj[snake];
    if (typeof b === 'string' && HEX.test(b)) obj[snake] = Buffer.from(b, 'hex').toString('base64');
  }
  for (const c of plan.children) {
    idsHexToBase64(obj[c.camel], c.plan);
    idsHexToBase64(obj[c.snake], c.plan);
  }
}

/** Stored form: toObject gave base64 for every bytes field; ids become hex as OTLP JSON has them. */
function idsBase64ToHex(node: unknown, plan: IdPlan): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) idsBase64ToHex(item, plan);
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const [camel] of plan.ids) {
    const v = obj[camel];
    if (typeof v === 'string') obj[camel] = Buffer.from(v, 'base64').toString('hex');
  }
  for (const c of plan.children) idsBase64ToHex(obj[c.camel], c.plan);
}

const MAX_REASON = 200;

function badRequest(prefix: string, err: unknown): IngestError {
  const detail = err instanceof Error ? err.message : String(err);
  const msg = `${prefix}: ${detail}`;
  return new IngestError(400, msg.length > MAX_REASON ? `${msg.slice(0, MAX_REASON)}…` : msg);
}

// Fatal: invalid UTF-8 in a JSON body is a 400, exactly as it is inside a protobuf string.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

interface SignalCodec {
  readonly type: Type;
  readonly plan: IdPlan | null;
}

/* Shapes of the decoded messages, as far as record counting looks into them. */
interface Points {
  readonly dataPoints?: readonly unknown[] | null;
}
interface MetricMsg {
  readonly gauge?: Points | null;
  readonly sum?: Points | null;
  readonly histogram?: Points | null;
  readonly exponentialHistogram?: Points | null;
  readonly summary?: Points | null;
}
interface MetricsReq {
  readonly resourceMetrics?: readonly { readonly scopeMetrics?: readonly { readonly metrics?: readonly MetricMsg[] | null }[] | null }[] | null;
}
interface LogsReq {
  readonly resourceLogs?: readonly { readonly scopeLogs?: readonly { readonly logRecords?: readonly unknown[] | null }[] | null }[] | null;
}
interface TracesReq {
  readonly resourceSpans?: readonly { readonly scopeSpans?: readonly { readonly spans?: readonly unknown[] | null }[] | null }[] | null;
}

function countMetricPoints(req: MetricsReq): number {
  let n = 0;
  for (const rm of req.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        n +=
          (m.gauge?.dataPoints?.length ?? 0) +
          (m.sum?.dataPoints?.length ?? 0) +
          (m.histogram?.dataPoints?.length ?? 0) +
          (m.exponentialHistogram?.dataPoints?.length ?? 0) +
          (m.summary?.dataPoints?.length ?? 0);
      }
    }
  }
  return n;
}

function countLogRecords(req: LogsReq): number {
  let n = 0;
  for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += sl.logRecords?.length ?? 0;
  return n;
}

function countSpans(req: TracesReq): number {
  let n = 0;
  for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  return n;
}

/**
 * Decodes and re-encodes OTLP export requests with protobufjs reflection over the project's own
 * `proto/` tree, loaded once at start.
 */
export class OtlpCodec {
  readonly #signals: Readonly<Record<OtlpSignal, SignalCodec>>;

  private constructor(signals: Record<OtlpSignal, SignalCodec>) {
    this.#signals = signals;
  }

  static async load(dir: string = protoDir()): Promise<OtlpCodec> {
    const root = new protobuf.Root();
    // Imports in the .proto files are relative to the tree's root, not to the importing file.
    root.resolvePath = (_origin: string, target: string) => (path.isAbsolute(target) ? target : path.join(dir, target));
    await root.load(Object.values(SERVICE_FILES), { keepCase: false });
    root.resolveAll();
    const memo = new Map<Type, IdPlan | null>();
    const make = (s: OtlpSignal): SignalCodec => {
      const type = root.lookupType(REQUEST_TYPES[s]);
      return { type, plan: buildPlan(type, memo) };
    };
    return new OtlpCodec({ metrics: make('metrics'), logs: make('logs'), traces: make('traces') });
  }

  /** Decodes a request body; a malformed body throws IngestError(400) with a short reason. */
  decode(signal: OtlpSignal, format: BodyFormat, body: Uint8Array): Message {
    const c = this.#signals[signal];
    if (format === 'protobuf') {
      try {
        return c.type.decode(body) as Message;
      } catch (err) {
        throw badRequest('invalid protobuf', err);
      }
    }
    let parsed: unknown;
    try {
      // An empty body is the empty request, as it is for protobuf.
      parsed = body.length === 0 ? {} : JSON.parse(utf8.decode(body));
    } catch (err) {
      throw badRequest('invalid JSON', err);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new IngestError(400, 'invalid JSON: the request must be a JSON object');
    }
    try {
      if (c.plan !== null) idsHexToBase64(parsed, c.plan);
      // Unknown fields are ignored, as the OTLP spec asks of receivers.
      return protojson.fromJson(c.type, parsed, { ignoreUnknownFields: true }) as Message;
    } catch (err) {
      throw badRequest('invalid OTLP JSON', err);
    }
  }

  /** The protobuf encoding of a decoded request (used to forward requests that came as JSON). */
  encode(signal: OtlpSignal, message: Message): Uint8Array {
    return this.#signals[signal].type.encode(message).finish();
  }

  /** The request as a JSON value: camelCase names, int64 as strings, enums as numbers, ids as hex. */
  toStoredObject(signal: OtlpSignal, message: Message): Record<string, unknown> {
    const c = this.#signals[signal];
    const obj = c.type.toObject(message, TO_OBJECT);
    if (c.plan !== null) idsBase64ToHex(obj, c.plan);
    return obj;
  }

  /** Data points, log records or spans in the request. */
  countRecords(signal: OtlpSignal, message: Message): number {
    switch (signal) {
      case 'metrics':
        return countMetricPoints(message as MetricsReq);
      case 'logs':
        return countLogRecords(message as LogsReq);
      case 'traces':
        return countSpans(message as TracesReq);
    }
  }
}
