import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import type { ClusterGraph } from '../cluster/object-graph.js';
import type { PodObject } from '../cluster/kinds/pod.js';
import { entityId } from '../store/entities.js';
import type { Catalog } from '../store/index.js';
import { stableHash } from '../store/otlp-values.js';
import { stepOf, validateProblemsConfig, type ProblemsConfig } from './config.js';
import { connected, groupSignals, rank, type Candidate } from './correlate.js';
import { eventSignals } from './event-rules.js';
import { BASELINES, baselineSignals, clusterStateSignals, errorLogSignals, filesystemSignals, throttlingSignals, type StepSeries } from './metric-rules.js';
import type { EntityRef, Problem, ProblemEvidence, ProblemSignal } from './problem.js';
import { problemJson } from './problem.js';
import { deleteClosedBefore, loadProblems, saveProblem, type ProblemStoreAccess } from './problem-table.js';
import { ProblemMetrics } from './self-metrics.js';
import { SeriesReader } from './series-reader.js';
import type { Evidence, Signal } from './signal.js';
import { Topology } from './topology.js';
import { Webhook, type WebhookTuning } from './webhook.js';

/** What the engine needs of the store (the gateway's `TelemetryStore` fits). */
export interface ProblemEngineStore extends ProblemStoreAccess {
  readonly state: 'ready' | 'unavailable' | 'closed';
  readonly catalog: Catalog | undefined;
}

export interface ProblemEngineDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Wall-clock Unix ms; injectable so tests move time. */
  readonly clock?: (() => number) | undefined;
  /** The cluster monitor's graph, while this replica monitors (pod → node edges). */
  readonly clusterGraph?: (() => ClusterGraph | undefined) | undefined;
  readonly webhookTuning?: Partial<WebhookTuning> | undefined;
  /** Longest a store read of one evaluation may take. */
  readonly queryTimeoutMs?: number | undefined;
  /** Closed problems older than this are deleted (the store's gateway.retention); default 7 days. */
  readonly retentionMs?: number | undefined;
}

export interface EvaluationReport {
  readonly result: 'ok' | 'skipped' | 'failed';
  readonly signals: number;
  readonly opened: readonly string[];
  readonly closed: readonly string[];
}

/** The metrics the rules read, in one query. */
const THROTTLE_PERIODS = 'sextant.container.cpu.throttling.periods';
const THROTTLED_PERIODS = 'sextant.container.cpu.throttling.throttled_periods';
const FS_UTILIZATION = 'system.filesystem.utilization';
const STATE_METRICS = ['k8s.node.condition.status', 'k8s.container.status.reason', 'k8s.pod.status.phase'];
const READ_METRICS = [...new Set([...BASELINES.map((b) => b.metric), THROTTLE_PERIODS, THROTTLED_PERIODS, FS_UTILIZATION, ...STATE_METRICS])];
/** Metrics read only with the point attributes their baseline wants. */
const NARROWED: Readonly<Record<string, Readonly<Record<string, string>>>> = Object.fromEntries(BASELINES.filter((b) => b.attrs !== undefined).map((b) => [b.metric, b.attrs!]));
/** Most steps one series is read in: the step grows for longer windows. */
const MAX_STEPS = 2_000;
/** Most signals and evidence items a problem keeps. */
const MAX_SIGNALS = 50;
const MAX_EVIDENCE = 24;
const MAX_CANDIDATES = 5;
/** Log lines of the root cause kept as evidence. */
const ROOT_LOG_LINES = 5;
/** Spans searched for service → service calls. */
const PEER_LOOKBACK_MS = 15 * 60_000;
/** An open problem's lastActive is written at least this often (so a restart knows it). */
const PERSIST_EVERY_MS = 60_000;
/** How often closed problems past retention are deleted. */
const PRUNE_EVERY_MS = 3_600_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;

function ref(catalog: Catalog, id: string): EntityRef | null {
  const e = catalog.entity(id);
  return e === undefined ? null : { id: e.id, type: e.type, name: e.name };
}

function asSignal(p: ProblemSignal): Signal {
  return { key: p.key, kind: p.kind, role: p.role, entityId: p.entity?.id ?? '', onsetMs: p.onsetMs, lastMs: p.lastMs, active: p.active, title: p.title, strength: p.strength, evidence: [] };
}

/**
 * Problem detection in the gateway (the Davis role): every gateway.problems.interval it reads
 * the store (events, metric steps, error-log counts) through the query connections, runs the
 * event rules and the baselines, merges what overlaps in time and connects in the topology into
 * problems, ranks their candidate causes, and keeps the problems in the store. A problem is
 * found again by its signals' keys — after the next evaluation or a gateway restart alike — so
 * one cause never opens two problems.
 */
export class ProblemEngine {
  readonly #store: ProblemEngineStore;
  readonly #config: ProblemsConfig;
  readonly #deps: ProblemEngineDeps;
  readonly #clock: () => number;
  readonly #metrics: ProblemMetrics;
  readonly #webhook: Webhook | undefined;
  readonly #timeoutMs: number;
  /** Open problems, and closed ones still remembered (their keys stop old signals reopening). */
  #problems: Problem[] = [];
  #loaded = false;
  #running: Promise<EvaluationReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #persistedMs = new Map<string, number>();
  #failures = 0;
  #warnedTruncated = false;
  #prunedMs = 0;

  constructor(store: ProblemEngineStore, config: ProblemsConfig, deps: ProblemEngineDeps) {
    validateProblemsConfig(config);
    this.#store = store;
    this.#config = config;
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#timeoutMs = deps.queryTimeoutMs ?? 10_000;
    this.#metrics = new ProblemMetrics(deps.registry);
    this.#metrics.open.collect(() => this.#problems.filter((p) => p.status === 'open').length);
    if (config.webhookUrl !== undefined) {
      this.#webhook = new Webhook(config.webhookUrl, config.webhookSecret, { logger: deps.logger, counted: (result) => this.#metrics.webhook.inc({ result }) }, deps.webhookTuning);
    }
  }

  /** Problems in memory: open ones and those closed recently. */
  get problems(): readonly Problem[] {
    return this.#problems;
  }

  get webhook(): Webhook | undefined {
    return this.#webhook;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.evaluate().catch(() => undefined), this.#config.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
    await this.#webhook?.close();
  }

  /** One evaluation now (the timer's, or a test's); one at a time. */
  evaluate(): Promise<EvaluationReport> {
    if (this.#running !== undefined) {
      this.#metrics.evaluations.inc({ result: 'skipped' });
      return Promise.resolve({ result: 'skipped', signals: 0, opened: [], closed: [] });
    }
    const started = performance.now();
    this.#running = this.#evaluate()
      .then(
        (r) => {
          this.#failures = 0;
          return r;
        },
        (err: unknown) => {
          // Logged on the first failure of a run of them, then every 20th: a store that
          // is down fails every evaluation.
          if (this.#failures++ % 20 === 0) this.#deps.logger.warn({ err: err instanceof Error ? err.message : String(err), failures: this.#failures }, 'problem evaluation failed');
          return { result: 'failed' as const, signals: 0, opened: [], closed: [] };
        },
      )
      .then((r) => {
        this.#metrics.evaluations.inc({ result: r.result });
        if (r.result === 'ok') this.#metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
        return r;
      })
      .finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #evaluate(): Promise<EvaluationReport> {
    const store = this.#store;
    const catalog = store.catalog;
    if (store.state !== 'ready' || catalog === undefined) return { result: 'skipped', signals: 0, opened: [], closed: [] };
    const c = this.#config;
    const now = this.#clock();
    if (!this.#loaded) {
      this.#problems = await loadProblems(store, now - this.#memoryMs(), this.#timeoutMs);
      this.#loaded = true;
    }
    const step = Math.max(stepOf(c), Math.ceil(c.windowMs / MAX_STEPS));
    const to = Math.floor(now / step) * step;
    const from = to - Math.ceil(c.windowMs / step) * step;
    const reader = new SeriesReader(store, catalog, this.#timeoutMs, (rows) => {
      if (!this.#warnedTruncated) this.#deps.logger.warn({ rows }, 'problem detection read its row limit: some series were judged on part of their history; raise gateway.problems.step or shorten gateway.problems.window');
      this.#warnedTruncated = true;
    });
    const lookback = Math.max(c.crashLoopWindowMs, c.eventHoldMs) + c.pendingAfterMs;
    const [events, series, errors, peers] = await Promise.all([
      reader.events(now - lookback, now + 1),
      reader.steps(READ_METRICS, from, to, step, NARROWED),
      reader.errorCounts(from, to, step),
      this.#servicePeers(catalog, now),
    ]);
    const by = (name: string): StepSeries[] => series.filter((s) => s.metric === name);
    let signals: Signal[] = [
      ...eventSignals(events, now, c).filter((s) => s.active),
      ...throttlingSignals(by(THROTTLE_PERIODS), by(THROTTLED_PERIODS), c, step),
      ...filesystemSignals(by(FS_UTILIZATION), c, step),
      ...BASELINES.flatMap((b) => baselineSignals(b, by(b.metric), c, step)),
      ...errorLogSignals(errors, c, step),
      ...clusterStateSignals(series.filter((s) => STATE_METRICS.includes(s.metric)), c, step),
    ];
    const counts = new Map<string, number>();
    for (const s of signals) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
    for (const kind of ['crash_loop', 'oom_kill', 'nonzero_exit', 'image_pull', 'unschedulable', 'node_not_ready', 'node_pressure', 'node_reboot', 'filesystem_full', 'cpu_throttling', 'metric_anomaly', 'error_logs', 'rollout']) {
      this.#metrics.signals.set(counts.get(kind) ?? 0, { kind });
    }

    // A signal a closed problem already accounted for (its last sighting before the close)
    // opens nothing again: re-reading old events after a close or a restart is no new cause.
    const closedAt = new Map<string, number>();
    for (const p of this.#problems) if (p.status === 'closed' && p.closedMs !== null) for (const s of p.signals) closedAt.set(s.key, Math.max(closedAt.get(s.key) ?? 0, p.closedMs));
    signals = signals.filter((s) => s.entityId !== '' && catalog.entity(s.entityId) !== undefined && !(s.lastMs <= (closedAt.get(s.key) ?? -Infinity)));

    const topo = new Topology(catalog, this.#extraParents(), peers);
    const slack = Math.max(c.closeAfterMs, c.eventHoldMs);
    const open = this.#problems.filter((p) => p.status === 'open');
    const touched = new Map<Problem, Signal[]>();
    const unattached: Signal[] = [];
    for (const s of signals) {
      let home = open.find((p) => p.signals.some((ps) => ps.key === s.key));
      home ??= open.find((p) => p.signals.some((ps) => ps.entity !== null && (ps.active || ps.lastMs >= now - c.closeAfterMs) && connected(asSignal(ps), s, topo, slack)));
      if (home === undefined) unattached.push(s);
      else {
        let l = touched.get(home);
        if (l === undefined) touched.set(home, (l = []));
        l.push(s);
      }
    }

    const opened: string[] = [];
    const closed: string[] = [];
    // Existing problems: new signals, fresher evidence, the ranking again.
    for (const p of open) {
      const fresh = touched.get(p) ?? [];
      const before = `${p.signals.length} ${p.rootCause.id} ${p.status}`;
      const activeKeys = new Set(fresh.map((s) => s.key));
      for (const ps of p.signals) ps.active = activeKeys.has(ps.key);
      if (fresh.length > 0) {
        p.lastActiveMs = now;
        this.#absorb(p, fresh, catalog, now);
        await this.#rerank(p, topo, catalog, reader, now);
      } else if (now - p.lastActiveMs >= c.closeAfterMs) {
        p.status = 'closed';
        p.closedMs = now;
        p.history.push({ time: new Date(now).toISOString(), event: 'closed', detail: `no signal for ${Math.round((now - p.lastActiveMs) / 1000)} s` });
        closed.push(p.id);
        this.#metrics.closed.inc();
        this.#webhook?.send({ event: 'closed', problem: problemJson(p, false) });
      }
      await this.#persist(p, topo, now, before !== `${p.signals.length} ${p.rootCause.id} ${p.status}`);
    }

    // New problems: connected groups of the rest with at least one cause among them.
    for (const group of groupSignals(unattached, topo, slack)) {
      if (!group.some((s) => s.role === 'cause')) continue;
      const ranked = rank(group, topo);
      const top = ranked[0];
      if (top === undefined) continue;
      const rootSignal = top.signal ?? group.find((s) => s.role === 'cause')!;
      const causeKey = rootSignal.key;
      const openedMs = now;
      const p: Problem = {
        id: stableHash(`${causeKey}\u0000${openedMs}`),
        causeKey,
        title: '',
        status: 'open',
        openedMs,
        closedMs: null,
        lastActiveMs: now,
        rootCause: { id: top.entityId, type: 'host', name: '', why: '' },
        affected: [],
        candidates: [],
        signals: [],
        evidence: [],
        history: [{ time: new Date(now).toISOString(), event: 'opened', detail: group.map((s) => s.title).slice(0, 5).join('; ') }],
      };
      this.#absorb(p, group, catalog, now, false);
      await this.#rerank(p, topo, catalog, reader, now, ranked);
      this.#problems.push(p);
      opened.push(p.id);
      this.#metrics.opened.inc({ kind: rootSignal.kind });
      this.#deps.logger.info({ problem: p.id, title: p.title, root: p.rootCause.name }, 'problem opened');
      await this.#persist(p, topo, now, true);
      this.#webhook?.send({ event: 'opened', problem: problemJson(p, false) });
    }
    for (const id of closed) this.#deps.logger.info({ problem: id }, 'problem closed');

    if (now - this.#prunedMs >= PRUNE_EVERY_MS) {
      this.#prunedMs = now;
      await deleteClosedBefore(store, now - (this.#deps.retentionMs ?? DEFAULT_RETENTION_MS));
    }
    // Forget closed problems past memory.
    const keepSince = now - this.#memoryMs();
    this.#problems = this.#problems.filter((p) => p.status === 'open' || (p.closedMs ?? 0) >= keepSince);
    return { result: 'ok', signals: signals.length, opened, closed };
  }

  /** How long closed problems are remembered: longer than any signal can outlive its cause. */
  #memoryMs(): number {
    const c = this.#config;
    return c.windowMs + c.crashLoopWindowMs + c.eventHoldMs + c.pendingAfterMs + c.closeAfterMs;
  }

  /** Takes signals into a problem: new ones are added (history), known ones refreshed. */
  #absorb(p: Problem, signals: readonly Signal[], catalog: Catalog, now: number, recordHistory = true): void {
    for (const s of signals) {
      const known = p.signals.find((ps) => ps.key === s.key);
      if (known !== undefined) {
        known.onsetMs = Math.min(known.onsetMs, s.onsetMs);
        known.lastMs = Math.max(known.lastMs, s.lastMs);
        known.active = true;
        known.strength = Math.max(known.strength, s.strength);
        known.title = s.title;
      } else {
        p.signals.push({ key: s.key, kind: s.kind, role: s.role, entity: ref(catalog, s.entityId), title: s.title, onsetMs: s.onsetMs, lastMs: s.lastMs, active: true, strength: s.strength });
        if (recordHistory) p.history.push({ time: new Date(now).toISOString(), event: 'signal_added', detail: `${s.title} (${ref(catalog, s.entityId)?.name ?? s.entityId})` });
      }
      // The signal's latest evidence replaces what it showed before (a metric's by its name:
      // one entity may have several baselines of one kind).
      const metrics = new Set(s.evidence.map((e) => e.metric?.metric));
      const others = p.evidence.filter((e) => !(e.signal === s.kind && e.entity?.id === s.entityId && e.type !== 'log' && metrics.has(e.metric?.metric)));
      p.evidence = [...others, ...s.evidence.map((e) => problemEvidence(e, catalog))];
    }
    if (p.signals.length > MAX_SIGNALS) p.signals = p.signals.sort((a, b) => b.lastMs - a.lastMs).slice(0, MAX_SIGNALS);
  }

  async #rerank(p: Problem, topo: Topology, catalog: Catalog, reader: SeriesReader, now: number, given?: Candidate[]): Promise<void> {
    const ranked = given ?? rank(p.signals.filter((s) => s.entity !== null).map(asSignal), topo);
    const top = ranked[0];
    if (top === undefined) return;
    const rootRef = ref(catalog, top.entityId) ?? (p.rootCause.name !== '' ? p.rootCause : { id: top.entityId, type: 'host' as const, name: top.entityId });
    const rootSignal = top.signal;
    const previous = p.rootCause.id;
    const why = `${rootSignal?.title ?? 'several failing entities below it'}; ranked first by ${top.reasons.join(', ')}`;
    p.rootCause = { id: rootRef.id, type: rootRef.type, name: rootRef.name, why };
    p.title = `${rootSignal?.title ?? 'failures below'} — ${rootRef.type} ${rootRef.name}`;
    p.candidates = ranked.slice(0, MAX_CANDIDATES).flatMap((cand) => {
      const r = ref(catalog, cand.entityId);
      return r === null ? [] : [{ entity: r, score: cand.score, reasons: cand.reasons }];
    });
    const affected = new Map<string, EntityRef>();
    affected.set(rootRef.id, rootRef);
    for (const s of p.signals) if (s.entity !== null) affected.set(s.entity.id, s.entity);
    p.affected = [...affected.values()];
    if (previous !== rootRef.id || !p.evidence.some((e) => e.type === 'log')) {
      if (previous !== rootRef.id && p.history.length > 1) p.history.push({ time: new Date(now).toISOString(), event: 'root_cause_changed', detail: `${rootRef.type} ${rootRef.name}` });
      const since = Math.min(...p.signals.map((s) => s.onsetMs)) - 60_000;
      const lines = await reader.errorLines(rootRef.id, since, ROOT_LOG_LINES).catch(() => []);
      p.evidence = p.evidence.filter((e) => e.type !== 'log');
      if (lines.length > 0) p.evidence.push({ type: 'log', signal: rootSignal?.kind ?? 'error_logs', entity: rootRef, time: lines[0]!.time, summary: `the latest ${lines.length} error lines of ${rootRef.name}`, lines });
    }
    // The root cause's evidence first.
    p.evidence.sort((a, b) => Number(b.entity?.id === rootRef.id) - Number(a.entity?.id === rootRef.id));
    if (p.evidence.length > MAX_EVIDENCE) p.evidence = p.evidence.slice(0, MAX_EVIDENCE);
  }

  async #persist(p: Problem, topo: Topology, now: number, changed: boolean): Promise<void> {
    const last = this.#persistedMs.get(p.id) ?? 0;
    if (!changed && p.status === 'open' && now - last < PERSIST_EVERY_MS) return;
    const ids = new Set<string>();
    for (const e of p.affected) {
      ids.add(e.id);
      for (const a of topo.ancestors(e.id)) ids.add(a);
    }
    await saveProblem(this.#store, p, [...ids]);
    this.#persistedMs.set(p.id, now);
    if (p.status === 'closed') this.#persistedMs.delete(p.id);
  }

  /** pod → node from the cluster monitor's graph, where this replica monitors. */
  #extraParents(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    const graph = this.#deps.clusterGraph?.();
    if (graph === undefined) return out;
    for (const pod of graph.objects<PodObject>('Pod')) {
      if (pod.nodeName === '') continue;
      out.set(entityId('pod', pod.uid), new Set([entityId('host', pod.nodeName)]));
    }
    return out;
  }

  /** service → service from spans whose parent is another service's (both directions). */
  async #servicePeers(catalog: Catalog, now: number): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const services = catalog.entitiesOfType('service');
    if (services.length < 2) return out;
    const rows = await this.#store.query(
      `SELECT DISTINCT p.service AS caller, c.service AS callee
       FROM spans c JOIN spans p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
       WHERE c.start_ns >= CAST($1 AS BIGINT) AND p.start_ns >= CAST($1 AS BIGINT) AND c.service <> p.service
       LIMIT 1000`,
      [BigInt(Math.floor(now - PEER_LOOKBACK_MS)) * 1_000_000n],
      this.#timeoutMs,
    );
    const byName = new Map<string, string[]>();
    for (const s of services) {
      let l = byName.get(s.name);
      if (l === undefined) byName.set(s.name, (l = []));
      l.push(s.id);
    }
    const link = (a: string, b: string): void => {
      let set = out.get(a);
      if (set === undefined) out.set(a, (set = new Set()));
      set.add(b);
    };
    for (const r of rows) {
      for (const a of byName.get(String(r['caller'])) ?? []) {
        for (const b of byName.get(String(r['callee'])) ?? []) {
          link(a, b);
          link(b, a);
        }
      }
    }
    return out;
  }
}

/** A signal's evidence as a problem keeps it: the entity as a named reference. */
function problemEvidence(e: Evidence, catalog: Catalog): ProblemEvidence {
  const { entityId: id, ...rest } = e;
  return { ...rest, entity: ref(catalog, id) };
}
