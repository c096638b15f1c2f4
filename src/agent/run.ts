import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { SextantConfig } from '../config/schema.js';
import { wantsApplicationReceiver } from '../config/modes.js';
import { Secret } from '../config-kinds/secret.js';
import { HostIdentity } from '../enrich/host-identity.js';
import { ConfigError } from '../errors.js';
import { DeltaConverter, HttpTransport, RetryingTransport } from '../export/index.js';
import { otlpCodecs } from '../export/otlp-codecs.js';
import type { Transport } from '../export/types.js';
import type { Gateway } from '../gateway/index.js';
import { nowUnixNano } from '../model/index.js';
import { createPipeline, type Pipeline, type PipelineConfig } from '../pipeline/index.js';
import { createLogger, type Logger } from '../self/logger.js';
import { Registry } from '../self/registry.js';
import { Readiness, registerProcessMetrics, startSelfServer } from '../self/server.js';
import { agentStatus } from '../self/agent-status.js';
import { startSelfTraces, type SelfTraces } from '../self/tracing/self-traces.js';
import { untilStopSignal } from '../self/stop-signal.js';
import { clockTicks, loadProcReader, pageSize, type ProcReader } from '../native/index.js';
import { create as createHostSource } from '../sources/host/index.js';
import { create as createProcessSource } from '../sources/process/index.js';
import type { ContainerMetadataCache, ContainerSource } from '../sources/container/index.js';
import type { LogSource } from '../sources/logs/log-source.js';
import type { KubernetesMetadata } from '../enrich/k8s/index.js';
import type { RecordSink, Source } from '../sources/types.js';
import { packageVersion } from '../version.js';
import { ReadinessTransport } from '../export/readiness-transport.js';
import { CollectionScheduler } from './scheduler.js';
import { writeFileAtomic } from '../io/state-file.js';
import { SummaryLine } from './summary.js';

export interface RunAgentOptions {
  readonly once: boolean;
  readonly local: boolean;
  readonly loaded?: LoadedConfig;
}

/** Longest the agent waits at start for the host inventory (systeminformation) before collecting. */
const INVENTORY_WAIT_MS = 2_000;

/**
 * A counter series not seen for this many intervals (at least DELTA_HORIZON_MIN_MS) is forgotten
 * by the delta converter: top-N processes, containers and veths churn, and without eviction the
 * converter's memory and counters.json grow for ever. A series that comes back after that starts
 * from a new baseline.
 */
const DELTA_HORIZON_INTERVALS = 30;
const DELTA_HORIZON_MIN_MS = 5 * 60_000;

/** Last-seen cumulative counters, so deltas continue across agent restarts without a gap. */
const COUNTERS_FILE = 'counters.json';

export function pipelineConfigFrom(c: SextantConfig): PipelineConfig {
  const batch = (b: SextantConfig['batch']['metrics'], maxRequestBytes: number) => ({
    maxItems: b.maxItems,
    maxBytes: b.maxBytes,
    lingerMs: b.linger,
    maxRequestBytes,
  });
  return {
    queues: {
      metrics: { ...c.pipeline.metrics },
      logs: { ...c.pipeline.logs },
      events: { ...c.pipeline.events },
      // Metrics and events share the metrics budget: an event can always evict metrics.
      sharedMetricsEventsBytes: c.pipeline.metrics.maxBytes,
    },
    batches: {
      // The real encoded size gets the Dynatrace ceiling, the estimate-based cap the configured one.
      metrics: batch(c.batch.metrics, Math.max(c.batch.metrics.maxBytes, 4_000_000)),
      logs: batch(c.batch.logs, Math.max(c.batch.logs.maxBytes, 2_000_000)),
      events: batch(c.batch.events, Math.max(c.batch.events.maxBytes, 2_000_000)),
    },
    maxInFlight: c.export.maxInFlight,
  };
}

interface Running {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly pipeline: Pipeline;
  readonly transport: Transport;
  readonly scheduler: CollectionScheduler;
  readonly sources: readonly Source[];
  readonly deltas: DeltaConverter | undefined;
  readonly countersFile: string;
  readonly gateway: Gateway | undefined;
  readonly closeSelf: () => Promise<void>;
  readonly deltaHorizonMs: number;
  readonly timers: readonly (NodeJS.Timeout | undefined)[];
  readonly selfTraces: SelfTraces | undefined;
  readonly kubernetes: KubernetesMetadata | undefined;
}

/**
 * `sextant agent`: collect, pipeline, export. Resolves to the process exit status once the
 * agent has stopped (SIGTERM/SIGINT, or after one cycle with `--once`).
 */
export async function runAgent(config: SextantConfig, options: RunAgentOptions): Promise<number> {
  const logger = createLogger(config.logLevel);
  for (const w of options.loaded?.warnings ?? []) {
    // A plain agent runs no gateway: its gateway.* warnings are about a process not started here.
    if (options.local || !w.key.startsWith('gateway.')) logger.warn({ key: w.key }, w.message);
  }
  if (!options.local && config.endpoint === undefined) {
    throw new ConfigError('endpoint', 'is required (set SEXTANT_ENDPOINT, or run with --local for the in-process gateway)');
  }
  checkSomethingToRun(config);
  if (wantsApplicationReceiver(config.mode)) {
    logger.warn({ mode: config.mode }, 'the application receiver (OTLP from applications) is not built yet; collecting the node sources only');
  }
  const running = await start(config, options, logger);
  if (options.once) {
    await running.scheduler.runOnce();
    return stop(running, config, 'once');
  }
  running.scheduler.start();
  // Streaming sources (logs) run between cycles; --once above is one collection cycle only.
  for (const s of running.sources) s.start?.(running.scheduler.sinkFor(s));
  const signal = await untilStopSignal(logger);
  return stop(running, config, signal);
}

/**
 * `application` mode (and any config that switches every node source off) has nothing to run
 * until the application receiver exists: say so and exit 2, rather than idle and look healthy.
 */
export function checkSomethingToRun(config: SextantConfig): void {
  if (config.host.enabled || config.process.enabled || config.containers.enabled || config.logs.enabled) return;
  if (config.mode === 'application') {
    throw new ConfigError(
      'mode',
      'is application: the application receiver (OTLP from applications) is not built yet and this mode switches every node source off, so there is nothing to run; use fullstack, cloudnative or host, or switch a source on (host.enabled, process.enabled, containers.enabled, logs.enabled)',
    );
  }
  throw new ConfigError('mode', `is ${config.mode}, but host.enabled, process.enabled, containers.enabled and logs.enabled are all false: there is nothing to collect`);
}

async function start(config: SextantConfig, options: RunAgentOptions, logger: Logger): Promise<Running> {
  const version = packageVersion();
  const registry = new Registry();
  registerProcessMetrics(registry);
  const readiness = new Readiness();
  // Off unless selfTraces.endpoint is set; only then is the OpenTelemetry SDK imported.
  const selfTraces =
    config.selfTraces.endpoint === undefined
      ? undefined
      : await startSelfTraces({ endpoint: config.selfTraces.endpoint, apiToken: config.apiToken, serviceName: 'sextant-agent', version, logger });

  let gateway: Gateway | undefined;
  let endpoint = config.endpoint;
  let apiToken = config.apiToken;
  if (options.local) {
    // Loaded only here: the gateway's protobuf decoder costs a node agent memory it never uses.
    const { startGateway } = await import('../gateway/index.js');
    const { gatewayConfigFrom } = await import('../gateway/from-config.js');
    const token = new Secret(randomBytes(24).toString('base64url'), 'generated for --local');
    const local = gatewayConfigFrom(config);
    // The query API answers this machine's own requests without a token: a local run to look at.
    const api = local.api === undefined ? undefined : { ...local.api, readOpenOnLoopback: true };
    gateway = await startGateway({ ...local, tokens: [token], api }, { registry, logger: logger.child({ component: 'gateway' }) });
    if (endpoint !== undefined) logger.warn({ endpoint }, 'endpoint is ignored with --local; set gateway.upstream to forward from the local gateway');
    endpoint = gateway.url;
    apiToken = token;
    logger.info({ gateway: gateway.url, dataDir: path.resolve(config.gateway.dataDir), queryApi: local.database === false ? null : `${gateway.url}/api/v1/openapi.json` }, 'local gateway started');
  }

  const http = new HttpTransport({
    endpoint: endpoint!,
    headers: config.headers,
    apiToken,
    compression: config.compression,
    caFile: config.tls.caFile,
    insecureSkipVerify: config.tls.insecureSkipVerify,
    proxy: config.proxy,
    userAgent: `sextant/${version}`,
    logger,
  });
  let pipeline: Pipeline | undefined;
  const transport = new RetryingTransport(
    new ReadinessTransport(http, readiness),
    {
      initialBackoffMs: config.export.retryInitialBackoff,
      maxBackoffMs: config.export.retryMaxBackoff,
      multiplier: 2,
      maxElapsedMs: config.export.retryMaxElapsed,
    },
    { onRetry: (signal, _result, _attempt, _delay, sendOptions) => pipeline?.noteRetry(signal, sendOptions), observer: selfTraces?.exports },
  );

  const countersFile = path.join(config.stateDir, COUNTERS_FILE);
  const deltas = config.temporality === 'delta' ? await loadDeltas(countersFile, logger) : undefined;
  const deltaHorizonMs = Math.max(config.interval * DELTA_HORIZON_INTERVALS, DELTA_HORIZON_MIN_MS);
  const forgetTimer = deltas ? setInterval(() => forgetStale(deltas, deltaHorizonMs), deltaHorizonMs / 3).unref() : undefined;
  pipeline = createPipeline(pipelineConfigFrom(config), {
    transport,
    codecs: otlpCodecs(config.temporality, deltas),
    registry,
    logger,
    exportTimeoutMs: config.export.timeout,
  });
  pipeline.start();

  const { sources, identity, kubernetes } = await createSources(config, pipeline, { registry, logger, version });
  if (kubernetes !== undefined) {
    readiness.addDetail('kubernetes metadata', () => {
      const k = kubernetes.status();
      return `${k.state}${k.detail ? ` (${k.detail})` : ''}, ${k.pods} pods, ${k.namespaces} namespaces`;
    });
  }
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reading the host identity and inventory again');
    identity.reload().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'host identity reload failed'));
  });
  const scheduler = new CollectionScheduler(sources, pipeline, config.interval, { registry, logger, tracer: selfTraces?.cycles });

  const self = await startSelfServer(config.listen, { registry, readiness, logger, status: agentStatus(sources) });
  logger.info(
    { version, endpoint: options.local ? 'local gateway' : endpoint, interval: config.interval, self: self.url, temporality: config.temporality, sources: sources.map((s) => s.name) },
    'agent started',
  );

  let summaryTimer: NodeJS.Timeout | undefined;
  if (config.summaryInterval > 0 && !options.once && (options.local || process.stdout.isTTY)) {
    const summary = new SummaryLine(registry);
    summaryTimer = setInterval(() => process.stdout.write(`sextant: ${summary.render()}\n`), config.summaryInterval);
    summaryTimer.unref();
  }
  return { logger, registry, pipeline, transport, scheduler, sources, deltas, deltaHorizonMs, countersFile, gateway, closeSelf: () => self.close(), timers: [summaryTimer, forgetTimer], selfTraces, kubernetes };
}

/**
 * The node sources of this milestone: host and processes. The host identity is read before the
 * first cycle; the slower static inventory (systeminformation) joins the resource when it
 * arrives, and SIGHUP reads both again.
 */
export async function createSources(
  config: SextantConfig,
  sink: RecordSink,
  deps: { registry: Registry; logger: Logger; version: string },
): Promise<{ sources: Source[]; identity: HostIdentity; reader: ProcReader; kubernetes: KubernetesMetadata | undefined }> {
  const identity = await HostIdentity.create(config.hostRoot);
  // Every source builds its resources on the host resource, and the process source builds them
  // once per process: wait for the static inventory (~50 ms measured) so all series name the host
  // alike from the first cycle. Past the deadline, onChange below rebases every source on it.
  await Promise.race([identity.inventory(), new Promise((resolve) => setTimeout(resolve, INVENTORY_WAIT_MS).unref())]);
  const h = config.host;
  // One reader (native addon or JS fallback, chosen once) for the host files and the processes.
  const reader = loadProcReader({ native: config.native, logger: deps.logger });
  const host = createHostSource(
    {
      hostRoot: config.hostRoot,
      perCpu: h.perCpu,
      disk: { ...h.disk },
      filesystem: { excludeFsTypes: h.filesystem.excludeFsTypes, excludeMountPoints: h.filesystem.excludeMountPoints, statfsTimeoutMs: h.filesystem.statfsTimeout, maxHungStatfs: h.filesystem.maxHungStatfs },
      network: { ...h.network },
    },
    { resource: identity.resource, registry: deps.registry, logger: deps.logger, version: deps.version, reader },
  );
  // Also pins the boot time the process source dates process starts from.
  await host.detectReboot(config.stateDir, sink);

  const processes = createProcessSource(config.process, {
    reader,
    hostRoot: config.hostRoot,
    resource: identity.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    clockTicks: clockTicks(),
    pageSize: pageSize(),
    bootTimeUnixNano: () => host.bootTimeUnixNano,
  });
  // The host source is built even when switched off: it pins the boot time processes date from.
  const sources: Source[] = [];
  if (config.host.enabled) sources.push(host);
  if (config.process.enabled) sources.push(processes);
  let containers: ContainerSource | undefined;
  let cache: ContainerMetadataCache | undefined;
  const hostName = identity.resource.attributes['host.name'];
  const nodeName = config.nodeName !== '' ? config.nodeName : typeof hostName === 'string' ? hostName : undefined;
  if (config.containers.enabled) {
    const c = config.containers;
    // Loaded only when on: a host-mode agent does not pay for the container and log code.
    const { createContainerSource } = await import('../sources/container/index.js');
    ({ source: containers, cache } = await createContainerSource(
      {
        hostRoot: config.hostRoot,
        dockerSockets: c.dockerSockets,
        criSockets: c.criSockets,
        callTimeoutMs: c.callTimeout,
        resyncIntervalMs: c.resyncInterval,
        nodeName,
      },
      { resource: identity.resource, registry: deps.registry, logger: deps.logger, version: deps.version, sink },
    ));
    sources.push(containers);
  }
  let logs: LogSource | undefined;
  if (config.logs.enabled) {
    const l = config.logs;
    const { LogSource } = await import('../sources/logs/log-source.js');
    logs = new LogSource(
      {
        hostRoot: config.hostRoot,
        stateDir: config.stateDir,
        readFrom: l.readFrom,
        maxRecordBytes: l.maxRecordBytes,
        rescanIntervalMs: l.rescanInterval,
        checkpointIntervalMs: l.checkpointInterval,
        globs: l.globs,
        multilineStart: l.multilineStart,
        multilineContainers: l.multilineContainers,
        ...(nodeName === undefined ? {} : { nodeName }),
      },
      { resource: identity.resource, registry: deps.registry, logger: deps.logger, version: deps.version, ...(cache ? { cache } : {}) },
    );
    sources.push(logs);
  }
  // Pod metadata from the Kubernetes API, for the records of pods (containers, logs, events).
  let kubernetes: KubernetesMetadata | undefined;
  if (containers !== undefined || logs !== undefined) {
    const { createKubernetesMetadata } = await import('../enrich/k8s/kubernetes-metadata.js');
    kubernetes = createKubernetesMetadata(config.kubernetes, { logger: deps.logger, registry: deps.registry, version: deps.version, nodeName });
    if (kubernetes.index !== undefined) {
      containers?.setPodMetadata(kubernetes.index);
      logs?.setPodMetadata(kubernetes.index);
    }
    kubernetes.start();
  }
  identity.onChange((r) => {
    host.setResource(r);
    processes.setHostResource(r);
    containers?.setHostResource(r);
    logs?.setHostResource(r);
  });
  return { sources, identity, reader, kubernetes };
}

async function stop(r: Running, config: SextantConfig, why: string): Promise<number> {
  r.logger.info({ reason: why, deadlineMs: config.shutdownTimeout }, 'stopping: flushing queued records');
  // The cycle running now (a slow statfs, say) may finish within half the deadline, so what it
  // collects is flushed too rather than offered after the flush; the rest of the time flushes.
  const t0 = Date.now();
  await r.scheduler.stop(config.shutdownTimeout / 2);
  for (const t of r.timers) if (t) clearInterval(t);
  await Promise.all(r.sources.map((s) => s.stop()));
  await r.kubernetes?.stop();
  const result = await r.pipeline.flush(Math.max(0, config.shutdownTimeout - (Date.now() - t0)));
  r.pipeline.stop();
  // After the flush: log checkpoints now hold every ack the endpoint gave, and no discard.
  await Promise.all(r.sources.map((s) => s.afterFlush?.()));
  await r.transport.close();
  // After the last export request, so its span goes out too.
  await r.selfTraces?.shutdown(Math.max(1000, config.shutdownTimeout - (Date.now() - t0)));
  if (r.deltas) {
    forgetStale(r.deltas, r.deltaHorizonMs);
    await saveDeltas(r.deltas, r.countersFile, r.logger);
  }
  if (r.gateway) await r.gateway.close();
  await r.closeSelf();
  if (result.flushed) r.logger.info('stopped: everything queued was exported');
  else r.logger.warn({ pending: result.pending }, 'stopped: flush deadline passed with records still pending');
  if (why !== 'once') return 0;
  // --once is a check that the endpoint takes our data: anything undelivered fails it.
  const dropped = r.registry.counter('sextant_pipeline_dropped_total', '').sum();
  const exported = r.registry.counter('sextant_export_records_total', '').sum();
  if (!result.flushed || dropped > 0 || exported === 0) {
    r.logger.error({ exported, dropped, pending: result.pending }, 'one collection cycle was not delivered in full');
    return 1;
  }
  return 0;
}

function forgetStale(deltas: DeltaConverter, horizonMs: number): void {
  deltas.forget(nowUnixNano() - BigInt(horizonMs) * 1_000_000n);
}

async function loadDeltas(file: string, logger: Logger): Promise<DeltaConverter> {
  const deltas = new DeltaConverter();
  try {
    deltas.restore(JSON.parse(await readFile(file, 'utf8')) as object);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') logger.warn({ file, err: (err as Error).message }, 'ignoring unreadable counter state; deltas restart from a new baseline');
  }
  return deltas;
}

async function saveDeltas(deltas: DeltaConverter, file: string, logger: Logger): Promise<void> {
  try {
    await writeFileAtomic(file, JSON.stringify(deltas.snapshot()));
  } catch (err) {
    logger.warn({ file, err: (err as Error).message }, 'cannot save counter state; the next start begins deltas from a new baseline');
  }
}
