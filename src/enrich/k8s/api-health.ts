import type { Logger } from '../../self/logger.js';
import type { KubeApiError } from './kube-error.js';

/** What the agent's readiness endpoint shows about Kubernetes metadata. */
export interface KubernetesStatus {
  /** off: not configured or not in a cluster; connecting: before the first list; synced; unavailable. */
  readonly state: 'off' | 'connecting' | 'synced' | 'unavailable';
  /** One line: why metadata is missing, or `ok`. Never a token. */
  readonly detail: string;
  /** Pods of this node known from the API. */
  readonly pods: number;
  /** Namespaces known from the API. */
  readonly namespaces: number;
  /** When the API was last heard from successfully (ms since the epoch); 0 never. */
  readonly lastSyncUnixMs: number;
}

/** At most one "unavailable" warning per this long. */
const WARN_EVERY_MS = 10 * 60_000;

/** What the lines say: what is lost while the API is away, and what RBAC must grant. */
export interface ApiHealthTexts {
  readonly unavailable: string;
  readonly back: string;
  readonly forbiddenHint: string;
}

const METADATA_TEXTS: ApiHealthTexts = {
  unavailable: 'records carry runtime and cgroup metadata only; retrying with backoff',
  back: 'Kubernetes API reachable again: pod metadata is back on records',
  forbiddenHint: 'the service account needs get/list/watch on pods and namespaces',
};

/**
 * The API's health as the watches see it, and the one place that logs about it. Losing the API
 * (no route, RBAC denied, server down) is one warning when it happens and one info line when it
 * comes back; failures in between, retried with backoff, are counted and logged at debug only.
 * Without the API every record still carries what the runtimes and cgroup paths say.
 */
export class ApiHealth {
  readonly #logger: Logger;
  readonly #failing = new Map<string, string>();
  readonly #synced = new Set<string>();
  readonly #components: readonly string[];
  #down = false;
  /** Whether this outage was announced (a warning at most every WARN_EVERY_MS: a flapping API is not a log stream). */
  #announced = false;
  #lastWarnAt = Number.NEGATIVE_INFINITY;
  #lastOkAt = 0;
  readonly #now: () => number;
  readonly #texts: ApiHealthTexts;

  constructor(logger: Logger, components: readonly string[], now: () => number = Date.now, texts: ApiHealthTexts = METADATA_TEXTS) {
    this.#logger = logger;
    this.#components = components;
    this.#now = now;
    this.#texts = texts;
  }

  ok(component: string): void {
    if (this.#synced.has(component) && !this.#failing.has(component)) {
      this.#lastOkAt = this.#now();
      return;
    }
    this.#synced.add(component);
    this.#lastOkAt = this.#now();
    if (!this.#failing.delete(component)) return;
    if (this.#down && this.#failing.size === 0) {
      this.#down = false;
      if (this.#announced) this.#logger.info({ component }, this.#texts.back);
      else this.#logger.debug({ component }, 'Kubernetes API reachable again');
      this.#announced = false;
    }
  }

  failed(component: string, err: KubeApiError, retryInMs: number): void {
    const detail = `${component}: ${err.reason} (${err.message})`;
    this.#failing.set(component, detail);
    if (this.#down) {
      this.#logger.debug({ component, reason: err.reason, status: err.status, retryInMs }, 'Kubernetes API still unavailable');
      return;
    }
    this.#down = true;
    const now = this.#now();
    if (now - this.#lastWarnAt < WARN_EVERY_MS) {
      this.#logger.debug({ component, reason: err.reason, status: err.status, retryInMs }, 'Kubernetes API unavailable again');
      return;
    }
    this.#lastWarnAt = now;
    this.#announced = true;
    const hint = err.reason === 'forbidden' ? ` (RBAC: ${this.#texts.forbiddenHint})` : '';
    this.#logger.warn({ component, reason: err.reason, status: err.status, detail: err.message, retryInMs }, `Kubernetes API unavailable${hint}: ${this.#texts.unavailable}`);
  }

  status(pods: number, namespaces: number): KubernetesStatus {
    let state: KubernetesStatus['state'];
    if (this.#failing.size > 0) state = 'unavailable';
    else if (this.#components.every((c) => this.#synced.has(c))) state = 'synced';
    else state = 'connecting';
    const detail = this.#failing.size > 0 ? [...this.#failing.values()].join('; ') : state === 'synced' ? 'ok' : 'waiting for the first list';
    return { state, detail, pods, namespaces, lastSyncUnixMs: this.#lastOkAt };
  }
}
