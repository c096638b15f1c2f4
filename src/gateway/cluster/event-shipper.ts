import { setTimeout as delay } from 'node:timers/promises';
import type { ReflectorHandler } from '../../enrich/k8s/reflector.js';
import { LogsEncoder } from '../../export/otlp/logs-encoder.js';
import { type AttrValue, type LogRecord, nowUnixNano, type Resource, type Scope, Severity } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import { type ClusterEvent, resourceVersionOrder } from './event.js';
import type { EventCheckpoint } from './event-checkpoint.js';
import type { ClusterOutput } from './output.js';
import type { ResourceBuilder } from './resources.js';
import type { ClusterSelfMetrics } from './self-metrics.js';

/**
 * Kubernetes events to OTLP log events, each version of an event exactly once. The events watch
 * hands every event it lists or sees; those at or below the delivered resourceVersion
 * (EventCheckpoint: this replica's file, the Lease's annotation) were sent before — by this
 * gateway before a restart, or by the previous leader — and are skipped. The rest are queued in
 * resourceVersion order and delivered in batches; the checkpoint moves past a batch only once
 * the output took it, and is written before the next batch goes. A busy output (503) is waited
 * for and the same batch sent again; nothing is dropped for it.
 *
 * A series (`series.count` going up) is a new version of the same event: it is sent again, with
 * the new count, as a new record. A watch restart or a 410 re-list repeats nothing: what was
 * queued is remembered by version too.
 */

export interface EventShipperOptions {
  readonly output: ClusterOutput;
  readonly resources: ResourceBuilder;
  readonly checkpoint: EventCheckpoint;
  readonly scope: Scope;
  readonly logger: Logger;
  readonly metrics: ClusterSelfMetrics;
  /** Events per request. */
  readonly batchSize?: number;
  /** Most events queued; beyond, the oldest are dropped (counted) — a cluster emitting faster than the output takes. */
  readonly maxQueued?: number;
  /** Longest wait before a busy output is asked again. */
  readonly maxRetryMs?: number;
  /**
   * True once every monitored kind is listed. An event names its object's owners (a pod's
   * ReplicaSet and Deployment) from those lists: the first batch of a term waits for them.
   */
  readonly objectsListed?: () => boolean;
  /** Longest a term's first batch waits for `objectsListed` (default 10 s: an API server that cannot list a kind does not hold events back). */
  readonly listWaitMs?: number;
}

/** Events the API writes whose resourceVersions are not numbers are told apart by this many uid@version keys. */
const MAX_UNORDERED_SEEN = 100_000;

export class EventShipper {
  readonly #o: EventShipperOptions;
  readonly #encoder = new LogsEncoder();
  readonly #batchSize: number;
  readonly #maxQueued: number;
  readonly #maxRetryMs: number;
  #queue: ClusterEvent[] = [];
  /** Highest version queued or delivered this term: the watch and a re-list repeat nothing below it. */
  #highest: bigint | undefined;
  /** For servers whose versions are not ordered: versions seen this term (bounded). */
  readonly #unordered = new Set<string>();
  #warnedUnordered = false;
  #warnedAhead = false;
  #checkpointFailed = false;
  #active = false;
  /** When this term began (performance.now()): the first batch's wait for the lists counts from it. */
  #termStarted = 0;
  #pumping: Promise<void> | undefined;
  #abort = new AbortController();

  constructor(options: EventShipperOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#maxRetryMs = options.maxRetryMs ?? 5000;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Starts a term (this replica now leads) from the delivered version `from`. */
  start(from: bigint | undefined): void {
    this.#o.checkpoint.reset(from);
    this.#highest = from;
    this.#queue = [];
    this.#unordered.clear();
    this.#abort = new AbortController();
    this.#active = true;
    this.#termStarted = performance.now();
  }

  /**
   * Ends the term at once: nothing more is delivered; what was queued is the next leader's. A
   * delivery already made still moves the checkpoint (`drained()` waits for that).
   */
  stop(): void {
    this.#active = false;
    this.#abort.abort();
    this.#queue = [];
    this.#o.metrics.eventsQueued.set(0);
  }

  /** Resolves when what is queued now has been delivered (or the term ended). */
  async drained(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
  }

  readonly handler: ReflectorHandler<ClusterEvent> = {
    replace: (items, listResourceVersion) => {
      const list = listResourceVersion === undefined ? undefined : resourceVersionOrder(listResourceVersion);
      if (list !== undefined && this.#highest !== undefined && this.#highest > list && !this.#warnedAhead) {
        // Delivered "beyond" what the cluster lists now. A lagging watch cache does this for a
        // moment (the watch then catches up, and nothing below the watermark is sent twice);
        // an etcd restored without --bump-revision does it for good, and its events are not sent
        // until its versions pass the watermark: worth a line.
        this.#warnedAhead = true;
        this.#o.logger.warn({ delivered: String(this.#highest), list: String(list) }, 'Kubernetes events: the API server lists an older resourceVersion than already delivered; events up to the delivered one are not sent again');
      }
      const fresh = items.filter((e) => this.#isNew(e));
      fresh.sort(byOrder);
      for (const e of fresh) this.#enqueue(e);
      this.#kick();
    },
    upsert: (e) => {
      if (!this.#isNew(e)) return;
      this.#enqueue(e);
      this.#kick();
    },
    // A deleted event (its TTL ran out) was delivered while it lived; nothing to send.
    remove: () => undefined,
  };

  #isNew(e: ClusterEvent): boolean {
    if (!this.#active) return false;
    if (e.order === undefined) {
      if (!this.#warnedUnordered) {
        this.#warnedUnordered = true;
        this.#o.logger.warn({ resourceVersion: e.resourceVersion }, 'Kubernetes events: this API server’s resourceVersions are not numbers; events are de-duplicated in memory only, and a gateway restart may send some again');
      }
      const key = `${e.uid}@${e.resourceVersion}`;
      if (this.#unordered.has(key)) {
        this.#o.metrics.events.inc({ result: 'skipped' });
        return false;
      }
      if (this.#unordered.size >= MAX_UNORDERED_SEEN) this.#unordered.clear();
      this.#unordered.add(key);
      return true;
    }
    if (this.#highest !== undefined && e.order <= this.#highest) {
      this.#o.metrics.events.inc({ result: 'skipped' });
      return false;
    }
    return true;
  }

  #enqueue(e: ClusterEvent): void {
    if (e.order !== undefined) this.#highest = e.order;
    if (this.#queue.length >= this.#maxQueued) {
      this.#queue.shift();
      this.#o.metrics.events.inc({ result: 'dropped' });
    }
    this.#queue.push(e);
    this.#o.metrics.eventsQueued.set(this.#queue.length);
  }

  #kick(): void {
    if (this.#pumping !== undefined || this.#queue.length === 0) return;
    // After the current turn: a list handing over thousands of events is queued whole first.
    this.#pumping = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#pump())
      .catch((err: unknown) => this.#o.logger.error({ err }, 'Kubernetes events: delivery failed'))
      .finally(() => {
        this.#pumping = undefined;
        if (this.#active && this.#queue.length > 0) this.#kick();
      });
  }

  async #pump(): Promise<void> {
    const signal = this.#abort.signal;
    const listed = this.#o.objectsListed;
    const waitUntil = this.#termStarted + (this.#o.listWaitMs ?? 10_000);
    // The signal too: a term that ended and began again must not leave this loop spinning on a
    // delay that its aborted signal rejects at once.
    while (listed !== undefined && this.#active && !signal.aborted && !listed() && performance.now() < waitUntil) {
      await delay(50, undefined, { signal, ref: false }).catch(() => undefined);
    }
    while (this.#active && this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#batchSize);
      const body = this.#encoder.encode(this.#records(batch));
      let wait = 100;
      for (;;) {
        // Checked right before each delivery: a term that ended delivers nothing more.
        if (!this.#active) return;
        const outcome = await this.#o.output.deliver('logs', body, batch.length);
        if (outcome.ok) {
          this.#o.metrics.deliveries.inc({ signal: 'logs', result: 'ok' });
          this.#o.metrics.events.inc({ result: 'sent' }, batch.length);
          break;
        }
        if (!outcome.retryable) {
          this.#o.metrics.deliveries.inc({ signal: 'logs', result: 'dropped' });
          this.#o.metrics.events.inc({ result: 'dropped' }, batch.length);
          this.#o.logger.warn({ reason: outcome.reason, events: batch.length }, 'Kubernetes events refused by the gateway; dropped');
          break;
        }
        this.#o.metrics.deliveries.inc({ signal: 'logs', result: 'retry' });
        wait = Math.min(this.#maxRetryMs, Math.max(outcome.retryAfterMs, wait * 2));
        await delay(wait, undefined, { signal, ref: false }).catch(() => undefined);
      }
      // Delivered: these are no longer the queue's (the queue only grew at its end meanwhile),
      // and the checkpoint says so even when the term ended during the delivery — it happened.
      this.#queue.splice(0, batch.length);
      this.#o.metrics.eventsQueued.set(this.#queue.length);
      let top: bigint | undefined;
      for (const e of batch) if (e.order !== undefined && (top === undefined || e.order > top)) top = e.order;
      if (top !== undefined) {
        try {
          await this.#o.checkpoint.advance(top);
          this.#checkpointFailed = false;
        } catch (err) {
          // The Lease still carries it; the file is for a restart of this replica.
          if (!this.#checkpointFailed) this.#o.logger.warn({ err }, 'Kubernetes events: cannot write the delivery checkpoint; a restart of this gateway may send some again');
          this.#checkpointFailed = true;
        }
      }
    }
  }

  #records(batch: readonly ClusterEvent[]): LogRecord[] {
    const observed = nowUnixNano();
    const resources = new Map<string, Resource>();
    const out: LogRecord[] = [];
    for (const e of batch) {
      const r = e.regarding;
      const key = `${r.kind}/${r.uid}/${r.namespace}/${r.name}`;
      let resource = resources.get(key);
      if (resource === undefined) {
        resource = this.#o.resources.reference(r);
        resources.set(key, resource);
      }
      out.push({
        resource,
        scope: this.#o.scope,
        timeUnixNano: BigInt(e.lastMs) * 1_000_000n,
        observedTimeUnixNano: observed,
        severityNumber: e.type === 'Warning' ? Severity.WARN : e.type === 'Normal' ? Severity.INFO : Severity.UNSPECIFIED,
        severityText: e.type,
        body: e.note,
        attributes: eventAttributes(e),
        eventName: 'k8s.event',
      });
    }
    return out;
  }
}

function byOrder(a: ClusterEvent, b: ClusterEvent): number {
  if (a.order === undefined || b.order === undefined) return 0;
  return a.order < b.order ? -1 : a.order > b.order ? 1 : 0;
}

/**
 * The record's attributes: the event's own (`k8s.event.*`, as the OpenTelemetry log semantic
 * conventions for Kubernetes events name them), and the involved object's reference
 * (`k8s.object.*`, as the Collector's k8sevents receiver names it).
 */
function eventAttributes(e: ClusterEvent): Record<string, AttrValue> {
  const r = e.regarding;
  const a: Record<string, AttrValue> = {
    'k8s.event.uid': e.uid,
    'k8s.event.name': e.name,
    'k8s.event.reason': e.reason,
    'k8s.event.count': e.count,
    'k8s.event.start_time': new Date(e.firstMs).toISOString(),
    'k8s.object.kind': r.kind,
    'k8s.object.name': r.name,
  };
  if (e.action.length > 0) a['k8s.event.action'] = e.action;
  if (r.uid.length > 0) a['k8s.object.uid'] = r.uid;
  if (r.apiVersion.length > 0) a['k8s.object.api_version'] = r.apiVersion;
  if (r.fieldPath.length > 0) a['k8s.object.fieldpath'] = r.fieldPath;
  if (e.reportingController.length > 0) a['sextant.k8s.event.reporting_controller'] = e.reportingController;
  if (e.reportingInstance.length > 0) a['sextant.k8s.event.reporting_instance'] = e.reportingInstance;
  // With the uid, a unique key for this version of the event: a store can refuse a second copy.
  a['sextant.k8s.event.resource_version'] = e.resourceVersion;
  return a;
}
