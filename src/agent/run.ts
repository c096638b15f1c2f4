import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { SextantConfig } from '../config/schema.js';
import { MODE_SWITCHES } from '../config/modes.js';
import { Secret } from '../config-kinds/secret.js';
import { HostIdentity } from '../enrich/host-identity.js';
import { ConfigError } from '../errors.js';
import { DeltaConverter, HttpTransport, RetryingTransport } from '../export/index.js';
import { otlpCodecs } from '../export/otlp-codecs.js';
import type { Transport } from '../export/types.js';
import type { Gateway } from '../gateway/index.js';
import { nowUnixNano } from '../model/index.js';
import { createPipeline, type Pipeline, type PipelineConfig } from '../pipeline/index.js';
import { DiskSpool } from '../pipeline/spool/disk-spool.js';
import { createLogger, type Logger } from '../self/logger.js';
import { Registry } from '../self/registry.js';
import { Readiness, registerProcessMetrics, startSelfServer } from '../self/server.js';
import { agentStatus } from '../self/agent-status.js';
import { startSelfTraces, type SelfTraces } from '../self/tracing/self-traces.js';
import { untilStopSignal } from '../self/stop-signal.js';
import { loadProcReader, type ProcReader } from '../native/index.js';
import type { ContainerProvides } from '../sources/container/index.js';
import type { HostProvides } from '../sources/host/index.js';
import type { ReceivedSink } from '../receiver/index.js';
import type { KubernetesMetadata } from '../enrich/k8s/index.js';
import type { CreatedSource, RecordSink, Source, SourceDeps } from '../sources/types.js';
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
      traces: { ...c.pipeline.traces },
    },
    batches: {
      // The real encoded size gets the Dynatrace ceiling, the estimate-based cap the configured one.
      metrics: batch(c.batch.metrics, Math.max(c.batch.metrics.maxBytes, 4_000_000)),
      logs: batch(c.batch.logs, Math.max(c.batch.logs.maxBytes, 2_000_000)),
      events: batch(c.batch.events, Math.max(c.batch.events.maxBytes, 2_000_000)),
      traces: batch(c.batch.traces, Math.max(c.batch.traces.maxBytes, 2_000_000)),
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
  readonly spool: DiskSpool | undefined;
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
  // Listening for SIGTERM before anything says "agent started": a supervisor (or a test) that
  // signals on that line must reach a handler, not the default action that kills the process
  // unflushed. A signal during start stops the agent as soon as it has started.
  const stopSignal = options.once ? undefined : untilStopSignal(logger);
  const running = await start(config, options, logger);
  if (stopSignal === undefined) {
    await running.scheduler.runOnce();
    return stop(running, config, 'once');
  }
  running.scheduler.start();
  // Streaming sources (logs) run between cycles; --once above is one collection cycle only.
  for (const s of running.sources) s.start?.(running.scheduler.sinkFor(s));
  const signal = await stopSignal;
  return stop(running, config, signal);
}

/**
 * A config that switches every source and the receiver off has nothing to run: say so and exit
 * 2, rather than idle and look healthy.
 */
export function checkSomethingToRun(config: SextantConfig): void {
  if (SOURCES.some((r) => r.enabled(config))) return;
  const all = `${MODE_SWITCHES.slice(0, -1).join(', ')} and ${MODE_SWITCHES.at(-1)}`;
  throw new ConfigError('mode', `is ${config.mode}, but ${all} are all false: there is nothing to collect`);
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
    if (gateway.explorerUrl !== undefined) logger.info({ explorer: gateway.explorerUrl }, `explorer: open ${gateway.explorerUrl} in a browser (no token needed from this machine)`);
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
  const reachability = new ReadinessTransport(http, readiness);
  const transport = new RetryingTransport(
    reachability,
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
  // The disk spool: not for --once (one cycle that must reach the endpoint, or fail).
  const spool =
    config.buffer.disk.maxBytes > 0 && !options.once
      ? await DiskSpool.open({ dir: path.join(config.stateDir, 'spool'), maxBytes: config.buffer.disk.maxBytes, syncIntervalMs: config.buffer.disk.syncInterval, logger, registry })
      : undefined;
  pipeline = createPipeline(pipelineConfigFrom(config), {
    transport,
    codecs: otlpCodecs(config.temporality, deltas),
    registry,
    logger,
    exportTimeoutMs: config.export.timeout,
    spool,
  });
  pipeline.start();

  const { sources, identity, kubernetes } = await createSources(config, pipeline, { registry, logger, version, received: pipeline });
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
  // An agent with no collecting source (application mode: the receiver alone) exports nothing
  // until an application sends, so /readyz would never turn ready and a DaemonSet rollout would
  // stall on it: ask the endpoint with an empty traces request (a valid OTLP request) until it
  // answers at all. Not through the retrying transport: a retry there holds back every batch.
  const probeTimer = !options.once && !sources.some((s) => s.collect !== undefined) ? probeEndpoint(reachability, readiness, config.export.timeout) : undefined;

  const self = await startSelfServer(config.listen, { registry, readiness, logger, status: agentStatus(sources) });
  logger.info(
    { version, endpoint: options.local ? 'local gateway' : endpoint, interval: config.interval, self: self.url, temporality: config.temporality, sources: sources.map((s) => s.name) },
    'agent started',
  );

  let summaryTimer: NodeJS.Timeout | undefined;
  if (config.summaryInterval > 0 && !options.once && (options.local || process.stdout.isTTY)) {
    const summary = new SummaryLine(registry, { collectionIntervalMs: config.interval, printIntervalMs: config.summaryInterval });
    summaryTimer = setInterval(() => process.stdout.write(`sextant: ${summary.render()}\n`), config.summaryInterval);
    summaryTimer.unref();
  }
  return { logger, registry, pipeline, transport, scheduler, sources, deltas, deltaHorizonMs, countersFile, gateway, closeSelf: () => self.close(), timers: [summaryTimer, forgetTimer, probeTimer], selfTraces, kubernetes, spool };
}

/** How often a receiver-only agent asks an endpoint that has not answered yet. */
const PROBE_INTERVAL_MS = 10_000;
const EMPTY_REQUEST = new Uint8Array(0);

function probeEndpoint(reachability: Transport, readiness: Readiness, timeoutMs: number): NodeJS.Timeout {
  let busy = false;
  const probe = (): void => {
    if (readiness.ready || busy) return;
    busy = true;
    reachability.send('traces', EMPTY_REQUEST, { timeoutMs }).finally(() => (busy = false));
  };
  probe();
  return setInterval(probe, PROBE_INTERVAL_MS).unref();
}

/**
 * What rows provide the rows below them (`CreatedSource.provides`), gathered as they are built;
 * the agent itself provides what is its own (the pipeline's receiver rings, the addon switch,
 * whether the host's files are there to read).
 */
type Provided = Partial<HostProvides & ContainerProvides & { received: ReceivedSink; native: boolean; hostAccess: boolean }>;

/**
 * One source: its config section (whose `enabled` is its switch), its folder's `index.ts` loaded
 * only when the source is built, and the wiring of its `create`: the section, the agent's deps
 * and what it needs from the rows above it.
 */
interface SourceRow<Section extends { readonly enabled: boolean }, Module> {
  /** The source's name (its folder's): the row's label. */
  readonly name: string;
  readonly section: (config: SextantConfig) => Section;
  /** Why it is built even when switched off (it then runs no cycle). */
  readonly builtWhenOff?: string;
  readonly load: () => Promise<Module>;
  readonly create: (module: Module, section: Section, deps: SourceDeps, provided: Provided) => Promise<CreatedSource<Source, Provided>>;
}

/** A row with its section and module types closed over: what `createSources` walks. */
interface TableRow {
  readonly enabled: (config: SextantConfig) => boolean;
  readonly builtWhenOff: string | undefined;
  build(config: SextantConfig, deps: SourceDeps, provided: Provided): Promise<CreatedSource<Source, Provided>>;
}

function row<Section extends { readonly enabled: boolean }, Module>(r: SourceRow<Section, Module>): TableRow {
  return {
    enabled: (config) => r.section(config).enabled,
    builtWhenOff: r.builtWhenOff,
    build: async (config, deps, provided) => r.create(await r.load(), r.section(config), deps, provided),
  };
}

/** What a row needs from a row above it: a table put out of order fails at start, not with wrong data. */
function required<K extends keyof Provided>(provided: Provided, key: K): NonNullable<Provided[K]> {
  const value = provided[key];
  if (value === undefined) throw new Error(`no source above this one in SOURCES provides ${key}`);
  return value;
}

/**
 * The agent's sources, built in this order (a source that provides comes before those that need
 * it). Each is imported only when built: a host-mode agent does not load the container or log code.
 */
const SOURCES: readonly TableRow[] = [
  row({
    name: 'host',
    section: (c) => c.host,
    builtWhenOff: 'it pins the boot time processes date from, and checks for a reboot before the first cycle',
    load: () => import('../sources/host/index.js'),
    create: (m, section, deps) => m.create(section, deps),
  }),
  row({
    name: 'process',
    section: (c) => c.process,
    load: () => import('../sources/process/index.js'),
    create: (m, section, deps, provided) => m.create(section, { ...deps, bootTimeUnixNano: required(provided, 'bootTimeUnixNano') }),
  }),
  row({
    name: 'container',
    section: (c) => c.containers,
    load: () => import('../sources/container/index.js'),
    create: (m, section, deps) => m.create(section, deps),
  }),
  row({
    name: 'logs',
    section: (c) => c.logs,
    load: () => import('../sources/logs/index.js'),
    create: (m, section, deps, provided) => m.create(section, { ...deps, containerMetadata: provided.containerMetadata, native: provided.native }),
  }),
  row({
    name: 'receiver',
    section: (c) => c.receiver,
    load: () => import('../receiver/index.js'),
    create: (m, section, deps, provided) => m.create(section, { ...deps, received: required(provided, 'received'), native: required(provided, 'native'), hostAccess: required(provided, 'hostAccess') }),
  }),
];

/**
 * The enabled sources, from SOURCES. The host identity is read first; the slower static
 * inventory (systeminformation) joins the resource when it arrives, and SIGHUP reads both again:
 * each change reaches every source built. Sources of pod records get the Kubernetes metadata.
 */
export async function createSources(
  config: SextantConfig,
  sink: RecordSink,
  deps: { registry: Registry; logger: Logger; version: string; received?: ReceivedSink },
): Promise<{ sources: Source[]; identity: HostIdentity; reader: ProcReader; kubernetes: KubernetesMetadata | undefined }> {
  const identity = await HostIdentity.create(config.hostRoot);
  // Every source builds its resources on the host resource, and the process source builds them
  // once per process: wait for the static inventory (~50 ms measured) so all series name the host
  // alike from the first cycle. Past the deadline, onChange below rebases every source on it.
  await Promise.race([identity.inventory(), new Promise((resolve) => setTimeout(resolve, INVENTORY_WAIT_MS).unref())]);
  // One reader (native addon or JS fallback, chosen once) for the host files and the processes.
  const reader = loadProcReader({ native: config.native, logger: deps.logger });
  const hostName = identity.resource.attributes['host.name'];
  const nodeName = config.nodeName !== '' ? config.nodeName : typeof hostName === 'string' ? hostName : undefined;
  const sourceDeps: SourceDeps = {
    hostRoot: config.hostRoot,
    stateDir: config.stateDir,
    nodeName,
    resource: identity.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    reader,
    sink,
  };
  const built: CreatedSource[] = [];
  const sources: Source[] = [];
  // application mode runs with no host paths mounted: its host resource would describe the pod.
  const provided: Provided = { native: config.native, hostAccess: config.mode !== 'application', ...(deps.received === undefined ? {} : { received: deps.received }) };
  for (const r of SOURCES) {
    const enabled = r.enabled(config);
    if (!enabled && r.builtWhenOff === undefined) continue;
    const created = await r.build(config, sourceDeps, provided);
    Object.assign(provided, created.provides);
    built.push(created);
    if (enabled) sources.push(created.source);
  }
  // Pod metadata from the Kubernetes API, for the records of pods (containers, logs, events).
  let kubernetes: KubernetesMetadata | undefined;
  const podSources = built.filter((c) => c.setPodMetadata !== undefined);
  if (podSources.length > 0) {
    const { createKubernetesMetadata } = await import('../enrich/k8s/kubernetes-metadata.js');
    kubernetes = createKubernetesMetadata(config.kubernetes, { logger: deps.logger, registry: deps.registry, version: deps.version, nodeName });
    const index = kubernetes.index;
    if (index !== undefined) for (const c of podSources) c.setPodMetadata?.(index);
    kubernetes.start();
  }
  identity.onChange((resource) => {
    for (const c of built) c.setHostResource(resource);
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
  // Closing syncs the disk spool: what it took is on disk, and its acks are settled.
  await r.pipeline.close();
  // After the flush: log checkpoints now hold every ack the endpoint gave (or the spool took), and no discard.
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
  const spooled = r.spool?.undeliveredBatches ?? 0;
  if (result.flushed && spooled > 0) r.logger.info({ spooledBatches: spooled }, 'stopped: everything queued was exported or is in the disk spool');
  else if (result.flushed) r.logger.info('stopped: everything queued was exported');
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
