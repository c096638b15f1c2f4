/**
 * Node.js auto-instrumentation for one pod, as RFC 6902 JSON Patch operations: a chain of
 * mutators in the OpenTelemetry Operator's manner (internal/instrumentation/podmutator.go), each
 * idempotent — it looks for its own mark (a volume, an init container, a mount by name) before
 * adding it — and each appending to what the pod already has, never replacing it.
 */

const ANNOTATION_INJECT = 'sextant.dev/inject-nodejs';
const ANNOTATION_OTEL_INJECT = 'instrumentation.opentelemetry.io/inject-nodejs';
const ANNOTATION_CONTAINERS = 'sextant.dev/inject-nodejs-containers';
const ANNOTATION_OTEL_CONTAINERS = 'instrumentation.opentelemetry.io/container-names';
const ANNOTATION_INJECTED = 'sextant.dev/injected';
const ANNOTATION_REASON = 'sextant.dev/injection-reason';

const VOLUME_NAME = 'sextant-instrumentation';
const INIT_CONTAINER_NAME = 'sextant-nodejs-instrumentation';
/** Where the bundle is in the pod (the emptyDir), and where it is in the Sextant image. */
export const MOUNT_PATH = '/sextant/instrumentation';
const IMAGE_BUNDLE_PATH = '/app/instrumentation/nodejs';
export const REQUIRE_FLAG = `--require ${MOUNT_PATH}/autoinstrumentation.cjs`;

export interface InjectionSettings {
  /** The init container's image (a Sextant image). */
  readonly image: string;
  readonly agentPort: number;
  readonly disabledInstrumentations: readonly string[];
  readonly resourceDetectors: string;
  /** emptyDir sizeLimit, a Kubernetes quantity. */
  readonly bundleSizeLimit: string;
}

export type JsonPatchOp =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown };

export interface MutationResult {
  /** Whether the pod asked for injection (pod or namespace annotation): only then is it marked. */
  readonly candidate: boolean;
  readonly injected: boolean;
  readonly reason: string;
  readonly patch: JsonPatchOp[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function objs(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A JSON Pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`. */
function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** What an annotation value asks: true, false, or nothing. The OTel one may name an Instrumentation. */
function asks(annotations: Obj | undefined, key: string, otel: boolean): boolean | undefined {
  const v = str(annotations?.[key])?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  // The OpenTelemetry Operator takes an Instrumentation's name (or ns/name) here: it means inject.
  return otel ? true : undefined;
}

export interface DecideInput {
  readonly pod: Obj;
  readonly namespaceAnnotations: Obj | undefined;
}

/** Whether the pod or its namespace asks for Node.js injection, and where that came from. */
export function requested(input: DecideInput): { readonly want: boolean | undefined; readonly from: string } {
  const podAnn = isObj(input.pod['metadata']) && isObj((input.pod['metadata'] as Obj)['annotations']) ? ((input.pod['metadata'] as Obj)['annotations'] as Obj) : undefined;
  for (const [key, otel] of [[ANNOTATION_INJECT, false], [ANNOTATION_OTEL_INJECT, true]] as const) {
    const a = asks(podAnn, key, otel);
    if (a !== undefined) return { want: a, from: `pod annotation ${key}` };
  }
  for (const [key, otel] of [[ANNOTATION_INJECT, false], [ANNOTATION_OTEL_INJECT, true]] as const) {
    const a = asks(input.namespaceAnnotations, key, otel);
    if (a !== undefined) return { want: a, from: `namespace annotation ${key}` };
  }
  return { want: undefined, from: '' };
}

/** OTEL_SERVICE_NAME: the workload's name, as the OpenTelemetry Operator chooses it. */
export function serviceName(pod: Obj, container: string): string {
  const meta = isObj(pod['metadata']) ? (pod['metadata'] as Obj) : {};
  const labels = isObj(meta['labels']) ? (meta['labels'] as Obj) : {};
  const app = str(labels['app.kubernetes.io/name']);
  if (app !== undefined && app !== '') return app;
  const owner = objs(meta['ownerReferences']).find((o) => o['controller'] === true) ?? objs(meta['ownerReferences'])[0];
  const ownerName = str(owner?.['name']);
  const kind = str(owner?.['kind']);
  if (ownerName !== undefined && ownerName !== '') {
    const hash = str(labels['pod-template-hash']);
    if (kind === 'ReplicaSet' && hash !== undefined && ownerName.endsWith(`-${hash}`)) return ownerName.slice(0, -hash.length - 1);
    // A CronJob's Job is <cronjob>-<schedule time>.
    if (kind === 'Job' && /-\d{8,}$/.test(ownerName)) return ownerName.replace(/-\d{8,}$/, '');
    return ownerName;
  }
  const name = str(meta['name']);
  if (name !== undefined && name !== '') return name;
  const generate = str(meta['generateName'])?.replace(/-$/, '');
  return generate !== undefined && generate !== '' ? generate : container;
}

interface Ctx {
  readonly pod: Obj;
  readonly spec: Obj;
  readonly settings: InjectionSettings;
  readonly patch: JsonPatchOp[];
}

/** Adds `value` to the list at `path` (creating the list when absent); `prepend` puts it first. */
function addToList(ctx: Ctx, owner: Obj, field: string, path: string, value: unknown, prepend = false): void {
  if (!Array.isArray(owner[field])) {
    ctx.patch.push({ op: 'add', path, value: [value] });
    owner[field] = [value];
    return;
  }
  ctx.patch.push({ op: 'add', path: `${path}/${prepend ? 0 : '-'}`, value });
  if (prepend) (owner[field] as unknown[]).unshift(value);
  else (owner[field] as unknown[]).push(value);
}

function volumeMutator(ctx: Ctx): void {
  if (objs(ctx.spec['volumes']).some((v) => v['name'] === VOLUME_NAME)) return;
  addToList(ctx, ctx.spec, 'volumes', '/spec/volumes', { name: VOLUME_NAME, emptyDir: { sizeLimit: ctx.settings.bundleSizeLimit } });
}

function initContainerMutator(ctx: Ctx): void {
  if (objs(ctx.spec['initContainers']).some((c) => c['name'] === INIT_CONTAINER_NAME)) return;
  addToList(ctx, ctx.spec, 'initContainers', '/spec/initContainers', {
    name: INIT_CONTAINER_NAME,
    image: ctx.settings.image,
    imagePullPolicy: 'IfNotPresent',
    // `command` replaces the image's entrypoint (the agent's capability launcher): plain node.
    command: ['node', '-e', `require('node:fs').cpSync(${JSON.stringify(IMAGE_BUNDLE_PATH)}, ${JSON.stringify(MOUNT_PATH)}, { recursive: true })`],
    volumeMounts: [{ name: VOLUME_NAME, mountPath: MOUNT_PATH }],
    // Explicit and small, so a namespace's LimitRange default does not decide them.
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  });
}

/** The downward-API variables the others refer to with $(NAME): first in the list, so they expand. */
const FIELD_REFS: readonly [string, string][] = [
  ['SEXTANT_NODE_IP', 'status.hostIP'],
  ['SEXTANT_POD_NAME', 'metadata.name'],
  ['SEXTANT_POD_UID', 'metadata.uid'],
  ['SEXTANT_POD_NAMESPACE', 'metadata.namespace'],
  ['SEXTANT_NODE_NAME', 'spec.nodeName'],
];

/** The OTEL_* variables a container gets (those it sets itself are left alone). */
function otelEnv(settings: InjectionSettings, service: string, container: string): [string, string][] {
  return [
    ['OTEL_SERVICE_NAME', service],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `http://$(SEXTANT_NODE_IP):${settings.agentPort}`],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf'],
    ['OTEL_TRACES_EXPORTER', 'otlp'],
    ['OTEL_METRICS_EXPORTER', 'otlp'],
    ['OTEL_LOGS_EXPORTER', 'otlp'],
    [
      'OTEL_RESOURCE_ATTRIBUTES',
      `k8s.pod.name=$(SEXTANT_POD_NAME),k8s.pod.uid=$(SEXTANT_POD_UID),k8s.namespace.name=$(SEXTANT_POD_NAMESPACE),k8s.node.name=$(SEXTANT_NODE_NAME),k8s.container.name=${container}`,
    ],
    ['OTEL_NODE_DISABLED_INSTRUMENTATIONS', settings.disabledInstrumentations.join(',')],
    ['OTEL_NODE_RESOURCE_DETECTORS', settings.resourceDetectors],
  ];
}

/** One application container: env, NODE_OPTIONS, the bundle's mount (a NODE_OPTIONS from valueFrom was ruled out before). */
function containerMutator(ctx: Ctx, index: number, c: Obj, service: string): void {
  const name = str(c['name']) ?? `#${index}`;
  const base = `/spec/containers/${index}`;
  const env = objs(c['env']);
  // Its own mark: a container that already has the bundle mounted is injected already.
  if (objs(c['volumeMounts']).some((m) => m['name'] === VOLUME_NAME)) return;
  const own = new Set(env.map((e) => str(e['name'])));
  // Prepended in reverse so they end up in FIELD_REFS order, ahead of every $(…) use.
  for (const [n, field] of [...FIELD_REFS].reverse()) {
    if (own.has(n)) continue;
    addToList(ctx, c, 'env', `${base}/env`, { name: n, valueFrom: { fieldRef: { fieldPath: field } } }, true);
  }
  const current = objs(c['env']);
  const at = current.findIndex((e) => e['name'] === 'NODE_OPTIONS');
  if (at === -1) addToList(ctx, c, 'env', `${base}/env`, { name: 'NODE_OPTIONS', value: REQUIRE_FLAG });
  else {
    const value = str(current[at]!['value']) ?? '';
    if (!value.includes(REQUIRE_FLAG)) ctx.patch.push({ op: 'replace', path: `${base}/env/${at}/value`, value: value.trim() === '' ? REQUIRE_FLAG : `${value} ${REQUIRE_FLAG}` });
  }
  for (const [n, v] of otelEnv(ctx.settings, service, name)) {
    if (own.has(n)) continue;
    addToList(ctx, c, 'env', `${base}/env`, { name: n, value: v });
  }
  addToList(ctx, c, 'volumeMounts', `${base}/volumeMounts`, { name: VOLUME_NAME, mountPath: MOUNT_PATH, readOnly: true });
}

function annotationMutator(ctx: Ctx, injected: boolean, reason: string): void {
  const meta = ctx.pod['metadata'] as Obj;
  if (!isObj(meta['annotations'])) {
    ctx.patch.push({ op: 'add', path: '/metadata/annotations', value: {} });
    meta['annotations'] = {};
  }
  const ann = meta['annotations'] as Obj;
  for (const [k, v] of [
    [ANNOTATION_INJECTED, injected ? 'true' : 'false'],
    [ANNOTATION_REASON, reason],
  ] as const) {
    ctx.patch.push({ op: Object.hasOwn(ann, k) ? 'replace' : 'add', path: `/metadata/annotations/${pointer(k)}`, value: v });
    ann[k] = v;
  }
}

/** Which containers the pod names for injection (both annotations), or undefined for all. */
function namedContainers(pod: Obj): Set<string> | undefined {
  const ann = (pod['metadata'] as Obj)['annotations'];
  if (!isObj(ann)) return undefined;
  const v = str(ann[ANNOTATION_CONTAINERS]) ?? str(ann[ANNOTATION_OTEL_CONTAINERS]);
  if (v === undefined || v.trim() === '') return undefined;
  return new Set(v.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

/**
 * The patch for one pod. `pod` is the AdmissionReview's object; it is not changed (the mutators
 * work on a copy, so paths computed after an earlier add see the lists as they will be).
 */
export function mutatePod(original: Obj, namespaceAnnotations: Obj | undefined, settings: InjectionSettings): MutationResult {
  const pod = structuredClone(original);
  if (!isObj(pod['metadata'])) pod['metadata'] = {};
  const spec = isObj(pod['spec']) ? (pod['spec'] as Obj) : undefined;
  const ask = requested({ pod, namespaceAnnotations });
  if (ask.want === undefined) return { candidate: false, injected: false, reason: 'not requested', patch: [] };
  const meta = pod['metadata'] as Obj;
  const ann = isObj(meta['annotations']) ? (meta['annotations'] as Obj) : {};
  const marked = ann[ANNOTATION_INJECTED] === 'true' || objs(spec?.['initContainers']).some((c) => c['name'] === INIT_CONTAINER_NAME);
  // Idempotent: a pod already injected (a re-invocation, a controller re-applying it) is left as it is.
  if (marked) return { candidate: true, injected: true, reason: 'already injected', patch: [] };
  const ctx: Ctx = { pod, spec: spec ?? {}, settings, patch: [] };
  if (ask.want === false) {
    annotationMutator(ctx, false, `disabled by ${ask.from}`);
    return { candidate: true, injected: false, reason: `disabled by ${ask.from}`, patch: ctx.patch };
  }
  const containers = objs(spec?.['containers']);
  const wanted = namedContainers(pod);
  const skipped: string[] = [];
  const chosen: number[] = [];
  containers.forEach((c, i) => {
    if (wanted === undefined || wanted.has(str(c['name']) ?? '')) chosen.push(i);
  });
  if (wanted !== undefined) for (const n of wanted) if (!containers.some((c) => c['name'] === n)) skipped.push(`container ${n}: not in the pod`);
  const service = serviceName(pod, str(containers[chosen[0] ?? 0]?.['name']) ?? 'app');
  const injectedNames: string[] = [];
  if (spec !== undefined && chosen.length > 0) {
    // Decide per container first: nothing is added for a pod where no container can take it.
    const able = chosen.filter((i) => {
      const env = objs(containers[i]!['env']);
      const no = env.find((e) => e['name'] === 'NODE_OPTIONS' && e['valueFrom'] !== undefined);
      if (no !== undefined) skipped.push(`container ${str(containers[i]!['name'])}: NODE_OPTIONS is set through valueFrom, which the webhook cannot extend`);
      return no === undefined;
    });
    if (able.length > 0) {
      volumeMutator(ctx);
      initContainerMutator(ctx);
      for (const i of able) {
        containerMutator(ctx, i, containers[i]!, service);
        injectedNames.push(str(containers[i]!['name']) ?? `#${i}`);
      }
    }
  }
  const injected = injectedNames.length > 0;
  const reason = injected
    ? `requested by ${ask.from}; injected into ${injectedNames.join(', ')}${skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : ''}`
    : `requested by ${ask.from}, but no container could be injected${skipped.length > 0 ? `: ${skipped.join('; ')}` : ': the pod has no matching container'}`;
  annotationMutator(ctx, injected, reason);
  return { candidate: true, injected, reason, patch: ctx.patch };
}
