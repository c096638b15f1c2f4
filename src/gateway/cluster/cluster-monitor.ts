import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { KubeApiClient } from '../../enrich/k8s/api-client.js';
import { ApiHealth } from '../../enrich/k8s/api-health.js';
import { API_TUNING_DEFAULTS, apiEndpoint, SERVICE_ACCOUNT_DIR, type ApiTuning, type KubernetesConfig } from '../../enrich/k8s/kubernetes-metadata.js';
import { CompiledRules } from '../../enrich/k8s/pod-attributes.js';
import { Reflector } from '../../enrich/k8s/reflector.js';
import { TokenSource } from '../../enrich/k8s/token-source.js';
import { createScope, nowUnixNano } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import type { ClusterSection } from './config.js';
import { convertEvent, resourceVersionOrder, type ClusterEvent } from './event.js';
import { EventCheckpoint, LEASE_ANNOTATION } from './event-checkpoint.js';
import { EventShipper } from './event-shipper.js';
import { StringTable } from './kinds/json-fields.js';
import { KINDS } from './kinds/index.js';
import type { ClusterObject, ConvertContext, KindSpec } from './kinds/kind.js';
import { LeaseElector, type LeaseRecord } from './lease-elector.js';
import { MetricInterval } from './metric-interval.js';
import { type ClusterGraph, ObjectGraph } from './object-graph.js';
import type { ClusterOutput } from './output.js';
import { ResourceBuilder } from './resources.js';
import { ClusterSelfMetrics } from './self-metrics.js';

/**
 * The gateway's cluster monitor: list + watch of every kind in kinds/ and of events.k8s.io
 * Events (src/enrich/k8s/: client, reflector with bookmarks, 410 re-lists, paging, backoff),
 * into the object graph; each interval the graph's metrics, and each event as it comes, handed
 * to the output as OTLP. Only while this replica holds the Lease (lease-elector.ts): losing it
 * stops delivery at once and drops the graph; the next leader lists everything again.
 *
 * Never throws after construction and never loops on errors: an API that is unreachable or
 * forbids a kind is retried with backoff, one warning when it starts and a `/readyz` detail.
 */

export interface ClusterMonitorConfig {
  readonly cluster: ClusterSection;
  readonly kubernetes: KubernetesConfig;
}

/** Timings and bounds; production defaults, tests shorten them. */
export interface ClusterTuning extends ApiTuning {
  readonly eventBatchSize: number;
  readonly maxQueuedEvents: number;
  readonly maxPointsPerRequest: number;
  /** Longest a term's first events wait for every kind to be listed (their resources come from those lists). */
  readonly eventListWaitMs: number;
}

const DEFAULT_TUNING: ClusterTuning = {
  ...API_TUNING_DEFAULTS,
  eventBatchSize: 500,
  maxQueuedEvents: 100_000,
  maxPointsPerRequest: 10_000,
  eventListWaitMs: 10_000,
};

export const LEASE_NAME = 'sextant-gateway-cluster-monitor';

export interface ClusterMonitorDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: string;
  readonly output: ClusterOutput;
  /** The gateway's data directory: the events checkpoint is `<dataDir>/state/cluster-events.json`. */
  readonly dataDir: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly serviceAccountDir?: string;
  readonly tuning?: Partial<ClusterTuning>;
  /** This replica's name in the Lease (default: host name + a random suffix, unique per process). */
  readonly identity?: string;
}

export interface ClusterStatus {
  /** off: not configured; unavailable: no usable API; standby: another replica monitors; leading. */
  readonly state: 'off' | 'unavailable' | 'standby' | 'leading';
  readonly detail: string;
  readonly identity: string;
  readonly holder: string;
}

export interface ClusterMonitor {
  /** The object graph (empty unless this replica leads). */
  readonly graph: ClusterGraph;
  start(): void;
  stop(): Promise<void>;
  status(): ClusterStatus;
  /** One metric interval now (tests, benchmarks); resolves with its point count. */
  runInterval(): Promise<number>;
}

const EVENTS_RESOURCE = 'events';
const EVENTS_PATH = '/apis/events.k8s.io/v1/events';

export function createClusterMonitor(config: ClusterMonitorConfig, deps: ClusterMonitorDeps): ClusterMonitor {
  const logger = deps.logger.child({ component: 'cluster' });
  const c = config.cluster;
  if (c.enabled === 'false') return off('off', 'off (cluster.enabled=false)');
  const env = deps.env ?? process.env;
  const saDir = deps.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const ep = apiEndpoint(config.kubernetes, env, saDir);
  if (ep === undefined) {
    if (c.enabled === 'true') {
      const detail = 'cluster.enabled=true, but there is no Kubernetes API: not in a pod (KUBERNETES_SERVICE_HOST is not set) and kubernetes.apiServer is not set';
      logger.warn(`cluster monitoring off: ${detail}`);
      return off('unavailable', detail);
    }
    logger.info('cluster monitoring off: not in a Kubernetes cluster (cluster.enabled=auto)');
    return off('off', 'off: not in a Kubernetes cluster (cluster.enabled=auto)');
  }
  let ca: string | undefined;
  let problem: string | undefined;
  if (ep.caFile !== undefined) {
    try {
      ca = readFileSync(ep.caFile, 'utf8');
    } catch {
      problem = 'the Kubernetes API CA certificate cannot be read (kubernetes.caFile, or the service account’s ca.crt: is the token mounted?)';
    }
  }
  let namespace = c.leaseNamespace;
  if (namespace.length === 0) {
    try {
      namespace = readFileSync(path.join(saDir, 'namespace'), 'utf8').trim();
    } catch {
      problem ??= 'no namespace for the Lease: set cluster.leaseNamespace (outside a pod there is no service account namespace)';
    }
  }
  if (problem !== undefined) {
    logger.warn({ server: ep.server }, `cluster monitoring off: ${problem}`);
    return off('unavailable', problem);
  }
  try {
    return new Monitor(c, config.kubernetes, deps, logger, ep.server, ca, ep.tokenFile, namespace);
  } catch (err) {
    // An API address the client cannot use (a malformed KUBERNETES_SERVICE_HOST): the gateway serves on.
    const detail = `cannot reach the Kubernetes API: ${(err as Error).message}`;
    logger.warn({ server: ep.server }, `cluster monitoring off: ${detail}`);
    return off('unavailable', detail);
  }
}

function off(state: 'off' | 'unavailable', detail: string): ClusterMonitor {
  const graph = new ObjectGraph([]);
  const status: ClusterStatus = Object.freeze({ state, detail, identity: '', holder: '' });
  return { graph, start() {}, async stop() {}, status: () => status, runInterval: async () => 0 };
}

class Monitor implements ClusterMonitor {
  readonly graph: ObjectGraph;
  readonly #c: ClusterSection;
  readonly #t: ClusterTuning;
  readonly #logger: Logger;
  readonly #metrics: ClusterSelfMetrics;
  readonly #watchClient: KubeApiClient;
  readonly #leaseClient: KubeApiClient;
  readonly #health: ApiHealth;
  readonly #elector: LeaseElector;
  readonly #checkpoint: EventCheckpoint;
  readonly #shipper: EventShipper;
  readonly #interval: MetricInterval;
  readonly #ctx: ConvertContext;
  readonly #identity: string;
  #reflectors: Reflector<unknown>[] = [];
  #stopping: Promise<void>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #intervalRunning: Promise<number> | undefined;
  /** Moves on every change of leadership; async work of an old term checks it and stands down. */
  #term = 0;
  #leading = false;
  #termStartNs = 0n;
  #lastInterval = { ms: 0, points: 0 };
  #started = false;

  constructor(c: ClusterSection, k: KubernetesConfig, deps: ClusterMonitorDeps, logger: Logger, server: string, ca: string | undefined, tokenFile: string | undefined, namespace: string) {
    this.#c = c;
    this.#t = { ...DEFAULT_TUNING, ...deps.tuning };
    this.#logger = logger;
    this.#metrics = new ClusterSelfMetrics(deps.registry);
    this.#identity = deps.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    const rules = new CompiledRules(k);
    this.#ctx = { strings: new StringTable(), podFilter: rules.podFilter, namespaceFilter: rules.namespaceFilter };
    this.graph = new ObjectGraph(KINDS.map((s) => s.kind));
    const token = tokenFile !== undefined ? new TokenSource(tokenFile) : undefined;
    const userAgent = `sextant-gateway/${deps.version}`;
    // One connection per held watch, and a few for lists and re-lists beside them.
    this.#watchClient = new KubeApiClient({ server, ca, token, requestTimeoutMs: this.#t.requestTimeoutMs, maxResponseBytes: this.#t.maxResponseBytes, userAgent, connections: KINDS.length + 4 });
    const leaseMs = c.leaseDuration;
    const renewDeadlineMs = Math.round((leaseMs * 2) / 3);
    const retryPeriodMs = Math.max(200, Math.round(leaseMs / 7.5));
    // The Lease has its own connections: a renewal never queues behind a list.
    this.#leaseClient = new KubeApiClient({ server, ca, token, requestTimeoutMs: Math.max(1000, retryPeriodMs), maxResponseBytes: 1024 * 1024, userAgent, connections: 2 });
    this.#health = new ApiHealth(logger, [...KINDS.map((s) => s.resource), EVENTS_RESOURCE, 'lease'], Date.now, {
      unavailable: 'the cluster is not monitored while it lasts (OTLP ingest goes on); retrying with backoff',
      back: 'Kubernetes API reachable again: cluster monitoring resumed',
      forbiddenHint: 'the gateway’s service account needs get/list/watch on the monitored kinds and get/create/update on its Lease (deploy/kubernetes/base/rbac.yaml)',
    });
    const scope = createScope('sextant/cluster', deps.version);
    const resources = new ResourceBuilder(rules, this.graph);
    this.#checkpoint = new EventCheckpoint(path.join(deps.dataDir, 'state', 'cluster-events.json'), server);
    this.#shipper = new EventShipper({
      output: deps.output,
      resources,
      checkpoint: this.#checkpoint,
      scope,
      logger,
      metrics: this.#metrics,
      batchSize: this.#t.eventBatchSize,
      maxQueued: this.#t.maxQueuedEvents,
      objectsListed: () => this.#allListed(),
      listWaitMs: this.#t.eventListWaitMs,
    });
    this.#interval = new MetricInterval({ graph: this.graph, resources, output: deps.output, scope, metrics: this.#metrics, maxPoints: this.#t.maxPointsPerRequest });
    for (const s of KINDS) this.#metrics.objects.collect(() => this.graph.count(s.kind), { kind: s.kind });
    this.#elector = new LeaseElector({
      client: this.#leaseClient,
      namespace,
      name: LEASE_NAME,
      identity: this.#identity,
      leaseDurationMs: leaseMs,
      renewDeadlineMs,
      retryPeriodMs,
      annotations: () => this.#checkpoint.annotation(),
      onStartedLeading: (record) => this.#startTerm(record),
      onStoppedLeading: () => this.#endTerm(),
      onError: (err) => this.#health.failed('lease', err, retryPeriodMs),
      onOk: () => this.#health.ok('lease'),
      logger,
      metrics: this.#metrics,
    });
    this.#metrics.leader.set(0);
    logger.info({ server, lease: `${namespace}/${LEASE_NAME}`, identity: this.#identity, interval: c.interval, leaseDurationMs: leaseMs }, 'cluster monitor: campaigning for the Lease');
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#elector.start();
  }

  async stop(): Promise<void> {
    // Releasing the Lease ends the term first (onStoppedLeading), so nothing is delivered after.
    await this.#elector.stop();
    this.#endTerm();
    // A batch delivered just before the end still writes its checkpoint.
    await this.#shipper.drained();
    await Promise.all(this.#stopping);
    await this.#intervalRunning?.catch(() => 0);
    await Promise.all([this.#watchClient.close(), this.#leaseClient.close()]);
  }

  status(): ClusterStatus {
    const holder = this.#elector.holder;
    const health = this.#health.status(0, 0);
    if (!this.#leading) {
      const lease = health.state === 'unavailable' ? `; ${health.detail}` : '';
      const state = health.state === 'unavailable' ? 'unavailable' : 'standby';
      return { state, detail: `${state}: ${holder.length > 0 ? `${holder} monitors the cluster` : 'no replica holds the Lease yet'}${lease}`, identity: this.#identity, holder };
    }
    const listed = KINDS.filter((k) => this.graph.synced(k.kind)).length;
    const parts = [
      `leading: ${listed}/${KINDS.length} kinds listed`,
      `${this.graph.count('Pod')} pods`,
      `${this.graph.count('Node')} nodes`,
      `last interval ${this.#lastInterval.points} points in ${this.#lastInterval.ms} ms`,
      `${this.#shipper.queued} events queued`,
    ];
    if (health.state === 'unavailable') parts.push(health.detail);
    return { state: 'leading', detail: parts.join(', '), identity: this.#identity, holder };
  }

  runInterval(): Promise<number> {
    if (this.#intervalRunning !== undefined) {
      this.#metrics.intervals.inc({ result: 'skipped' });
      return this.#intervalRunning;
    }
    const term = this.#term;
    const started = performance.now();
    this.#intervalRunning = this.#interval
      .run(nowUnixNano(), this.#termStartNs)
      .then((r) => {
        const ms = performance.now() - started;
        this.#metrics.intervals.inc({ result: 'done' });
        this.#metrics.intervalSeconds.observe(ms / 1000);
        if (term === this.#term) {
          this.#lastInterval = { ms: Math.round(ms), points: r.points };
          const p = this.graph.problems();
          this.#metrics.graphProblems.set(p.ownerMissing, { problem: 'owner_missing' });
          this.#metrics.graphProblems.set(p.ownerCycle, { problem: 'owner_cycle' });
          this.#metrics.graphProblems.set(p.ownerUnknownKind, { problem: 'owner_unknown_kind' });
        }
        return r.points;
      })
      .finally(() => (this.#intervalRunning = undefined));
    return this.#intervalRunning;
  }

  #startTerm(record: LeaseRecord): void {
    const term = ++this.#term;
    this.#leading = true;
    this.#termStartNs = nowUnixNano();
    const fromLease = resourceVersionOrder(record.annotations[LEASE_ANNOTATION] ?? '');
    void this.#checkpoint.load().then((fromFile) => {
      if (term !== this.#term) return;
      const from = fromFile === undefined ? fromLease : fromLease === undefined || fromFile > fromLease ? fromFile : fromLease;
      this.#logger.info({ eventsFrom: from === undefined ? null : String(from) }, 'cluster monitor: listing and watching the cluster');
      this.#shipper.start(from);
      this.#interval.begin();
      this.#startReflectors();
      this.#scheduleInterval(term);
    });
  }

  #endTerm(): void {
    this.#term++;
    if (!this.#leading) return;
    this.#leading = false;
    this.#shipper.stop();
    this.#interval.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const reflectors = this.#reflectors;
    this.#reflectors = [];
    const stopped = Promise.all(reflectors.map((r) => r.stop())).then(() => {
      this.#stopping = this.#stopping.filter((p) => p !== stopped);
    });
    this.#stopping.push(stopped);
    this.graph.clear();
  }

  #startReflectors(): void {
    const t = this.#t;
    const common = {
      client: this.#watchClient,
      health: this.#health,
      metrics: this.#metrics.watch,
      initialBackoffMs: t.initialBackoffMs,
      maxBackoffMs: t.maxBackoffMs,
      pageSize: t.pageSize,
      maxLineBytes: t.maxLineBytes,
      watchSeconds: t.watchSeconds,
    };
    const reflectors: Reflector<unknown>[] = [];
    for (const spec of KINDS) {
      reflectors.push(new Reflector<ClusterObject>({ ...common, resource: spec.resource, path: spec.path, convert: (raw) => this.#convert(spec, raw), handler: this.graph.handler(spec.kind) }) as Reflector<unknown>);
    }
    reflectors.push(
      new Reflector<ClusterEvent>({
        ...common,
        resource: EVENTS_RESOURCE,
        path: EVENTS_PATH,
        convert: (raw) => {
          const e = convertEvent(raw);
          if (e === undefined) this.#metrics.refused.inc({ resource: EVENTS_RESOURCE, reason: kindOf(raw) !== undefined && kindOf(raw) !== 'Event' ? 'unknown_kind' : 'malformed' });
          return e;
        },
        handler: this.#shipper.handler,
      }) as Reflector<unknown>,
    );
    this.#reflectors = reflectors;
    for (const r of reflectors) r.start();
  }

  #convert(spec: KindSpec<ClusterObject>, raw: unknown): ClusterObject | undefined {
    const declared = kindOf(raw);
    if (declared !== undefined && declared !== spec.kind) {
      this.#metrics.refused.inc({ resource: spec.resource, reason: 'unknown_kind' });
      return undefined;
    }
    const o = spec.convert(raw, this.#ctx);
    if (o === undefined) this.#metrics.refused.inc({ resource: spec.resource, reason: 'malformed' });
    return o;
  }

  /** Every monitored kind listed this term: the events' resources and the first interval wait for it. */
  #allListed(): boolean {
    return KINDS.every((k) => this.graph.synced(k.kind));
  }

  /** The first interval once every kind is listed (or one interval in, whichever first), then every interval. */
  #scheduleInterval(term: number): void {
    const every = this.#c.interval;
    const begun = performance.now();
    const tick = (): void => {
      if (term !== this.#term) return;
      if (!this.#allListed() && performance.now() - begun < every) {
        this.#timer = setTimeout(tick, Math.min(100, every));
        this.#timer.unref();
        return;
      }
      void this.runInterval()
        .catch((err: unknown) => this.#logger.error({ err }, 'cluster monitor: metric interval failed'))
        .finally(() => {
          if (term !== this.#term) return;
          this.#timer = setTimeout(tick, every);
          this.#timer.unref();
        });
    };
    this.#timer = setTimeout(tick, Math.min(100, every));
    this.#timer.unref();
  }
}

function kindOf(raw: unknown): string | undefined {
  const k = (raw as { kind?: unknown } | null)?.kind;
  return typeof k === 'string' ? k : undefined;
}
