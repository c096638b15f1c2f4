import type { PodMetadataLookup } from '../enrich/k8s/pod-metadata-index.js';
import type { LogRecord, MetricPoint, Resource } from '../model/index.js';
import type { ProcReader } from '../native/types.js';
import type { Logger } from '../self/logger.js';
import type { Registry } from '../self/registry.js';

/**
 * Where a source puts what it read: the pipeline's three signals. Each `offer` returns false
 * when the record was not taken (logs: wait for `onLogsDrain`; metrics/events: the pipeline
 * already counted the drop).
 */
export interface RecordSink {
  offerMetric(point: MetricPoint): boolean;
  offerLog(record: LogRecord): boolean;
  offerEvent(event: LogRecord): boolean;
  onLogsDrain(listener: () => void): void;
}

/**
 * A source as ARCHITECTURE.md defines it: built by `create(config, deps)`, it knows nothing of
 * export. `collect` runs one collection cycle (the agent's scheduler calls it each interval and
 * `--once` calls it once); sources that stream (logs) use `start`/`stop` instead.
 */
export interface Source {
  readonly name: string;
  collect?(sink: RecordSink): Promise<void>;
  start?(sink: RecordSink): void;
  stop(): Promise<void>;
  /** Called once the pipeline has flushed at shutdown (or given up): final state writes (log checkpoints). */
  afterFlush?(): Promise<void>;
}

/**
 * What the agent gives every source's `create(config, deps)` besides its own config section:
 * the node's settings that are not one source's, the agent's shared services, and the sink.
 * A source that needs something another source owns adds it to its own deps (see `CreatedSource`).
 */
export interface SourceDeps {
  /** Where the host's filesystem is mounted (config `hostRoot`); every host path is read under it. */
  readonly hostRoot: string;
  /** Writable state (config `stateDir`): the boot id, log checkpoints. */
  readonly stateDir: string;
  /** `k8s.node.name` (config `nodeName`, else the host name); undefined leaves it off. */
  readonly nodeName: string | undefined;
  /** The host resource at creation; a later one arrives through `CreatedSource.setHostResource`. */
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** The one /proc reader the agent chose at start (native addon or JS fallback). */
  readonly reader: ProcReader;
  /** Where records offered outside a cycle go (start-up events, runtime events between cycles). */
  readonly sink: RecordSink;
}

/**
 * What a source's `create` resolves to: the source, and how what the agent learns after creating
 * it reaches it.
 *
 * Cross-source needs go one way only. A source that needs something another owns names it as a
 * field of its own deps (the process source's `bootTimeUnixNano`, the log source's
 * `containerMetadata`); the owner hands it out in `provides` under the same name; the agent's
 * source table builds the owner first and passes it on. No source imports another's `create`.
 */
export interface CreatedSource<S extends Source = Source, Provides extends object = object> {
  readonly source: S;
  /** The host resource changed (the inventory arrived, SIGHUP): later records carry the new one. */
  setHostResource(resource: Resource): void;
  /**
   * Pod metadata from the Kubernetes API, once the agent has it. Only sources of pod records
   * take it, and the agent watches the API only when one of them is built.
   */
  setPodMetadata?(pods: PodMetadataLookup): void;
  /** What the sources built after this one may take from it (see above). */
  readonly provides?: Provides;
}
