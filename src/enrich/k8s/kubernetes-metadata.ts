import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import { KubeApiClient } from './api-client.js';
import { ApiHealth, type KubernetesStatus } from './api-health.js';
import type { AutoSwitch } from './config-values.js';
import { namespaceMeta, type NamespaceMeta, podMeta, type PodMeta } from './objects.js';
import { CompiledRules, type EnrichmentRules } from './pod-attributes.js';
import { PodMetadataIndex, type PodMetadataLookup } from './pod-metadata-index.js';
import { Reflector, type ReflectorMetrics } from './reflector.js';
import { TokenSource } from './token-source.js';
import { WorkloadResolver } from './workload.js';

/** The `kubernetes:` config section (src/config/schema.ts). */
export interface KubernetesConfig extends EnrichmentRules {
  readonly enabled: AutoSwitch;
  readonly apiServer: string | undefined;
  readonly tokenFile: string | undefined;
  readonly caFile: string | undefined;
}

/** Where a pod's service account is mounted (the agent's own pod, not the host's). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Timings and bounds; the defaults are for production, tests shorten them. */
/** How the API is reached and watched: the same for the agent's pod metadata and the gateway's cluster monitor. */
export interface ApiTuning {
  readonly initialBackoffMs: number;
  /** Retries back off to at most this: a minute, so a fixed RBAC or a restarted API server is noticed soon. */
  readonly maxBackoffMs: number;
  readonly requestTimeoutMs: number;
  /** Largest list page or object read. */
  readonly maxResponseBytes: number;
  /** Largest watch event; etcd refuses objects over 1.5 MiB, so a line far above that is not an object. */
  readonly maxLineBytes: number;
  readonly pageSize: number;
  readonly watchSeconds: number;
}

export const API_TUNING_DEFAULTS: ApiTuning = {
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  requestTimeoutMs: 30_000,
  maxResponseBytes: 64 * 1024 * 1024,
  maxLineBytes: 4 * 1024 * 1024,
  pageSize: 500,
  watchSeconds: 300,
};

export interface KubernetesTuning extends ApiTuning {
  readonly workloadRetryMs: number;
  readonly deletedGraceMs: number;
}

const DEFAULT_TUNING: KubernetesTuning = {
  ...API_TUNING_DEFAULTS,
  workloadRetryMs: 60_000,
  deletedGraceMs: 5 * 60_000,
};

export interface KubernetesMetadataDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: string;
  /** This node's name (config `nodeName`, from the downward API in the DaemonSet): the pod watch's field selector. */
  readonly nodeName: string | undefined;
  /** Defaults to process.env: KUBERNETES_SERVICE_HOST / _PORT. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to SERVICE_ACCOUNT_DIR (tests point it elsewhere). */
  readonly serviceAccountDir?: string;
  readonly tuning?: Partial<KubernetesTuning>;
}

export interface KubernetesMetadata {
  /** Undefined when Kubernetes metadata is off: sources then build resources as before. */
  readonly index: PodMetadataLookup | undefined;
  start(): void;
  stop(): Promise<void>;
  /** For /readyz: a detail, never a reason to be unready (records flow without the API). */
  status(): KubernetesStatus;
}

const OFF_STATUS: KubernetesStatus = Object.freeze({ state: 'off', detail: 'not in a Kubernetes cluster (kubernetes.enabled=auto)', pods: 0, namespaces: 0, lastSyncUnixMs: 0 });

export interface ApiEndpoint {
  readonly server: string;
  readonly tokenFile: string | undefined;
  readonly caFile: string | undefined;
}

/** Where the API is: explicit config, else the in-cluster service; undefined when neither. */
export function apiEndpoint(config: Pick<KubernetesConfig, 'apiServer' | 'tokenFile' | 'caFile'>, env: Readonly<Record<string, string | undefined>>, saDir: string): ApiEndpoint | undefined {
  const saToken = `${saDir}/token`;
  const saCa = `${saDir}/ca.crt`;
  if (config.apiServer !== undefined) {
    return {
      server: config.apiServer,
      tokenFile: config.tokenFile ?? (existsSync(saToken) ? saToken : undefined),
      caFile: config.caFile ?? (config.apiServer.startsWith('https:') && existsSync(saCa) ? saCa : undefined),
    };
  }
  const host = env['KUBERNETES_SERVICE_HOST']?.trim();
  if (host === undefined || host.length === 0) return undefined;
  const port = env['KUBERNETES_SERVICE_PORT']?.trim() || '443';
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { server: `https://${h}:${port}`, tokenFile: config.tokenFile ?? saToken, caFile: config.caFile ?? saCa };
}

/**
 * Kubernetes metadata for the records of this node's pods: a watch of the node's pods and of the
 * namespaces, owner lookups for workloads, and the index sources read. Off (index undefined)
 * when `kubernetes.enabled` is false, or auto outside a cluster. Never throws after start: an
 * unreachable or forbidding API is a status and one warning, retried with backoff.
 */
export function createKubernetesMetadata(config: KubernetesConfig, deps: KubernetesMetadataDeps): KubernetesMetadata {
  const env = deps.env ?? process.env;
  const logger = deps.logger.child({ component: 'kubernetes' });
  if (config.enabled === 'false') return off({ ...OFF_STATUS, detail: 'off (kubernetes.enabled=false)' });
  const ep = apiEndpoint(config, env, deps.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  if (ep === undefined) {
    if (config.enabled === 'true') {
      throw new ConfigError('kubernetes.enabled', 'true, but there is no API server: not running in a pod (KUBERNETES_SERVICE_HOST is not set) and kubernetes.apiServer is not set');
    }
    return off(OFF_STATUS);
  }
  const t: KubernetesTuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const rules = new CompiledRules(config);

  let ca: string | undefined;
  let problem: string | undefined;
  if (ep.caFile !== undefined) {
    try {
      ca = readFileSync(ep.caFile, 'utf8');
    } catch {
      // In a pod without a mounted service account (automountServiceAccountToken: false).
      problem = 'the service account CA certificate cannot be read (is the service account token mounted?)';
    }
  }
  if (deps.nodeName === undefined || deps.nodeName.length === 0) problem ??= 'no node name: set nodeName (SEXTANT_NODE_NAME from the downward API spec.nodeName)';
  if (problem !== undefined) {
    logger.warn({ server: ep.server }, `Kubernetes metadata off: ${problem}; records carry runtime and cgroup metadata only`);
    return off({ state: 'unavailable', detail: problem, pods: 0, namespaces: 0, lastSyncUnixMs: 0 });
  }
  const nodeName = deps.nodeName!;

  const client = new KubeApiClient({
    server: ep.server,
    ca,
    token: ep.tokenFile !== undefined ? new TokenSource(ep.tokenFile) : undefined,
    requestTimeoutMs: t.requestTimeoutMs,
    maxResponseBytes: t.maxResponseBytes,
    userAgent: `sextant/${deps.version}`,
  });
  const r = deps.registry;
  const metrics: ReflectorMetrics = {
    events: r.counter('sextant_kubernetes_watch_events_total', 'Watch events received from the Kubernetes API, by resource and type.'),
    dropped: r.counter('sextant_kubernetes_watch_dropped_total', 'Watch events and list items dropped as unusable, by resource and reason (malformed, oversized, invalid_utf8, truncated).'),
    relists: r.counter('sextant_kubernetes_relists_total', 'Full lists after the API said 410 Gone (the watch fell too far behind).'),
    errors: r.counter('sextant_kubernetes_api_errors_total', 'Failed Kubernetes API calls, by resource and reason (forbidden, unauthorized, unavailable, timeout, …).'),
  };
  const health = new ApiHealth(logger, ['pods', 'namespaces']);
  // The index and the resolver refer to each other: owner answers re-resolve the pods.
  let index: PodMetadataIndex | undefined;
  const workloads = new WorkloadResolver({ client, logger, errors: metrics.errors, onSettled: () => index?.workloadsSettled(), retryMs: t.workloadRetryMs });
  const idx = new PodMetadataIndex({ rules, workloads, nodeName, deletedGraceMs: t.deletedGraceMs });
  index = idx;

  const common = { client, health, metrics, initialBackoffMs: t.initialBackoffMs, maxBackoffMs: t.maxBackoffMs, pageSize: t.pageSize, maxLineBytes: t.maxLineBytes, watchSeconds: t.watchSeconds };
  const pods = new Reflector<PodMeta>({
    ...common,
    resource: 'pods',
    path: '/api/v1/pods',
    query: { fieldSelector: `spec.nodeName=${nodeName}` },
    convert: (o) => podMeta(o, rules.podFilter),
    handler: idx.podHandler,
  });
  const namespaces = new Reflector<NamespaceMeta>({
    ...common,
    resource: 'namespaces',
    path: '/api/v1/namespaces',
    convert: (o) => namespaceMeta(o, rules.namespaceFilter),
    handler: idx.namespaceHandler,
  });
  r.gauge('sextant_kubernetes_pods', 'Pods of this node known from the Kubernetes API.').collect(() => idx.pods);
  r.gauge('sextant_kubernetes_api_up', '1 while pod and namespace metadata are in step with the Kubernetes API.').collect(() => (health.status(0, 0).state === 'synced' ? 1 : 0));

  let started = false;
  return {
    index: idx,
    start() {
      if (started) return;
      started = true;
      logger.info({ server: ep.server, nodeName, cluster: rules.clusterName || undefined }, 'watching this node’s pods and the namespaces for metadata');
      namespaces.start();
      pods.start();
    },
    async stop() {
      await Promise.all([pods.stop(), namespaces.stop(), workloads.stop()]);
      await client.close();
    },
    status: () => health.status(idx.pods, idx.namespaces),
  };
}

function off(status: KubernetesStatus): KubernetesMetadata {
  return { index: undefined, start() {}, async stop() {}, status: () => status };
}


