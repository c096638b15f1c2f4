import { RuntimeError } from '../../errors.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import type { ContainerInfo, RuntimeClient, RuntimeEvent, RuntimeName, RuntimeWatch } from './types.js';

/**
 * What happened to a container, as Sextant reports it on the events signal. Derived from the
 * runtime's own events where it has a stream (Docker) and from successive lists where it has not
 * (CRI), so both runtimes give the same four.
 *   start    a container began running for the first time
 *   restart  it began running again: the engine restarted it (Docker), or kubelet started the
 *            next attempt of the same pod container (CRI: a new id, attempt > 0)
 *   exit     it stopped, with the exit code and reason when the runtime knows them
 *   oom      the kernel's OOM killer killed a process in it (not always its first process)
 */
export type LifecycleKind = 'start' | 'restart' | 'exit' | 'oom';

export interface LifecycleEvent {
  readonly kind: LifecycleKind;
  /** The latest the runtime said about the container. */
  readonly info: ContainerInfo;
  /** When it happened, from the runtime (start/finish time, event time); 0n when unknown. */
  readonly timeUnixNano: bigint;
  /** `exit`: the exit code (the runtime's event carries it even when the container already restarted). */
  readonly exitCode?: number;
}

export interface MetadataCacheOptions {
  /** Deadline of each runtime call: a hung runtime costs the cycle at most this. */
  readonly callTimeoutMs: number;
  /** How often a runtime with an event stream is listed in full anyway (events can be missed). */
  readonly resyncIntervalMs: number;
  /** First and longest delay before trying a runtime that failed again. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** How often a socket that was absent is looked for again (a runtime installed later). */
  readonly absentRetryMs?: number;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Monotonic milliseconds; injectable for tests. */
  readonly clock?: () => number;
}

type Status = 'new' | 'up' | 'down' | 'absent';

/** One runtime's side of the cache. */
class RuntimeSlot {
  status: Status = 'new';
  /** The reason it is down, to log a transition once rather than every retry. */
  downReason = '';
  backoffMs = 0;
  nextAttemptAt = 0;
  lastListAt = Number.NEGATIVE_INFINITY;
  /** True once a list succeeded: the containers of the first list started before us (no events). */
  synced = false;
  /** Answered once: a socket that vanishes afterwards is a runtime restarting, not one that is not installed. */
  everUp = false;
  watch: RuntimeWatch | undefined;
  /** Ids an event named since they were last inspected, with the events to report once they are. */
  readonly dirty = new Map<string, RuntimeEvent[]>();
  readonly containers = new Map<string, ContainerInfo>();
  busy: Promise<void> | undefined;
  constructor(readonly client: RuntimeClient) {}
}

const DEFAULT_BACKOFF_INITIAL_MS = 1000;
const DEFAULT_BACKOFF_MAX_MS = 60_000;
const DEFAULT_ABSENT_RETRY_MS = 60_000;
/** Dirty ids inspected per runtime at once; the rest wait for the next turn. */
const INSPECT_BATCH = 64;

/**
 * The node's containers as the runtimes name them: one cache shared by the container metrics
 * source, the events it emits and the log source (pod and container names for each log file).
 * Several runtimes may answer at once (minikube's docker driver has Docker and containerd); ids
 * are unique across them.
 *
 * Freshness: `refresh()` is called once per collection cycle. A runtime without an event stream
 * is listed each time (the client inspects only what changed); a runtime with a stream is
 * listed every `resyncIntervalMs` and otherwise inspects only the containers its events named,
 * at once when the event arrives, so lifecycle events go out within moments.
 *
 * Failure: every call has a deadline. An absent socket disables its runtime with one log line
 * (looked for again every `absentRetryMs`); a runtime that fails is retried with exponential
 * backoff, logging the transition down and the one back up, and its last known containers are
 * kept meanwhile (stale names beat no names).
 */
export class ContainerMetadataCache {
  readonly #slots: RuntimeSlot[];
  readonly #options: Required<Omit<MetadataCacheOptions, 'registry' | 'clock' | 'logger'>>;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #stop = new AbortController();
  readonly #listeners: ((e: LifecycleEvent) => void)[] = [];
  readonly #changeListeners: (() => void)[] = [];
  /** Merged view, rebuilt lazily after a change. */
  #byId = new Map<string, ContainerInfo>();
  #byPod = new Map<string, ContainerInfo[]>();
  #stale = true;
  /** OOM events reported per container since it last started: an OOMKilled exit adds none then. */
  readonly #oomReported = new Map<string, number>();
  /** Ids the cgroup walk found that no connected runtime knew when asked (asked again after a relist or a reconnect). */
  readonly #unresolved = new Set<string>();
  readonly #calls;
  readonly #events;
  #stopped = false;

  constructor(clients: readonly RuntimeClient[], options: MetadataCacheOptions) {
    this.#slots = clients.map((c) => new RuntimeSlot(c));
    this.#options = {
      callTimeoutMs: options.callTimeoutMs,
      resyncIntervalMs: options.resyncIntervalMs,
      backoffInitialMs: options.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
      absentRetryMs: options.absentRetryMs ?? DEFAULT_ABSENT_RETRY_MS,
    };
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => performance.now());
    this.#calls = options.registry?.counter('sextant_container_runtime_calls_total', 'Container runtime API calls by runtime and outcome (ok, absent, unavailable, timeout, protocol, failed).');
    this.#events = options.registry?.counter('sextant_container_lifecycle_events_total', 'Container lifecycle events derived from the runtimes, by kind.');
  }

  /** Runtimes that answered their last call. */
  get connected(): RuntimeName[] {
    return this.#slots.filter((s) => s.status === 'up').map((s) => s.client.runtime);
  }

  /** The state of each configured runtime socket, for readiness details and tests. */
  runtimeStatus(): { runtime: RuntimeName; socket: string; status: Status; reason: string }[] {
    return this.#slots.map((s) => ({ runtime: s.client.runtime, socket: s.client.socketPath, status: s.status, reason: s.downReason }));
  }

  onLifecycle(listener: (e: LifecycleEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Called after any container's metadata changed (a resource built from it may be stale). */
  onChange(listener: () => void): void {
    this.#changeListeners.push(listener);
  }

  get(id: string): ContainerInfo | undefined {
    this.#rebuild();
    return this.#byId.get(id);
  }

  /** The pod's containers and its sandbox, as known. */
  podContainers(podUid: string): readonly ContainerInfo[] {
    this.#rebuild();
    return this.#byPod.get(podUid) ?? [];
  }

  all(): IterableIterator<ContainerInfo> {
    this.#rebuild();
    return this.#byId.values();
  }

  get size(): number {
    this.#rebuild();
    return this.#byId.size;
  }

  /**
   * Brings every runtime up to date, within one call deadline each (they run in parallel). Never
   * rejects: failures become the runtime's status.
   */
  async refresh(): Promise<void> {
    if (this.#stopped) return;
    await Promise.all(this.#slots.map((s) => this.#turn(s, true)));
  }

  /**
   * Names containers the cgroup walk found before any runtime told us about them: one started
   * since the last list, or whose start event is still on its way. Each connected runtime is
   * asked about each unknown id (one inspect, within the call deadline), so a new container's
   * first series already carry its names rather than starting a nameless series that a later
   * cycle replaces. An id no runtime knows is not asked about again until a runtime relists or
   * reconnects (a container of a runtime without a socket, a node nested in a container).
   * `current` is every container id the walk found; others are forgotten.
   */
  async resolve(current: ReadonlySet<string>): Promise<void> {
    if (this.#stopped) return;
    for (const id of this.#unresolved) if (!current.has(id)) this.#unresolved.delete(id);
    const todo: string[] = [];
    for (const id of current) if (!this.#unresolved.has(id) && this.get(id) === undefined) todo.push(id);
    if (todo.length === 0) return;
    const up = this.#slots.filter((s) => s.status === 'up');
    await Promise.all(up.map((s) => this.#turnWith(s, () => this.#resolveIn(s, todo))));
    for (const id of todo) if (this.get(id) === undefined) this.#unresolved.add(id);
  }

  async #resolveIn(slot: RuntimeSlot, ids: readonly string[]): Promise<void> {
    try {
      for (const id of ids) {
        if (slot.containers.has(id) || this.get(id) !== undefined) continue;
        const info = await slot.client.inspect(id, this.#deadline());
        this.#count(slot, 'ok');
        if (info === undefined) continue;
        slot.containers.set(id, info);
        this.#changed();
        // A streaming runtime reports the start from its event (already queued or on its way);
        // a listed one would not see a change at its next list, so it is reported from here.
        if (!slot.client.watch && !slot.dirty.has(id)) this.#diff(slot, undefined, info);
      }
    } catch (err) {
      this.#markDown(slot, err);
    }
  }

  /**
   * Reports an OOM kill seen in a container's cgroup counters (the metrics source reads
   * `oom_kill`). Runtimes with their own OOM events (Docker) report those instead: this is for
   * the ones without, and for a child process killed while the container lives on.
   */
  reportOomKills(id: string, kills: number, timeUnixNano: bigint): void {
    const info = this.get(id);
    if (info === undefined || info.runtime === 'docker' || kills <= 0) return;
    for (let i = 0; i < kills; i++) this.#emit('oom', info, timeUnixNano);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    for (const s of this.#slots) {
      s.watch?.close();
      s.watch = undefined;
    }
    await Promise.all(this.#slots.map((s) => s.busy?.catch(() => undefined)));
    for (const s of this.#slots) s.client.close();
  }

  /** One turn for one runtime; turns of a runtime never overlap (a second caller waits for the first). */
  #turn(slot: RuntimeSlot, full: boolean): Promise<void> {
    return this.#turnWith(slot, () => this.#work(slot, full));
  }

  async #turnWith(slot: RuntimeSlot, fn: () => Promise<void>): Promise<void> {
    while (slot.busy) await slot.busy;
    if (this.#stopped) return;
    const work = fn().finally(() => {
      slot.busy = undefined;
    });
    slot.busy = work;
    await work;
  }

  async #work(slot: RuntimeSlot, full: boolean): Promise<void> {
    const now = this.#clock();
    if (slot.status !== 'up' && slot.status !== 'new' && now < slot.nextAttemptAt) return;
    const streaming = slot.watch !== undefined;
    const listDue = !streaming || now - slot.lastListAt >= this.#options.resyncIntervalMs || slot.status !== 'up';
    try {
      if (full && listDue) {
        // Open the stream before listing: an event during the list marks its id dirty and is
        // inspected right after, so nothing falls between the list and the stream.
        if (slot.client.watch && !slot.watch) this.#openWatch(slot);
        const listed = await slot.client.list(this.#deadline());
        this.#count(slot, 'ok');
        this.#applyList(slot, listed);
        this.#unresolved.clear();
        slot.lastListAt = this.#clock();
      }
      if (slot.dirty.size > 0) await this.#inspectDirty(slot);
      this.#markUp(slot);
    } catch (err) {
      this.#markDown(slot, err);
    }
  }

  #openWatch(slot: RuntimeSlot): void {
    const watchFn = slot.client.watch;
    if (!watchFn) return;
    let handle: RuntimeWatch | undefined;
    handle = watchFn.call(
      slot.client,
      (e) => this.#onRuntimeEvent(slot, e),
      (err) => {
        if (slot.watch !== handle) return;
        slot.watch = undefined;
        if (this.#stopped) return;
        // The stream ended: the runtime restarted or went away. The next refresh relists (which
        // reopens the stream) once the backoff allows.
        this.#markDown(slot, err ?? new RuntimeError(slot.client.runtime, 'unavailable', 'event stream ended'));
      },
    );
    slot.watch = handle;
  }

  #onRuntimeEvent(slot: RuntimeSlot, e: RuntimeEvent): void {
    if (this.#stopped) return;
    slot.client.invalidate(e.id);
    if (e.kind === 'destroy') {
      // Removed: its exit was reported from `die`; forget it.
      if (slot.containers.delete(e.id)) this.#changed();
      this.#oomReported.delete(e.id);
      slot.dirty.delete(e.id);
      return;
    }
    const pending = slot.dirty.get(e.id);
    if (pending) pending.push(e);
    else slot.dirty.set(e.id, [e]);
    // Inspect now rather than at the next cycle, so the event goes out within moments (it needs
    // the container's names). Turns queue, so a burst of events is a few inspections.
    if (slot.status === 'up') void this.#turn(slot, false);
  }

  async #inspectDirty(slot: RuntimeSlot): Promise<void> {
    let budget = INSPECT_BATCH;
    for (const [id, events] of slot.dirty) {
      if (budget-- === 0) break;
      const info = await slot.client.inspect(id, this.#deadline());
      this.#count(slot, 'ok');
      slot.dirty.delete(id);
      const old = slot.containers.get(id);
      if (info) slot.containers.set(id, info);
      else slot.containers.delete(id);
      if (old !== info) this.#changed();
      const known = info ?? old;
      if (known === undefined || known.sandbox) continue;
      for (const e of events) this.#fromRuntimeEvent(e, known, old);
    }
  }

  /**
   * A streamed event, reported with the container as inspected after it. The event is the
   * authority on what happened: by the time of the inspection a restart policy may already have
   * started the container again, so the exit code comes from the event.
   */
  #fromRuntimeEvent(e: RuntimeEvent, info: ContainerInfo, before: ContainerInfo | undefined): void {
    switch (e.kind) {
      case 'start': {
        // Started before, at another time (a resolve() may already hold this very start).
        const again = (before?.startedAtUnixNano !== undefined && before.startedAtUnixNano !== info.startedAtUnixNano) || info.restartCount > 0;
        this.#oomReported.delete(info.id);
        this.#emit(again ? 'restart' : 'start', info, e.timeUnixNano);
        return;
      }
      case 'exit':
        if (info.oomKilled && (this.#oomReported.get(info.id) ?? 0) === 0) this.#emit('oom', info, e.timeUnixNano);
        this.#emit('exit', info, e.timeUnixNano, e.exitCode ?? (info.state === 'exited' ? info.exitCode : undefined));
        return;
      case 'oom':
        this.#emit('oom', info, e.timeUnixNano);
        return;
      default:
        // create: nothing to report until it starts; restart: Docker sends die and start too.
        return;
    }
  }

  #applyList(slot: RuntimeSlot, listed: readonly ContainerInfo[]): void {
    const seen = new Set<string>();
    let changed = false;
    for (const info of listed) {
      seen.add(info.id);
      const old = slot.containers.get(info.id);
      if (old === info) continue;
      slot.containers.set(info.id, info);
      changed = true;
      // A container with events pending is reported from those, not from the list.
      if (slot.synced && !slot.dirty.has(info.id)) this.#diff(slot, old, info);
    }
    for (const [id, old] of slot.containers) {
      if (seen.has(id)) continue;
      slot.containers.delete(id);
      this.#oomReported.delete(id);
      changed = true;
      // Gone while we last saw it running: removed without our seeing it stop. Its exit code is
      // lost with it; the exit is still worth reporting.
      if (slot.synced && old.state === 'running' && !old.sandbox && !slot.dirty.has(id)) this.#emit('exit', old, 0n);
    }
    slot.synced = true;
    if (changed) this.#changed();
  }

  /** The lifecycle events between two views of one container. */
  #diff(slot: RuntimeSlot, old: ContainerInfo | undefined, now: ContainerInfo | undefined): void {
    if (now === undefined || now.sandbox || !slot.synced) return;
    const started = now.startedAtUnixNano;
    const newStart = started !== undefined && started !== old?.startedAtUnixNano && (now.state === 'running' || now.state === 'exited');
    if (newStart) {
      const again = old?.startedAtUnixNano !== undefined || now.restartCount > 0;
      this.#oomReported.delete(now.id);
      this.#emit(again ? 'restart' : 'start', now, started);
    }
    const exited =
      now.state === 'exited' &&
      (old === undefined || old.state !== 'exited' || (now.finishedAtUnixNano !== undefined && now.finishedAtUnixNano !== old.finishedAtUnixNano));
    if (exited) {
      if (now.oomKilled && (this.#oomReported.get(now.id) ?? 0) === 0) this.#emit('oom', now, now.finishedAtUnixNano ?? 0n);
      this.#emit('exit', now, now.finishedAtUnixNano ?? 0n);
    }
  }

  #emit(kind: LifecycleKind, info: ContainerInfo, timeUnixNano: bigint, exitCode?: number): void {
    if (kind === 'oom') this.#oomReported.set(info.id, (this.#oomReported.get(info.id) ?? 0) + 1);
    this.#events?.inc({ kind });
    const code = kind === 'exit' ? (exitCode ?? info.exitCode) : undefined;
    const event: LifecycleEvent = code === undefined ? { kind, info, timeUnixNano } : { kind, info, timeUnixNano, exitCode: code };
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#logger.error({ err: (err as Error).message }, 'container lifecycle listener failed');
      }
    }
  }

  #markUp(slot: RuntimeSlot): void {
    if (slot.status === 'up') return;
    const was = slot.status;
    slot.everUp = true;
    this.#unresolved.clear();
    slot.status = 'up';
    slot.downReason = '';
    slot.backoffMs = 0;
    const { runtime, socketPath } = slot.client;
    if (was === 'new') this.#logger.info({ runtime, socket: socketPath }, 'container runtime connected');
    else this.#logger.info({ runtime, socket: socketPath }, 'container runtime reachable again');
  }

  #markDown(slot: RuntimeSlot, err: unknown): void {
    const { runtime, socketPath } = slot.client;
    const reason = err instanceof RuntimeError ? err.reason : 'failed';
    this.#count(slot, reason);
    if (this.#stopped) return;
    const now = this.#clock();
    // A daemon removes its socket while it restarts: retried with backoff like any other failure,
    // where a socket never seen is looked for only every absentRetryMs.
    if (reason === 'absent' && !slot.everUp) {
      if (slot.status !== 'absent') {
        this.#logger.info({ runtime, socket: socketPath }, `no ${runtime} socket: ${runtime} containers are named from their cgroups only`);
      }
      slot.status = 'absent';
      slot.downReason = reason;
      slot.nextAttemptAt = now + this.#options.absentRetryMs;
      this.#closeWatch(slot);
      return;
    }
    slot.backoffMs = slot.backoffMs === 0 ? this.#options.backoffInitialMs : Math.min(this.#options.backoffMaxMs, slot.backoffMs * 2);
    // Jitter by up to a quarter so agents on many nodes do not retry a shared runtime in step.
    slot.nextAttemptAt = now + slot.backoffMs * (0.75 + Math.random() * 0.25);
    // One line per outage, whatever it goes through (reset, then no socket, then refused…).
    if (slot.status !== 'down') {
      this.#logger.warn(
        { runtime, socket: socketPath, reason, err: (err as Error).message },
        `${runtime} unreachable; retrying with backoff, its last known containers kept meanwhile`,
      );
    }
    slot.status = 'down';
    slot.downReason = reason;
    this.#closeWatch(slot);
  }

  #closeWatch(slot: RuntimeSlot): void {
    const w = slot.watch;
    slot.watch = undefined;
    w?.close();
  }

  #count(slot: RuntimeSlot, outcome: string): void {
    this.#calls?.inc({ runtime: slot.client.runtime, outcome });
  }

  #deadline(): AbortSignal {
    return AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#options.callTimeoutMs)]);
  }

  #changed(): void {
    this.#stale = true;
    for (const l of this.#changeListeners) l();
  }

  #rebuild(): void {
    if (!this.#stale) return;
    this.#stale = false;
    const byId = new Map<string, ContainerInfo>();
    const byPod = new Map<string, ContainerInfo[]>();
    for (const s of this.#slots) {
      for (const info of s.containers.values()) {
        byId.set(info.id, info);
        const uid = info.pod?.uid;
        if (uid === undefined) continue;
        const list = byPod.get(uid);
        if (list) list.push(info);
        else byPod.set(uid, [info]);
      }
    }
    this.#byId = byId;
    this.#byPod = byPod;
  }
}
