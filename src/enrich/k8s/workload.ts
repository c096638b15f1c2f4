import type { Logger } from '../../self/logger.js';
import type { Counter } from '../../self/registry.js';
import type { KubeApiClient } from './api-client.js';
import { KubeApiError } from './kube-error.js';
import { type KeyFilter, objectMeta, type OwnerRef, type PodIdentity } from './objects.js';

/**
 * A pod's workload, resolved the way Dynatrace's webhook does it: follow the controller owner
 * reference up through the well-known workload kinds to the root (a ReplicaSet to its
 * Deployment, a Job to its CronJob, a ReplicationController to its DeploymentConfig);
 * `k8s.workload.kind` is the root's kind in lower case and `k8s.workload.name` its name. A pod
 * without a well-known controller (bare, or owned by an operator's custom resource) is its own
 * workload: kind `pod`, name the pod's.
 *
 * Only the middle links need an API call (a GET of the ReplicaSet, Job or ReplicationController
 * for its own owner); those answers are cached, as a ReplicaSet's owner never changes. Until an
 * answer arrives, or when RBAC forbids the GET, a ReplicaSet named `<deployment>-<pod-template-hash>`
 * (what the Deployment controller names it) gives the Deployment's name anyway.
 */

export interface Workload {
  /** `deployment`, `statefulset`, `daemonset`, `job`, `cronjob`, `replicaset`, `replicationcontroller`, `deploymentconfig`, `pod`. */
  readonly kind: string;
  readonly name: string;
  /** `k8s.deployment.name`, `k8s.replicaset.uid`, … for every link of the chain. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Kinds whose own controller is looked up: kind → API path segment and the root kinds it may have. */
const MIDDLE: Readonly<Record<string, { readonly api: string; readonly resource: string; readonly apiVersion: string; readonly roots: Readonly<Record<string, string>> }>> = {
  ReplicaSet: { api: '/apis/apps/v1', resource: 'replicasets', apiVersion: 'apps/v1', roots: { Deployment: 'apps/v1' } },
  Job: { api: '/apis/batch/v1', resource: 'jobs', apiVersion: 'batch/v1', roots: { CronJob: 'batch/v1' } },
  ReplicationController: { api: '/api/v1', resource: 'replicationcontrollers', apiVersion: 'v1', roots: { DeploymentConfig: 'apps.openshift.io/v1' } },
};

/** Kinds that are a root when they own a pod directly. */
const ROOTS: Readonly<Record<string, string>> = {
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Deployment: 'apps/v1',
  CronJob: 'batch/v1',
  DeploymentConfig: 'apps.openshift.io/v1',
};

/**
 * Semantic-convention attribute keys per kind, written out in full so that grepping a key seen
 * in a backend finds this line.
 */
const LINK_KEYS: Readonly<Record<string, { readonly name: string; readonly uid: string }>> = {
  Deployment: { name: 'k8s.deployment.name', uid: 'k8s.deployment.uid' },
  ReplicaSet: { name: 'k8s.replicaset.name', uid: 'k8s.replicaset.uid' },
  StatefulSet: { name: 'k8s.statefulset.name', uid: 'k8s.statefulset.uid' },
  DaemonSet: { name: 'k8s.daemonset.name', uid: 'k8s.daemonset.uid' },
  Job: { name: 'k8s.job.name', uid: 'k8s.job.uid' },
  CronJob: { name: 'k8s.cronjob.name', uid: 'k8s.cronjob.uid' },
  ReplicationController: { name: 'k8s.replicationcontroller.name', uid: 'k8s.replicationcontroller.uid' },
};

/** The answer about a middle link's own controller. */
export type OwnerAnswer = { readonly state: 'known'; readonly owner: OwnerRef | undefined } | { readonly state: 'pending' } | { readonly state: 'failed' };

export const PENDING: OwnerAnswer = Object.freeze({ state: 'pending' });
const FAILED: OwnerAnswer = Object.freeze({ state: 'failed' });

/**
 * Where a middle link's (ReplicaSet, Job, ReplicationController) own controller comes from: an
 * API lookup in the agent (WorkloadResolver), the watched objects in the gateway's cluster monitor.
 */
export type OwnerLookup = (namespace: string, ref: OwnerRef) => OwnerAnswer;

/** The pod's workload from what `ownerOf` knows about the middle links now. */
export function resolveWorkload(pod: PodIdentity, ownerOf: OwnerLookup): Workload {
  const c = pod.controller;
  if (c === undefined) return podWorkload(pod);
  const middle = MIDDLE[c.kind];
  if (middle !== undefined && middle.apiVersion === c.apiVersion) {
    const attrs: Record<string, string> = {};
    link(attrs, c);
    const answer = ownerOf(pod.namespace, c);
    if (answer.state === 'known') {
      const root = answer.owner;
      if (root !== undefined && middle.roots[root.kind] === root.apiVersion) {
        link(attrs, root);
        return { kind: root.kind.toLowerCase(), name: root.name, attributes: Object.freeze(attrs) };
      }
      return { kind: c.kind.toLowerCase(), name: c.name, attributes: Object.freeze(attrs) };
    }
    // Not known (yet): the Deployment controller's naming gives the Deployment's name.
    const deployment = c.kind === 'ReplicaSet' ? deploymentFromReplicaSet(c.name, pod.labels['pod-template-hash']) : undefined;
    if (deployment !== undefined) {
      attrs['k8s.deployment.name'] = deployment;
      return { kind: 'deployment', name: deployment, attributes: Object.freeze(attrs) };
    }
    return { kind: c.kind.toLowerCase(), name: c.name, attributes: Object.freeze(attrs) };
  }
  if (ROOTS[c.kind] === c.apiVersion) {
    const attrs: Record<string, string> = {};
    link(attrs, c);
    return { kind: c.kind.toLowerCase(), name: c.name, attributes: Object.freeze(attrs) };
  }
  return podWorkload(pod);
}

export interface WorkloadResolverOptions {
  readonly client: KubeApiClient;
  readonly logger: Logger;
  readonly errors: Counter;
  /** Called when a lookup finished or a failed one may be tried again: pods are resolved again. */
  readonly onSettled: () => void;
  /** Most middle links cached (a node runs at most a few hundred pods). */
  readonly maxEntries?: number;
  /** How long a failed lookup waits before it is tried again. */
  readonly retryMs?: number;
}

export class WorkloadResolver {
  readonly #o: WorkloadResolverOptions;
  readonly #answers = new Map<string, OwnerAnswer>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  /** (resource, reason) pairs already logged: one line each per process, then counters only. */
  readonly #logged = new Set<string>();
  readonly #max: number;
  readonly #retryMs: number;

  constructor(options: WorkloadResolverOptions) {
    this.#o = options;
    this.#max = options.maxEntries ?? 4096;
    this.#retryMs = options.retryMs ?? 60_000;
  }

  /** The pod's workload from what is known now; starts the lookups still needed. */
  resolve(pod: PodIdentity): Workload {
    return resolveWorkload(pod, this.#lookup);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#inFlight);
  }

  /** Lookups cached (for tests). */
  get size(): number {
    return this.#answers.size;
  }

  readonly #lookup = (namespace: string, ref: OwnerRef): OwnerAnswer => {
    // The uid keeps a deleted-and-recreated ReplicaSet of the same name apart.
    const key = `${ref.kind}/${namespace}/${ref.name}/${ref.uid}`;
    const cached = this.#answers.get(key);
    if (cached !== undefined) return cached;
    if (this.#abort.signal.aborted) return FAILED;
    if (this.#answers.size >= this.#max) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.#answers.keys().next().value;
      if (oldest !== undefined) this.#answers.delete(oldest);
    }
    this.#answers.set(key, PENDING);
    const p = this.#fetch(key, namespace, ref);
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
    return PENDING;
  };

  async #fetch(key: string, namespace: string, ref: OwnerRef): Promise<void> {
    const m = MIDDLE[ref.kind]!;
    const path = `${m.api}/namespaces/${encodeURIComponent(namespace)}/${m.resource}/${encodeURIComponent(ref.name)}`;
    let answer: OwnerAnswer;
    try {
      const obj = await this.#o.client.get(path, this.#abort.signal);
      const meta = objectMeta(obj, KEEP_NONE);
      if (meta === undefined) throw new KubeApiError('protocol', 200, `${m.resource}: an answer without metadata`);
      answer = { state: 'known', owner: meta.controller };
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const e = err instanceof KubeApiError ? err : new KubeApiError('protocol', 0, (err as Error)?.message ?? 'lookup failed');
      this.#o.errors.inc({ resource: m.resource, reason: e.reason });
      const logKey = `${m.resource}/${e.reason}`;
      // An outage is the watches' to announce (ApiHealth), and a deleted owner is a normal race;
      // what is worth a line of its own is a lasting refusal (RBAC) or a broken answer, once each.
      const transient = e.reason === 'unavailable' || e.reason === 'timeout' || e.reason === 'not-found' || e.reason === 'unauthorized' || e.reason === 'config';
      if (transient) this.#o.logger.debug({ resource: m.resource, reason: e.reason, status: e.status }, `cannot get ${m.resource} for now`);
      else if (!this.#logged.has(logKey)) {
        this.#logged.add(logKey);
        this.#o.logger.warn(
          { resource: m.resource, reason: e.reason, status: e.status, detail: e.message },
          e.reason === 'forbidden'
            ? `cannot get ${m.resource} (RBAC): workloads above them are named from the pods alone`
            : `cannot get ${m.resource}: workloads above them are named from the pods alone for now`,
        );
      }
      answer = FAILED;
      // Forget the failure after a while so the lookup is tried again (RBAC fixed, API back).
      const t = setTimeout(() => {
        this.#timers.delete(t);
        if (this.#answers.get(key) === FAILED) this.#answers.delete(key);
        this.#o.onSettled();
      }, this.#retryMs);
      t.unref();
      this.#timers.add(t);
    }
    if (this.#answers.has(key)) this.#answers.set(key, answer);
    if (answer.state === 'known') this.#o.onSettled();
  }
}

/** A looked-up object's labels and annotations are not needed, only its owner. */
const KEEP_NONE: KeyFilter = { label: () => false, annotation: () => false };

function link(attrs: Record<string, string>, ref: OwnerRef): void {
  const keys = LINK_KEYS[ref.kind];
  if (keys === undefined) return;
  attrs[keys.name] = ref.name;
  if (ref.uid.length > 0) attrs[keys.uid] = ref.uid;
}

function podWorkload(pod: PodIdentity): Workload {
  return { kind: 'pod', name: pod.name, attributes: EMPTY };
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** `web-7d9f8b6c5d` with pod-template-hash `7d9f8b6c5d` → `web`; undefined when the name is not of that form. */
export function deploymentFromReplicaSet(replicaSet: string, hash: string | undefined): string | undefined {
  if (hash === undefined || hash.length === 0) return undefined;
  const suffix = `-${hash}`;
  if (!replicaSet.endsWith(suffix) || replicaSet.length === suffix.length) return undefined;
  return replicaSet.slice(0, -suffix.length);
}
