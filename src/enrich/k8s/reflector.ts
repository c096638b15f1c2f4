import { setTimeout as delay } from 'node:timers/promises';
import type { BoundCounter, Counter } from '../../self/registry.js';
import type { KubeApiClient } from './api-client.js';
import type { ApiHealth } from './api-health.js';
import { Backoff } from './backoff.js';
import { KubeApiError, reasonForStatus } from './kube-error.js';
import { continueOf, resourceVersionOf, statusOf } from './objects.js';
import { NdjsonLines } from '../../io/ndjson-lines.js';

/**
 * List + watch of one resource, kept in step with the API server the way client-go's reflector
 * does it: list (in pages), then watch from the list's resourceVersion with bookmarks, move the
 * resourceVersion along with every event and bookmark, watch again from there when the server
 * ends the stream (its timeoutSeconds), and list again when the server says 410 Gone (as an HTTP
 * status or as an ERROR event): the history it would need to replay is compacted away. Failures
 * back off with jitter (to `maxBackoffMs`) and are reported to ApiHealth, which logs once.
 */

export interface ReflectorHandler<T> {
  /** A full list arrived: these are all the objects now (others are gone), as of `resourceVersion` (the list's). */
  replace(items: readonly T[], resourceVersion?: string): void;
  upsert(item: T): void;
  remove(item: T): void;
}

export interface ReflectorMetrics {
  readonly events: Counter;
  readonly dropped: Counter;
  readonly relists: Counter;
  readonly errors: Counter;
}

export interface ReflectorOptions<T> {
  /** `pods`, `namespaces`: the name in logs, status and metric labels. */
  readonly resource: string;
  readonly client: KubeApiClient;
  /** `/api/v1/pods` */
  readonly path: string;
  /** Query parameters of both list and watch (`fieldSelector`). */
  readonly query?: Readonly<Record<string, string>>;
  readonly convert: (obj: unknown) => T | undefined;
  readonly handler: ReflectorHandler<T>;
  readonly health: ApiHealth;
  readonly metrics: ReflectorMetrics;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Items per list page. */
  readonly pageSize: number;
  /** Longest watch line (one event) read; a longer one is dropped and counted. */
  readonly maxLineBytes: number;
  /** Server-side watch length; each watch asks for a random length in [min, 2·min) so agents spread out. */
  readonly watchSeconds: number;
  readonly random?: () => number;
}

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);
/** A watch that ends this soon without an event is treated as a failure (no tight re-watch loop). */
const MIN_HEALTHY_WATCH_MS = 1000;

type WatchEnd = 'ended' | 'gone';

export class Reflector<T> {
  readonly #o: ReflectorOptions<T>;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  readonly #splitter: NdjsonLines;
  #resourceVersion: string | undefined;
  #running: Promise<void> | undefined;
  readonly #events: Record<string, BoundCounter>;
  readonly #dropped: Record<string, BoundCounter>;
  readonly #relists: BoundCounter;
  readonly #onHealthy = (): void => this.#o.health.ok(this.#o.resource);
  /** Lists done (for tests and status). */
  lists = 0;
  watches = 0;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs, this.#random);
    this.#splitter = new NdjsonLines(options.maxLineBytes);
    const r = options.resource;
    const m = options.metrics;
    this.#events = Object.fromEntries([...EVENT_TYPES].map((t) => [t, m.events.bind({ resource: r, type: t.toLowerCase() })]));
    this.#dropped = Object.fromEntries(['malformed', 'oversized', 'invalid_utf8', 'truncated'].map((k) => [k, m.dropped.bind({ resource: r, reason: k })]));
    this.#relists = m.relists.bind({ resource: r });
  }

  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let gone = 0;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) {
          await this.#list(signal);
          this.#o.health.ok(this.#o.resource);
        }
        const end = await this.#watch(signal);
        if (end === 'gone') {
          this.#resourceVersion = undefined;
          this.#relists.inc();
          // Compaction can outrun a slow relist; past two in a row, wait like any failure.
          if (++gone > 2) await this.#wait(new KubeApiError('gone', 410, 'resourceVersion too old again after re-list'), signal);
          continue;
        }
        gone = 0;
      } catch (err) {
        if (signal.aborted) break;
        const e = err instanceof KubeApiError ? err : new KubeApiError('protocol', 0, (err as Error)?.message ?? 'unexpected failure');
        if (e.reason === 'gone') {
          // A 410 on the list (an expired continue token) or on the watch request: list again.
          this.#resourceVersion = undefined;
          this.#relists.inc();
          if (++gone <= 2) continue;
        }
        await this.#wait(e, signal);
      }
    }
  }

  async #wait(err: KubeApiError, signal: AbortSignal): Promise<void> {
    this.#o.metrics.errors.inc({ resource: this.#o.resource, reason: err.reason });
    const ms = this.#backoff.next();
    this.#o.health.failed(this.#o.resource, err, ms);
    await delay(ms, undefined, { signal, ref: false }).catch(() => undefined);
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams({ ...this.#o.query, ...extra });
    return `${this.#o.path}?${q.toString()}`;
  }

  async #list(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    let pages = 0;
    do {
      // The first page from the API server's watch cache (resourceVersion=0: no etcd read per
      // agent per relist, which matters with a DaemonSet on every node); later pages by token.
      const page = await this.#o.client.get(this.#query(cont === undefined ? { resourceVersion: '0', limit: String(this.#o.pageSize) } : { limit: String(this.#o.pageSize), continue: cont }), signal);
      const list = page as { items?: unknown };
      if (typeof page !== 'object' || page === null || !Array.isArray(list.items)) throw new KubeApiError('protocol', 200, `${this.#o.path}: a list without items`);
      for (const raw of list.items) {
        const item = this.#o.convert(raw);
        if (item === undefined) this.#dropped['malformed']!.inc();
        else items.push(item);
      }
      rv = resourceVersionOf(page);
      cont = continueOf(page);
      // A server that keeps handing out continue tokens would never end the list.
      if (++pages > 10_000) throw new KubeApiError('protocol', 200, `${this.#o.path}: more than 10000 list pages`);
    } while (cont !== undefined);
    if (rv === undefined) throw new KubeApiError('protocol', 200, `${this.#o.path}: a list without metadata.resourceVersion`);
    this.#o.handler.replace(items, rv);
    this.#resourceVersion = rv;
    this.lists++;
    this.#backoff.reset();
  }

  async #watch(signal: AbortSignal): Promise<WatchEnd> {
    const seconds = Math.floor(this.#o.watchSeconds * (1 + this.#random()));
    const path = this.#query({ watch: '1', resourceVersion: this.#resourceVersion!, allowWatchBookmarks: 'true', timeoutSeconds: String(seconds) });
    const startedAt = performance.now();
    // Bookmarks arrive about once a minute; a minute and a half of silence past the server's own
    // deadline means the connection is dead (a vanished API server leaves no FIN).
    const body = await this.#o.client.watch(path, signal, (seconds + 90) * 1000);
    this.watches++;
    // Open and quiet is healthy too (a node whose pods do not change): once the watch has held a
    // moment, the API counts as reachable again. Not at once: a server that accepts and drops at
    // once would otherwise flap between reachable and not.
    const healthy = setTimeout(this.#onHealthy, MIN_HEALTHY_WATCH_MS);
    healthy.unref();
    let seen = 0;
    let end = 'ended' as WatchEnd | KubeApiError;
    const onLine = (line: string): void => {
      if (end !== 'ended') return;
      const r = this.#event(line);
      if (r === undefined) return;
      seen++;
      if (r !== true) end = r;
    };
    try {
      for await (const chunk of body) {
        this.#splitter.push(chunk, onLine);
        if (end !== 'ended') break;
      }
    } catch (err) {
      this.#splitter.end();
      this.#countDrops();
      throw this.#o.client.wrapError(err, path);
    } finally {
      clearTimeout(healthy);
      body.destroy();
    }
    if (end === 'ended') this.#splitter.end();
    else this.#splitter.takeDrops(); // the rest of an abandoned stream is not a loss
    this.#countDrops();
    if (end instanceof KubeApiError) throw end;
    if (end === 'ended' && seen === 0 && performance.now() - startedAt < MIN_HEALTHY_WATCH_MS) {
      throw new KubeApiError('unavailable', 200, `${this.#o.path}: watch closed at once`);
    }
    if (seen > 0) {
      this.#o.health.ok(this.#o.resource);
      this.#backoff.reset();
    }
    return end;
  }

  #countDrops(): void {
    const d = this.#splitter.takeDrops();
    if (d.oversized > 0) this.#dropped['oversized']!.inc(d.oversized);
    if (d.invalid_utf8 > 0) this.#dropped['invalid_utf8']!.inc(d.invalid_utf8);
    if (d.truncated > 0) this.#dropped['truncated']!.inc(d.truncated);
  }

  /** Applies one watch line: true when applied, 'gone' or an error to end the watch, undefined when dropped. */
  #event(line: string): true | 'gone' | KubeApiError | undefined {
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      this.#dropped['malformed']!.inc();
      return undefined;
    }
    const type = (ev as { type?: unknown } | null)?.type;
    const object = (ev as { object?: unknown } | null)?.object;
    if (typeof type !== 'string' || !EVENT_TYPES.has(type) || typeof object !== 'object' || object === null) {
      this.#dropped['malformed']!.inc();
      return undefined;
    }
    this.#events[type]!.inc();
    if (type === 'ERROR') {
      const s = statusOf(object);
      if (s?.code === 410) return 'gone';
      const code = s?.code ?? 0;
      return new KubeApiError(code > 0 ? reasonForStatus(code) : 'failed', code, `${this.#o.path}: watch error ${code}${s?.message ? ` ${s.message}` : ''}`);
    }
    const rv = resourceVersionOf(object);
    if (type === 'BOOKMARK') {
      if (rv !== undefined) this.#resourceVersion = rv;
      return true;
    }
    const item = this.#o.convert(object);
    if (item === undefined) {
      this.#dropped['malformed']!.inc();
      return undefined;
    }
    if (type === 'DELETED') this.#o.handler.remove(item);
    else this.#o.handler.upsert(item);
    if (rv !== undefined) this.#resourceVersion = rv;
    return true;
  }
}
