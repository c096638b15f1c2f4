import { setTimeout as delay } from 'node:timers/promises';
import type { KubeApiClient } from '../../enrich/k8s/api-client.js';
import { KubeApiError } from '../../enrich/k8s/kube-error.js';
import type { Logger } from '../../self/logger.js';
import { countAt, isJsonObject, type Json, objectAt, stringAt } from './kinds/json-fields.js';
import type { ClusterSelfMetrics } from './self-metrics.js';

/**
 * Leader election over a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection
 * package does it, so one gateway replica monitors the cluster at a time:
 *
 * - Every `retryPeriod` a candidate GETs the Lease. Absent: it creates it, naming itself (a 409
 *   AlreadyExists means another was faster). Held by another that renewed less than
 *   `leaseDuration` ago (timed on this replica's clock from the reads that saw the renewal, see
 *   #observe): it waits, and wakes when that lease runs out. Free, released or expired: it takes
 *   it with a PUT carrying the resourceVersion it read — optimistic concurrency, so of two
 *   candidates one gets 200 and the other 409 Conflict.
 * - The leader renews every `retryPeriod` the same way. It stops leading at once when a renewal
 *   shows another holder or loses a race (409 and the Lease is someone else's), and when no
 *   renewal has succeeded for `renewDeadline` — shorter than the lease, so it has stopped before
 *   any other replica may take over. A timer enforces that deadline even while a request hangs.
 * - Stopping while leading releases the Lease (holder cleared, duration 1 s), so the next leader
 *   takes over within a retry period instead of a lease duration.
 *
 * Every write carries `annotations()` (the delivered-events watermark), which the next leader
 * reads from the record it takes over.
 */

export interface LeaseRecord {
  readonly holder: string;
  readonly durationSeconds: number;
  readonly acquireTime: string;
  readonly renewTime: string;
  readonly transitions: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
}

export interface LeaseElectorOptions {
  readonly client: KubeApiClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly annotations: () => Readonly<Record<string, string>>;
  /** This replica now leads; `record` is the Lease as it took it over (the previous leader's annotations). */
  readonly onStartedLeading: (record: LeaseRecord) => void;
  /** This replica no longer leads; called before anything else happens. */
  readonly onStoppedLeading: (reason: 'lost' | 'deadline' | 'released') => void;
  readonly logger: Logger;
  readonly metrics: ClusterSelfMetrics;
  /** API failures other than losing races (RBAC, unreachable): for the health line. */
  readonly onError?: (err: KubeApiError) => void;
  readonly onOk?: () => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

type Attempt = { readonly leading: true; readonly record: LeaseRecord } | { readonly leading: false; readonly heldBy: string | undefined; readonly expiresInMs: number };

/** client-go's jitter factor: a candidate waits retryPeriod × [1, 1.2). */
const JITTER = 0.2;

export class LeaseElector {
  readonly #o: LeaseElectorOptions;
  readonly #path: string;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #leading = false;
  #lastRenewAt = 0;
  #deadline: NodeJS.Timeout | undefined;
  #observedKey = '';
  /** When (this replica's clock) the record last changed: the lease runs from here. */
  #observedAt = 0;
  /** When the Lease was last read (the record seen then was the previous one). */
  #lastReadAt = 0;
  #holder = '';

  constructor(options: LeaseElectorOptions) {
    this.#o = options;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases/${encodeURIComponent(options.name)}`;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Who holds the Lease as last seen ('' when free or not read yet). */
  get holder(): string {
    return this.#holder;
  }

  get identity(): string {
    return this.#o.identity;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops campaigning; a leader releases the Lease first (best effort, bounded by one request). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    if (this.#leading) {
      this.#stopLeading('released');
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let wait: number;
      // The renew deadline runs from when the request was sent, not answered: the renewTime it
      // wrote is from before, and a slow answer must not stretch this replica's term.
      const attemptAt = this.#now();
      try {
        const a = await this.#tryAcquireOrRenew(signal);
        if (signal.aborted) break;
        if (a.leading) {
          this.#lastRenewAt = attemptAt;
          this.#armDeadline();
          if (!this.#leading) {
            this.#leading = true;
            this.#o.metrics.leader.set(1);
            this.#o.metrics.leadership.inc({ change: 'acquired' });
            this.#o.logger.info({ lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity, transitions: a.record.transitions }, 'cluster monitor: this gateway holds the Lease and monitors the cluster');
            this.#o.onStartedLeading(a.record);
          }
          wait = this.#o.retryPeriodMs;
        } else {
          if (this.#leading) this.#stopLeading('lost');
          const retry = this.#o.retryPeriodMs * (1 + this.#random() * JITTER);
          // Wake when the holder's lease runs out rather than up to a retry period later.
          wait = a.heldBy !== undefined ? Math.max(1, Math.min(retry, a.expiresInMs + 1)) : retry;
        }
        this.#o.onOk?.();
      } catch (err) {
        if (signal.aborted) break;
        const e = err instanceof KubeApiError ? err : new KubeApiError('protocol', 0, (err as Error)?.message ?? 'lease request failed');
        this.#o.onError?.(e);
        // A leader keeps trying until its renew deadline passes (the timer ends it then).
        wait = this.#o.retryPeriodMs * (1 + this.#random() * JITTER);
      }
      await delay(wait, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }

  #armDeadline(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    const left = Math.max(0, this.#lastRenewAt + this.#o.renewDeadlineMs - this.#now());
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined;
      if (!this.#leading) return;
      // A timer may fire a little early by this clock: then wait out the rest.
      if (this.#now() - this.#lastRenewAt >= this.#o.renewDeadlineMs) this.#stopLeading('deadline');
      else this.#armDeadline();
    }, left);
    this.#deadline.unref();
  }

  #stopLeading(reason: 'lost' | 'deadline' | 'released'): void {
    if (!this.#leading) return;
    this.#leading = false;
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#o.metrics.leader.set(0);
    this.#o.metrics.leadership.inc({ change: reason });
    const msg =
      reason === 'released'
        ? 'cluster monitor: released the Lease'
        : reason === 'lost'
          ? 'cluster monitor: another gateway holds the Lease now; stopped monitoring'
          : 'cluster monitor: could not renew the Lease in time; stopped monitoring';
    if (reason === 'released') this.#o.logger.info({ identity: this.#o.identity }, msg);
    else this.#o.logger.warn({ identity: this.#o.identity, holder: this.#holder || undefined }, msg);
    this.#o.onStoppedLeading(reason);
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const now = this.#now();
    let current: Json | undefined;
    try {
      current = asLease(await this.#o.client.get(this.#path, signal));
      this.#count('get', 'ok');
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.reason !== 'not-found') {
        this.#count('get', 'error');
        throw err;
      }
      this.#count('get', 'not_found');
    }

    if (current === undefined) {
      const t = microTime();
      const spec = { holderIdentity: this.#o.identity, leaseDurationSeconds: this.#seconds(), acquireTime: t, renewTime: t, leaseTransitions: 0 };
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace, annotations: { ...this.#o.annotations() } }, spec };
      try {
        const created = asLease(await this.#o.client.write('POST', this.#path.slice(0, this.#path.lastIndexOf('/')), body, signal));
        this.#count('create', 'ok');
        this.#observe(created, now);
        return { leading: true, record: recordOf(created) };
      } catch (err) {
        if (err instanceof KubeApiError && err.reason === 'conflict') {
          this.#count('create', 'conflict');
          return { leading: false, heldBy: undefined, expiresInMs: 0 };
        }
        this.#count('create', 'error');
        throw err;
      }
    }

    this.#observe(current, now);
    const rec = recordOf(current);
    const mine = rec.holder === this.#o.identity;
    if (!mine && rec.holder.length > 0) {
      const expiresIn = this.#observedAt + rec.durationSeconds * 1000 - now;
      if (expiresIn > 0) return { leading: false, heldBy: rec.holder, expiresInMs: expiresIn };
    }

    const t = microTime();
    const spec: Record<string, unknown> = {
      ...objectAt(current, 'spec'),
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: this.#seconds(),
      renewTime: t,
    };
    if (!mine) {
      spec['acquireTime'] = t;
      spec['leaseTransitions'] = rec.transitions + 1;
    }
    const metadata = objectAt(current, 'metadata');
    // Taking over, the previous holder's annotations stay as they are: they are what the new
    // term starts from, and ours (from an older term) may be behind them.
    const annotations = mine ? { ...objectAt(metadata, 'annotations'), ...this.#o.annotations() } : objectAt(metadata, 'annotations');
    const body = { ...current, metadata: { ...metadata, annotations }, spec };
    try {
      const updated = asLease(await this.#o.client.write('PUT', this.#path, body, signal));
      this.#count('update', 'ok');
      this.#observe(updated, this.#now());
      return { leading: true, record: recordOf(updated) };
    } catch (err) {
      if (err instanceof KubeApiError && err.reason === 'conflict') {
        // Someone wrote it since it was read: the next GET says who.
        this.#count('update', 'conflict');
        return { leading: false, heldBy: rec.holder.length > 0 && !mine ? rec.holder : undefined, expiresInMs: 0 };
      }
      this.#count('update', 'error');
      throw err;
    }
  }

  /** Gives the Lease up: holder cleared, a 1 s duration (client-go's ReleaseOnCancel). */
  async #release(): Promise<void> {
    const signal = AbortSignal.timeout(Math.max(1000, this.#o.retryPeriodMs));
    let current: Json;
    try {
      // Read again: the renewal the stop cut short may have landed, and its version is the one to send.
      current = asLease(await this.#o.client.get(this.#path, signal));
      this.#count('get', 'ok');
    } catch (err) {
      this.#count('get', 'error');
      this.#o.logger.debug({ err }, 'cluster monitor: could not read the Lease to release it; it expires on its own');
      return;
    }
    if (recordOf(current).holder !== this.#o.identity) return;
    const t = microTime();
    const metadata = objectAt(current, 'metadata');
    const body = {
      ...current,
      metadata: { ...metadata, annotations: { ...objectAt(metadata, 'annotations'), ...this.#o.annotations() } },
      spec: { ...objectAt(current, 'spec'), holderIdentity: '', leaseDurationSeconds: 1, renewTime: t, acquireTime: t },
    };
    try {
      await this.#o.client.write('PUT', this.#path, body, signal);
      this.#count('update', 'ok');
    } catch (err) {
      this.#count('update', err instanceof KubeApiError && err.reason === 'conflict' ? 'conflict' : 'error');
      this.#o.logger.debug({ err }, 'cluster monitor: could not release the Lease; it expires on its own');
    }
  }

  /**
   * Notes the record and when it last changed. client-go takes "now" (the first read that shows
   * the change), which can be a whole poll interval after the renewal and so delays a take-over
   * past the lease duration. Here the change is known to have happened between the previous
   * read and this one; within that window the record's own renewTime says when (converted to
   * this process's clock). A writer whose clock runs behind cannot move it before the previous
   * read, so the take-over comes at most one poll interval early — still after the holder's renew
   * deadline (2/3 of the lease) has stopped it.
   */
  #observe(lease: Json, now: number): void {
    const rec = recordOf(lease);
    // The record as client-go compares it: holder, renew time, transitions (our own annotation moves too).
    const key = `${rec.holder}\u0000${rec.renewTime}\u0000${rec.transitions}`;
    if (key !== this.#observedKey) {
      const earliest = this.#observedKey === '' ? now : this.#lastReadAt;
      const renewedWall = Date.parse(rec.renewTime);
      const renewed = Number.isFinite(renewedWall) ? now - (Date.now() - renewedWall) : now;
      this.#observedKey = key;
      this.#observedAt = Math.min(now, Math.max(earliest, renewed));
    }
    this.#lastReadAt = now;
    this.#holder = rec.holder;
  }

  #seconds(): number {
    return Math.max(1, Math.round(this.#o.leaseDurationMs / 1000));
  }

  #count(verb: string, result: string): void {
    this.#o.metrics.leaseRequests.inc({ verb, result });
  }
}

function asLease(v: unknown): Json {
  if (!isJsonObject(v) || (v['kind'] !== undefined && v['kind'] !== 'Lease') || !isJsonObject(v['metadata'])) {
    throw new KubeApiError('protocol', 200, 'the Lease answer is not a Lease');
  }
  return v;
}

export function recordOf(lease: Json): LeaseRecord {
  const spec = objectAt(lease, 'spec');
  const metadata = objectAt(lease, 'metadata');
  const ann = objectAt(metadata, 'annotations');
  const annotations: Record<string, string> = {};
  for (const k in ann) if (typeof ann[k] === 'string') annotations[k] = ann[k];
  return {
    holder: stringAt(spec, 'holderIdentity'),
    durationSeconds: countAt(spec, 'leaseDurationSeconds') ?? 15,
    acquireTime: stringAt(spec, 'acquireTime'),
    renewTime: stringAt(spec, 'renewTime'),
    transitions: countAt(spec, 'leaseTransitions') ?? 0,
    annotations,
    resourceVersion: stringAt(metadata, 'resourceVersion'),
  };
}

/** A `metav1.MicroTime`: RFC 3339 with six fraction digits, UTC. */
export function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
