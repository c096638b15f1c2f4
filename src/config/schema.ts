import { HOST_KEYS } from '../sources/host/config.js';
import { PROCESS_KEYS } from '../sources/process/config.js';
import { CONTAINERS_KEYS } from '../sources/container/config.js';
import { LOGS_KEYS } from '../sources/logs/config.js';
import { RECEIVER_KEYS } from '../receiver/config.js';
import { WEBHOOK_KEYS } from '../webhook/config.js';
import { BUFFER_KEYS } from '../pipeline/spool/config.js';
import { MEMORY_KEYS } from '../self/memory-config.js';
import { autoSwitch, keyPatterns, label as text, sourceRefs } from '../enrich/k8s/config-values.js';
import { clusterKeys } from '../gateway/cluster/config.js';
import { GATEWAY_STORE_KEYS } from '../gateway/store/keys.js';
import { GATEWAY_EXPLORER_KEYS } from '../gateway/ui/keys.js';
import { GATEWAY_PROBLEM_KEYS } from '../gateway/problems/keys.js';
import { MODES } from './modes.js';
import { envName, flagName } from '../config-kinds/names.js';
import type { ConfigOf } from '../config-kinds/section.js';
import {
  boolean,
  bytes,
  dnsName,
  duration,
  headers,
  integer,
  listen,
  oneOf,
  path,
  secret,
  secretFile,
  secretList,
  url,
  type KeySpec,
} from '../config-kinds/values.js';

/**
 * Every configuration key, once. The tree's shape is the shape of `SextantConfig` and of the YAML
 * file; environment names and flags are derived from each key's dotted path (`names.ts`):
 * `gateway.dataDir` → YAML `gateway: { dataDir }`, `SEXTANT_GATEWAY_DATA_DIR`, `--gateway-data-dir`.
 * Secrets have no flag: flags are visible to every user in the process list.
 */

// Dynatrace OTLP ingest limits (per request). "MB" is read as 10^6 bytes, the stricter reading.
const DT_METRIC_POINTS = 15_000;
const DT_METRIC_BYTES = 4_000_000;
const DT_LOG_BYTES = 2_000_000;
const WHY_METRIC_POINTS = "Dynatrace's OTLP metrics ingest accepts at most 15,000 data points per request";
const WHY_METRIC_BYTES = "Dynatrace's OTLP metrics ingest accepts at most 4 MB (uncompressed) per request";
const WHY_LOG_BYTES = "Dynatrace's OTLP logs ingest accepts at most 2 MB per request";
const WHY_RECEIVED_BYTES = "the receiver's lanes carry logs too, and Dynatrace's OTLP logs ingest accepts at most 2 MB per request";

const GiB = 1024 ** 3;

function queue(signal: string, items: number, size: string) {
  return {
    maxItems: integer({
      description: `Most ${signal} records held in the ${signal} ring before it pushes back or drops.`,
      default: items,
      min: 1,
      max: { value: 10_000_000 },
    }),
    maxBytes: bytes({
      description: `Most bytes (estimated) held in the ${signal} ring.`,
      default: size,
      min: 1024,
      max: { value: 4 * GiB },
    }),
  };
}

function batch(signal: string, items: number, size: string, linger: string, maxItems: { value: number; why?: string }, maxBytes: { value: number; why: string }) {
  return {
    maxItems: integer({ description: `Most ${signal} records in one export request.`, default: items, min: 1, max: maxItems }),
    maxBytes: bytes({ description: `Most bytes (uncompressed) in one ${signal} export request.`, default: size, min: 1024, max: maxBytes }),
    linger: duration({
      description: `Longest a ${signal} record waits for its batch to fill before the batch is sent anyway.`,
      default: linger,
      min: '1ms',
      max: '1m',
    }),
  };
}

export const schema = {
  mode: oneOf({
    description:
      'Deployment mode, a preset of the switches host.enabled, process.enabled, containers.enabled, logs.enabled and receiver.enabled that explicit settings still override: fullstack (host, processes, containers, logs), host (host and processes), application (only the OTLP receiver for applications, no host access), cloudnative (fullstack plus the receiver).',
    values: MODES,
    default: 'fullstack',
  }),
  endpoint: url({
    description:
      'OTLP/HTTP base URL; the agent posts to <endpoint>/v1/metrics, /v1/logs and /v1/traces (https://HOST/e/ENV/api/v2/otlp for Dynatrace, http://collector:4318 for an OpenTelemetry Collector).',
  }),
  apiToken: secret({ description: 'API token, sent as "Authorization: Api-Token <token>".' }),
  apiTokenFile: secretFile({ description: 'File holding the API token (a Kubernetes secret mount); a trailing newline is ignored.', fills: 'apiToken' }),
  headers: headers({ description: 'Extra request headers for other backends (k=v,k2=v2); values are treated as credentials.' }),
  interval: duration({ description: 'Collection interval.', default: '10s', min: '100ms', max: '1h' }),
  hostRoot: path({ description: "Where the host's filesystem is mounted (/host in a container); every host path is resolved under it.", default: '/' }),
  stateDir: path({
    description: 'Writable state: log checkpoints, last-seen counters. ./data/state with --local.',
    default: (ctx) => (ctx.local ? './data/state' : '/var/lib/sextant'),
  }),
  temporality: oneOf({ description: 'Temporality of exported sums; Dynatrace ingest wants delta.', values: ['delta', 'cumulative'], default: 'delta' }),
  compression: oneOf({ description: 'Request body compression.', values: ['gzip', 'none'], default: 'gzip' }),
  logLevel: oneOf({
    description: "Level of sextant's own log (pino JSON on stderr).",
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    default: 'info',
  }),
  listen: listen({ description: 'Address of the self endpoints /healthz, /readyz and /metrics.', default: '127.0.0.1:9464' }),
  tls: {
    caFile: path({ description: 'Extra CA certificates (PEM) trusted besides the system CAs.', file: true }),
    insecureSkipVerify: boolean({ description: 'Skip TLS certificate verification (a warning is logged at start). Never in production.', default: false }),
  },
  proxy: url({ description: 'HTTP(S) proxy for export requests. HTTPS_PROXY and NO_PROXY are honoured without it.' }),
  export: {
    timeout: duration({ description: 'Deadline of one export request.', default: '10s', min: '100ms', max: '10m' }),
    maxInFlight: integer({ description: 'Export requests in flight at once.', default: 2, min: 1, max: { value: 64 } }),
    retryInitialBackoff: duration({ description: 'First retry delay; doubles (with jitter) on each retry.', default: '1s', min: '1ms', max: '10m' }),
    retryMaxBackoff: duration({ description: 'Longest delay between retries.', default: '30s', min: '1ms', max: '1h' }),
    retryMaxElapsed: duration({
      description:
        'Give up on a batch after retrying this long. 0 retries forever: the default, so logs are delivered at least once and a dead endpoint pushes back on the sources instead of losing data.',
      default: '0',
      min: '1s',
      zero: 'retry forever',
    }),
  },
  shutdownTimeout: duration({ description: 'On SIGTERM/SIGINT, how long to flush before exiting.', default: '10s', max: '10m' }),
  summaryInterval: duration({
    description: 'How often --local and foreground runs print a one-line summary on stdout.',
    default: '5s',
    min: '100ms',
    zero: 'off',
  }),
  native: boolean({ description: 'Use the native addon when it loads (SEXTANT_NATIVE=0 forces the pure-JS fallback).', default: true }),
  selfTraces: {
    endpoint: url({
      description: "OTLP/gRPC endpoint (http://host:4317 plaintext, https:// TLS) for the agent's own traces: a span per collection cycle, per source and per export request. Unset: off, and no tracing SDK is loaded.",
    }),
  },
  // Each source's section is its own (src/sources/<name>/config.ts): keys, defaults, bounds.
  host: HOST_KEYS,
  process: PROCESS_KEYS,
  nodeName: dnsName({
    description: "k8s.node.name on container and pod records: the Kubernetes node's name (in a DaemonSet, from the downward API's spec.nodeName). Empty: the host name.",
    default: '',
  }),
  containers: CONTAINERS_KEYS,
  logs: LOGS_KEYS,
  receiver: RECEIVER_KEYS,
  kubernetes: {
    enabled: autoSwitch({
      description: "Pod metadata from the Kubernetes API (workloads, labels, cost allocation) on container, pod and log records. auto: on when running in a pod (KUBERNETES_SERVICE_HOST is set) or kubernetes.apiServer is set.",
      default: 'auto',
    }),
    apiServer: url({ description: 'Kubernetes API server URL, for running outside the cluster (https://host:6443, or http://127.0.0.1:8001 behind kubectl proxy). Empty: the in-cluster service.' }),
    tokenFile: path({ description: "Bearer token file, read again whenever it changes (bound tokens rotate hourly). Empty: the pod's service account token.", file: true }),
    caFile: path({ description: "CA certificate (PEM) of the API server. Empty: the pod's service account ca.crt (with apiServer: the system CAs).", file: true }),
    clusterName: text({ description: 'k8s.cluster.name on every pod record (the API does not know the cluster name). Empty: not set.', default: '', maxChars: 256 }),
    podLabels: keyPatterns({ description: 'Pod labels added as k8s.pod.label.<key> (keys, or prefixes ending in *: app.kubernetes.io/*).' }),
    podAnnotations: keyPatterns({ description: 'Pod annotations added as k8s.pod.annotation.<key>.' }),
    namespaceLabels: keyPatterns({ description: 'Namespace labels added as k8s.namespace.label.<key> on its pods\' records.' }),
    namespaceAnnotations: keyPatterns({ description: 'Namespace annotations added as k8s.namespace.annotation.<key> on its pods\' records.' }),
    costCenterFrom: sourceRefs({
      description:
        'Where dt.cost.costcenter comes from when the pod has no metadata.dynatrace.com/dt.cost.costcenter annotation, tried in order (pod-label:team,namespace-label:team); the namespace annotation of that name comes last.',
    }),
    productFrom: sourceRefs({ description: 'Where dt.cost.product comes from, as costCenterFrom (metadata.dynatrace.com/dt.cost.product annotations first).' }),
  },
  pipeline: {
    metrics: queue('metric', 50_000, '16MiB'),
    // Two batches' worth: a deeper ring only holds more records long enough to be promoted to V8's
    // old space (measured on the logs bench: 20,000 / 16 MiB peaked at 173 MB RSS, this at 156 MB,
    // same CPU); an endpoint that cannot keep up is the disk spool's business.
    logs: queue('log', 4096, '4MiB'),
    events: queue('event', 5_000, '2MiB'),
    // What applications send through the receiver: three rings (spans, their metrics, their
    // logs), each of at most maxItems blocks, sharing maxBytes.
    traces: {
      maxItems: integer({
        description: 'Most blocks (one resource of one received request) held in each of the receiver\'s rings (spans, application metrics, application logs) before it answers 503.',
        default: 4_096,
        min: 1,
        max: { value: 1_000_000 },
      }),
      maxBytes: bytes({ description: 'Most bytes the receiver\'s three rings hold together (exact: the blocks are encoded).', default: '16MiB', min: 1024, max: { value: 4 * GiB } }),
    },
  },
  // The disk spool (src/pipeline/spool/config.ts) and V8's limits (src/self/memory-config.ts).
  buffer: BUFFER_KEYS,
  memory: MEMORY_KEYS,
  batch: {
    metrics: batch('metric', 10_000, '3MiB', '1s', { value: DT_METRIC_POINTS, why: WHY_METRIC_POINTS }, { value: DT_METRIC_BYTES, why: WHY_METRIC_BYTES }),
    logs: batch('log', 2_000, '1536KiB', '1s', { value: 100_000 }, { value: DT_LOG_BYTES, why: WHY_LOG_BYTES }),
    // Events travel as log records, so the logs limit applies.
    events: batch('event', 500, '1MiB', '200ms', { value: 100_000 }, { value: DT_LOG_BYTES, why: WHY_LOG_BYTES }),
    // The receiver's three lanes (traces, application metrics and logs); items are blocks.
    traces: batch('received block', 256, '1536KiB', '500ms', { value: 100_000 }, { value: DT_LOG_BYTES, why: WHY_RECEIVED_BYTES }),
  },
  webhook: WEBHOOK_KEYS,
  gateway: {
    listen: listen({ description: 'Address the gateway serves OTLP/HTTP on.', default: '127.0.0.1:14318' }),
    grpcListen: listen({ description: 'Address the gateway serves OTLP/gRPC on (trace, metrics and logs Export; same tokens). Port 0: no gRPC listener.', default: '127.0.0.1:0' }),
    tokens: secretList({ description: 'Accepted tokens (comma-separated). Empty: no authentication, with a warning.' }),
    tokensFile: secretFile({ description: 'File holding the accepted tokens, one per line or comma-separated.', fills: 'gateway.tokens' }),
    dataDir: path({ description: 'Where the gateway stores what it receives.', default: './data' }),
    upstream: url({ description: 'Optional OTLP/HTTP base URL the gateway forwards to.' }),
    upstreamToken: secret({ description: 'Token for the upstream, sent as "Authorization: Api-Token <token>".' }),
    upstreamTokenFile: secretFile({ description: 'File holding the upstream token.', fills: 'gateway.upstreamToken' }),
    maxRequestBytes: bytes({ description: 'Largest request body accepted (413 above).', default: '8MiB', min: 1024, max: { value: GiB } }),
    maxDecompressedBytes: bytes({ description: 'Largest body after decompression (no zip bombs).', default: '32MiB', min: 1024, max: { value: 4 * GiB } }),
    store: {
      maxFileBytes: bytes({ description: 'Size at which an NDJSON file (gateway.ndjson) is rotated.', default: '64MiB', min: 4096, max: { value: 64 * GiB } }),
      maxTotalBytes: bytes({ description: 'Total size of the NDJSON files (gateway.ndjson) per signal; the oldest files are removed above it.', default: '1GiB', min: 4096, max: { value: 2 ** 50 } }),
    },
    forward: {
      maxQueueBytes: bytes({ description: 'Bytes queued for the upstream before the gateway answers 503.', default: '64MiB', min: 1024, max: { value: 4 * GiB } }),
      maxQueueItems: integer({ description: 'Requests queued for the upstream before the gateway answers 503.', default: 1024, min: 1, max: { value: 1_000_000 } }),
    },
    ...GATEWAY_STORE_KEYS,
    ...GATEWAY_EXPLORER_KEYS,
    problems: GATEWAY_PROBLEM_KEYS,
  },
  cluster: clusterKeys,
};

export type Schema = typeof schema;

/** The effective configuration: durations in ms, sizes in bytes, secrets as `Secret`. */
export type SextantConfig = ConfigOf<Schema>;

/** One key with its derived names. */
export interface KeyInfo {
  /** Dotted camelCase path: `gateway.dataDir`. */
  readonly path: string;
  readonly env: string;
  /** Undefined for secrets. */
  readonly flag: string | undefined;
  readonly spec: KeySpec<unknown>;
}

function isSpec(v: unknown): v is KeySpec<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as KeySpec<unknown>).parse === 'function';
}

function flatten(tree: object, prefix: string, out: KeyInfo[]): void {
  for (const [name, node] of Object.entries(tree)) {
    const p = prefix === '' ? name : `${prefix}.${name}`;
    if (isSpec(node)) out.push({ path: p, env: envName(p), flag: node.secret ? undefined : flagName(p), spec: node });
    else flatten(node as object, p, out);
  }
}

/** Every key, in schema order. */
export const KEYS: readonly KeyInfo[] = (() => {
  const out: KeyInfo[] = [];
  flatten(schema, '', out);
  return out;
})();

export const KEYS_BY_PATH: ReadonlyMap<string, KeyInfo> = new Map(KEYS.map((k) => [k.path, k]));
export const KEYS_BY_ENV: ReadonlyMap<string, KeyInfo> = new Map(KEYS.map((k) => [k.env, k]));
export const KEYS_BY_FLAG: ReadonlyMap<string, KeyInfo> = new Map(KEYS.filter((k) => k.flag !== undefined).map((k) => [k.flag!, k]));

/** Sections (non-leaf paths), for walking the YAML file: `gateway`, `gateway.store`, … */
export const SECTIONS: ReadonlySet<string> = new Set(
  KEYS.flatMap((k) => {
    const parts = k.path.split('.');
    return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('.'));
  }),
);

/** Environment variables with the SEXTANT_ prefix that are not config keys but are known. */
export const CONFIG_FILE_ENV = 'SEXTANT_CONFIG';
export const CONFIG_FILE_FLAG = '--config';
/**
 * `SEXTANT_TEST_*` is left to test harnesses and CI scripts, so they can pass settings to tests
 * without tripping the unknown-variable check.
 */
export const RESERVED_ENV_PREFIX = 'SEXTANT_TEST_';
