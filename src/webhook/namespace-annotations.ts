import type { KubeApiClient } from '../enrich/k8s/api-client.js';

type Obj = Record<string, unknown>;

/**
 * A namespace's annotations, for the namespace-wide inject annotation (a pod's AdmissionReview
 * does not carry them). Read with `get` on namespaces, kept `ttlMs`; a failed read answers
 * undefined (the pod's own annotations still decide) and is tried again on the next pod.
 */
export class NamespaceAnnotations {
  readonly #client: KubeApiClient | undefined;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { at: number; annotations: Obj | undefined }>();
  readonly #now: () => number;

  constructor(client: KubeApiClient | undefined, ttlMs: number, now: () => number = Date.now) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  async get(namespace: string): Promise<Obj | undefined> {
    if (this.#client === undefined || namespace === '') return undefined;
    const hit = this.#cache.get(namespace);
    if (hit !== undefined && this.#now() - hit.at < this.#ttlMs) return hit.annotations;
    try {
      const ns = (await this.#client.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}`)) as { metadata?: { annotations?: unknown } } | null;
      const a = ns?.metadata?.annotations;
      const annotations = typeof a === 'object' && a !== null && !Array.isArray(a) ? (a as Obj) : undefined;
      if (this.#cache.size > 4096) this.#cache.clear();
      this.#cache.set(namespace, { at: this.#now(), annotations });
      return annotations;
    } catch {
      return undefined;
    }
  }
}
