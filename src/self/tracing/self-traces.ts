import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { ExportObserver, ExportResult, ExportSpan, OtlpSignal } from '../../export/types.js';
import { BurstLog } from '../burst-log.js';
import type { Logger } from '../logger.js';
import type { CycleSpan, CycleTracer, SourceSpan } from './hooks.js';

/**
 * The agent tracing its own work (SEXTANT_SELF_TRACES_ENDPOINT): a span per collection cycle
 * with a child per source, and a span per export request. The OpenTelemetry SDK and its OTLP/gRPC
 * exporter are imported here, dynamically, and only when this is called: with self-traces off
 * (the default) not one @opentelemetry module is loaded. Every import at the top of this file is
 * a type import, erased at build.
 */

export interface SelfTracesOptions {
  /** OTLP/gRPC endpoint: http://host:port (plaintext) or https://host:port (TLS). */
  readonly endpoint: string;
  /** Sent as gRPC metadata `authorization: Api-Token <token>` when given. */
  readonly apiToken?: { reveal(): string } | undefined;
  /** `service.name` of the spans. */
  readonly serviceName: string;
  readonly version: string;
  /** Extra resource attributes (host.name, …). */
  readonly resource?: Readonly<Record<string, string>> | undefined;
  readonly logger: Logger;
  /** How long spans wait to be batched into one export (default 1 s). */
  readonly exportDelayMs?: number | undefined;
  /** Per export-request deadline of the exporter (default 10 s). */
  readonly exportTimeoutMs?: number | undefined;
}

export interface SelfTraces {
  /** For `CollectionScheduler`'s `tracer` dependency. */
  readonly cycles: CycleTracer;
  /** For `RetryingTransport`'s `observer` hook. */
  readonly exports: ExportObserver;
  /** Exports the spans still queued (within `deadlineMs`) and stops. */
  shutdown(deadlineMs?: number): Promise<void>;
}

/** Most spans queued for export; past it the SDK drops spans (never grows). */
const MAX_QUEUED_SPANS = 2048;

/** Loads the SDK and starts exporting; throws (with the module name) if the SDK is not installed. */
export async function startSelfTraces(options: SelfTracesOptions): Promise<SelfTraces> {
  let api: typeof import('@opentelemetry/api');
  let sdk: typeof import('@opentelemetry/sdk-node');
  let exporterModule: typeof import('@opentelemetry/exporter-trace-otlp-grpc');
  let grpc: typeof import('@grpc/grpc-js');
  try {
    [api, sdk, exporterModule, grpc] = await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-grpc'),
      import('@grpc/grpc-js'),
    ]);
  } catch (err) {
    throw new Error(`self-traces need the OpenTelemetry SDK (@opentelemetry/sdk-node, @opentelemetry/exporter-trace-otlp-grpc): ${(err as Error).message}`, { cause: err });
  }

  // The SDK reports export failures through its global diagnostic logger: route them to ours,
  // once per burst, so a dead trace endpoint costs one log line per window, not one per batch.
  const problems = new BurstLog(options.logger, 'self-traces export problems');
  api.diag.setLogger(
    {
      error: (message: string) => problems.note('error', 1, undefined, message),
      warn: (message: string) => problems.note('warn', 1, undefined, message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    api.DiagLogLevel.WARN,
  );

  const metadata = new grpc.Metadata();
  if (options.apiToken !== undefined) metadata.set('authorization', `Api-Token ${options.apiToken.reveal()}`);
  const exporter = new exporterModule.OTLPTraceExporter({
    url: options.endpoint,
    metadata,
    timeoutMillis: options.exportTimeoutMs ?? 10_000,
  });
  // The Node SDK with traces only: no instrumentations (the agent's own spans are made by hand
  // at the scheduler and the transport), no resource detectors (the resource is ours), and no
  // metrics or logs pipeline (those go through Sextant's own exporter).
  const nodeSdk = new sdk.NodeSDK({
    resource: sdk.resources.resourceFromAttributes({
      'service.name': options.serviceName,
      'service.version': options.version,
      ...options.resource,
    }),
    autoDetectResources: false,
    instrumentations: [],
    spanProcessors: [
      new sdk.tracing.BatchSpanProcessor(exporter, {
        maxQueueSize: MAX_QUEUED_SPANS,
        maxExportBatchSize: 512,
        scheduledDelayMillis: options.exportDelayMs ?? 1000,
        exportTimeoutMillis: options.exportTimeoutMs ?? 10_000,
      }),
    ],
  });
  nodeSdk.start();
  const tracer = api.trace.getTracer('sextant', options.version);
  const link = new SpanLink(api, tracer);
  options.logger.info({ endpoint: options.endpoint }, 'self-traces on: exporting spans over OTLP/gRPC');

  return {
    cycles: { startCycle: (cycle) => new CycleSpanImpl(link, cycle) },
    exports: { start: (signal, bytes) => new ExportSpanImpl(link, signal, bytes) },
    async shutdown(deadlineMs = 5_000): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
      await Promise.race([nodeSdk.shutdown().catch(() => undefined), late]);
      clearTimeout(timer);
      problems.flush();
    },
  };
}

/** What the span classes need of the SDK, resolved once. */
class SpanLink {
  constructor(
    readonly api: typeof import('@opentelemetry/api'),
    readonly tracer: Tracer,
  ) {}

  root(name: string, attributes: Record<string, number | string>, kind: number): Span {
    return this.tracer.startSpan(name, { kind, attributes }, this.api.ROOT_CONTEXT);
  }

  /** A child of `parent`, passed explicitly: no context manager (async hooks) is needed. */
  child(parent: Span, name: string, attributes: Record<string, number | string>): Span {
    const ctx: Context = this.api.trace.setSpan(this.api.ROOT_CONTEXT, parent);
    return this.tracer.startSpan(name, { kind: this.api.SpanKind.INTERNAL, attributes }, ctx);
  }

  fail(span: Span, message: string): void {
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message });
  }
}

class CycleSpanImpl implements CycleSpan {
  readonly #link: SpanLink;
  readonly #span: Span;

  constructor(link: SpanLink, cycle: number) {
    this.#link = link;
    this.#span = link.root('sextant.collect', { 'sextant.cycle': cycle }, link.api.SpanKind.INTERNAL);
  }

  startSource(source: string): SourceSpan {
    return new SourceSpanImpl(this.#link, this.#link.child(this.#span, `sextant.collect ${source}`, { 'sextant.source': source }));
  }

  end(): void {
    this.#span.end();
  }
}

class SourceSpanImpl implements SourceSpan {
  readonly #link: SpanLink;
  readonly #span: Span;

  constructor(link: SpanLink, span: Span) {
    this.#link = link;
    this.#span = span;
  }

  end(outcome: { readonly records: number; readonly bytes: number; readonly error?: Error | undefined; readonly skipped?: boolean }): void {
    const s = this.#span;
    s.setAttribute('sextant.records', outcome.records);
    s.setAttribute('sextant.bytes', outcome.bytes);
    if (outcome.skipped === true) s.setAttribute('sextant.skipped', true);
    if (outcome.error !== undefined) {
      // The message only: a stack names files of this install, nothing the trace reader needs.
      s.addEvent('exception', { 'exception.type': outcome.error.name, 'exception.message': outcome.error.message });
      this.#link.fail(s, outcome.error.message);
    }
    s.end();
  }
}

class ExportSpanImpl implements ExportSpan {
  readonly #link: SpanLink;
  readonly #span: Span;

  constructor(link: SpanLink, signal: OtlpSignal, bytes: number) {
    this.#link = link;
    this.#span = link.root(`sextant.export ${signal}`, { 'sextant.signal': signal, 'sextant.export.bytes': bytes }, link.api.SpanKind.CLIENT);
  }

  retry(result: ExportResult, attempt: number, delayMs: number): void {
    this.#span.addEvent('retry', {
      'sextant.export.attempt': attempt,
      'sextant.export.delay_ms': delayMs,
      'http.response.status_code': result.status,
      'sextant.export.reason': reasonOf(result),
    });
  }

  end(result: ExportResult, attempts: number): void {
    const s = this.#span;
    s.setAttribute('sextant.export.attempts', attempts);
    s.setAttribute('sextant.export.result', result.kind);
    // 0: no HTTP answer (network error, timeout, abort).
    s.setAttribute('http.response.status_code', result.status);
    if (result.kind === 'success') {
      if (result.rejected > 0) s.setAttribute('sextant.export.rejected', result.rejected);
    } else {
      this.#link.fail(s, reasonOf(result));
    }
    s.end();
  }
}

function reasonOf(result: ExportResult): string {
  return result.kind === 'success' ? result.message : result.reason;
}
