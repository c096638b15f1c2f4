import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MetricsEncoder } from '../../export/otlp/metrics-encoder.js';
import type { Attributes, MetricDescriptor, MetricPoint, Resource, Scope } from '../../model/index.js';
import { KINDS } from './kinds/index.js';
import type { PointSink } from './kinds/kind.js';
import { containerMetrics, type PodObject, podMetrics } from './kinds/pod.js';
import type { ObjectGraph } from './object-graph.js';
import type { ClusterOutput } from './output.js';
import type { ResourceBuilder } from './resources.js';
import type { ClusterSelfMetrics } from './self-metrics.js';

/**
 * One interval of cluster metrics: every object of every listed kind, through its kind's table,
 * into OTLP metric requests of at most `maxPoints` points each, handed to the output as they
 * fill. The event loop gets a turn between requests, so the gateway keeps serving its senders
 * while a large cluster is walked. A request the output refuses is dropped and counted: the next
 * interval carries the same state, fresher.
 */

export interface IntervalResult {
  readonly points: number;
  readonly requests: number;
  readonly dropped: number;
}

export interface MetricIntervalOptions {
  readonly graph: ObjectGraph;
  readonly resources: ResourceBuilder;
  readonly output: ClusterOutput;
  readonly scope: Scope;
  readonly metrics: ClusterSelfMetrics;
  /** Points per request: Dynatrace's OTLP ingest takes at most 15,000. */
  readonly maxPoints?: number;
}

export class MetricInterval implements PointSink {
  readonly #o: MetricIntervalOptions;
  readonly #encoder = new MetricsEncoder();
  readonly #maxPoints: number;
  #points: MetricPoint[] = [];
  #resource: Resource | undefined;
  #time = 0n;
  #start = 0n;
  #requests = 0;
  #dropped = 0;
  #total = 0;
  #stopped = true;

  constructor(options: MetricIntervalOptions) {
    this.#o = options;
    this.#maxPoints = options.maxPoints ?? 10_000;
  }

  /** A new term: intervals deliver again. */
  begin(): void {
    this.#stopped = false;
  }

  /** The term ended (the Lease is gone): nothing more is delivered, from the next request on. */
  stop(): void {
    this.#stopped = true;
    this.#points = [];
  }

  /**
   * Writes every point of one interval. `startUnixNano` is when monitoring began (the start of
   * the UpDownCounter series), `timeUnixNano` the interval's one timestamp.
   */
  async run(timeUnixNano: bigint, startUnixNano: bigint): Promise<IntervalResult> {
    this.#time = timeUnixNano;
    this.#start = startUnixNano;
    this.#requests = 0;
    this.#dropped = 0;
    this.#total = 0;
    const { graph, resources } = this.#o;
    for (const kind of KINDS) {
      if (kind.metrics.length === 0 || !graph.synced(kind.kind)) continue;
      if (kind.kind === 'Pod') {
        for (const p of graph.objects<PodObject>('Pod')) {
          if (this.#stopped) return this.#result();
          this.#writePod(p);
          if (this.#points.length >= this.#maxPoints) await this.#flush();
        }
        continue;
      }
      for (const o of graph.objects(kind.kind)) {
        if (this.#stopped) return this.#result();
        this.#resource = resources.object(o);
        for (const row of kind.metrics) row.write(o, this);
        if (this.#points.length >= this.#maxPoints) await this.#flush();
      }
    }
    await this.#flush();
    return this.#result();
  }

  point(metric: MetricDescriptor, attributes: Attributes, value: number): void {
    this.#points.push({
      descriptor: metric,
      resource: this.#resource!,
      scope: this.#o.scope,
      attributes,
      startTimeUnixNano: metric.kind === 'sum' ? this.#start : 0n,
      timeUnixNano: this.#time,
      value,
    });
  }

  #writePod(p: PodObject): void {
    const { resources } = this.#o;
    const attrs = resources.podAttributes(p);
    this.#resource = { attributes: attrs, key: `Pod/${p.uid}` };
    for (const row of podMetrics) row.write(p, this);
    for (const c of p.containers) {
      this.#resource = resources.container(p, attrs, c);
      for (const row of containerMetrics) row.write(c, this);
    }
  }

  async #flush(): Promise<void> {
    const points = this.#points;
    if (points.length === 0 || this.#stopped) return;
    this.#points = [];
    this.#total += points.length;
    this.#o.metrics.points.inc(undefined, points.length);
    const body = this.#encoder.encode(points, 'cumulative');
    if (body === null) return;
    const outcome = await this.#o.output.deliver('metrics', body, points.length);
    this.#requests++;
    if (outcome.ok) this.#o.metrics.deliveries.inc({ signal: 'metrics', result: 'ok' });
    else {
      this.#dropped += points.length;
      this.#o.metrics.deliveries.inc({ signal: 'metrics', result: 'dropped' });
    }
    // A turn for the gateway's own requests between two of ours.
    await yieldToLoop();
  }

  #result(): IntervalResult {
    return { points: this.#total, requests: this.#requests, dropped: this.#dropped };
  }
}
