import type { Signal, SignalRole } from './signal.js';
import type { Topology } from './topology.js';

/**
 * Root cause: signals that overlap in time and connect in the topology become one problem;
 * its candidate causes are ranked by what they show (a cause outranks a symptom or a change),
 * by position (the node under several failing pods is the cause, not each pod), by evidence
 * and by onset (the earliest first).
 */

const ROLE_WEIGHT: Readonly<Record<SignalRole, number>> = { cause: 3, change: 2, symptom: 1 };

/** Signals about a shared resource: they connect entities on the same node. */
export function isContention(s: Signal): boolean {
  return s.kind === 'node_pressure' || (s.kind === 'metric_anomaly' && s.key.includes('container.')) || s.role === 'symptom';
}

/** Signals of a node that concern everything running on it. */
const NODE_WIDE: ReadonlySet<string> = new Set(['node_not_ready', 'node_pressure', 'node_reboot']);

export function overlaps(a: Signal, b: Signal, slackMs: number): boolean {
  return a.onsetMs <= b.lastMs + slackMs && b.onsetMs <= a.lastMs + slackMs;
}

export function connected(a: Signal, b: Signal, topo: Topology, slackMs: number): boolean {
  // Two entities on one node compete for it only when both signals are about its resources: a
  // CPU hog and a container that stalls, not a CPU hog and another container's OOM kill.
  return overlaps(a, b, slackMs) && topo.related(a.entityId, b.entityId, isContention(a) && isContention(b), { a: NODE_WIDE.has(a.kind), b: NODE_WIDE.has(b.kind) });
}

/** Connected groups of signals (union-find over the pairs; n is small: signals active now). */
export function groupSignals(signals: readonly Signal[], topo: Topology, slackMs: number): Signal[][] {
  const parent = signals.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  for (let i = 0; i < signals.length; i++) {
    for (let j = i + 1; j < signals.length; j++) {
      if (find(i) !== find(j) && connected(signals[i]!, signals[j]!, topo, slackMs)) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, Signal[]>();
  for (let i = 0; i < signals.length; i++) {
    const r = find(i);
    let g = groups.get(r);
    if (g === undefined) groups.set(r, (g = []));
    g.push(signals[i]!);
  }
  return [...groups.values()];
}

/**
 * Which of an entity's signals names it best: a crash loop says more than each of its exits,
 * a kill more than the exit it caused.
 */
function telling(s: Signal): number {
  return s.strength + (s.kind === 'nonzero_exit' ? 0 : 5);
}

export interface Candidate {
  readonly entityId: string;
  readonly score: number;
  readonly onsetMs: number;
  /** The strongest of its own signals (undefined for a node ranked by position alone). */
  readonly signal: Signal | undefined;
  readonly reasons: string[];
}

/**
 * Candidates of one problem's signals, best first. Every entity with a signal is one; so is a
 * node (host) or workload above two or more pods with causes of their own.
 */
export function rank(signals: readonly Signal[], topo: Topology): Candidate[] {
  const own = new Map<string, Signal[]>();
  for (const s of signals) {
    let l = own.get(s.entityId);
    if (l === undefined) own.set(s.entityId, (l = []));
    l.push(s);
  }
  // Pods (else the entities themselves) with a cause below each ancestor.
  const failingBelow = new Map<string, Set<string>>();
  for (const [id, list] of own) {
    if (!list.some((s) => s.role === 'cause')) continue;
    const unit = topo.ancestorOfType(id, 'pod') ?? id;
    for (const a of topo.ancestors(id)) {
      if (a === unit) continue;
      let set = failingBelow.get(a);
      if (set === undefined) failingBelow.set(a, (set = new Set()));
      set.add(unit);
    }
  }
  const earliest = Math.min(...signals.map((s) => s.onsetMs));
  const out: Candidate[] = [];
  const ids = new Set<string>(own.keys());
  for (const [a, below] of failingBelow) {
    const t = topo.entity(a)?.type;
    if (below.size >= 2 && (t === 'host' || t === 'workload')) ids.add(a);
  }
  for (const id of ids) {
    const list = own.get(id) ?? [];
    const reasons: string[] = [];
    let score = 0;
    let best: Signal | undefined;
    for (const s of list) {
      if (best === undefined || ROLE_WEIGHT[s.role] > ROLE_WEIGHT[best.role] || (ROLE_WEIGHT[s.role] === ROLE_WEIGHT[best.role] && telling(s) > telling(best))) best = s;
    }
    if (best !== undefined) {
      score += ROLE_WEIGHT[best.role];
      reasons.push(`${best.role}: ${best.title}`);
    } else {
      score += 2;
      reasons.push('no signal of its own');
    }
    const below = failingBelow.get(id)?.size ?? 0;
    const type = topo.entity(id)?.type;
    if (below >= 2 && (type === 'host' || type === 'workload' || type === 'namespace')) {
      const bonus = Math.min(2, 1 + 0.25 * (below - 2));
      score += bonus;
      reasons.push(`above ${below} failing pods`);
    }
    const strength = list.reduce((sum, s) => sum + Math.min(10, Math.max(0, s.strength)), 0);
    if (strength > 0) {
      score += Math.min(1, strength / 20);
      reasons.push(`evidence ${list.length} signal${list.length === 1 ? '' : 's'}`);
    }
    const onset = list.length > 0 ? Math.min(...list.map((s) => s.onsetMs)) : earliest;
    if (list.length > 0 && onset === earliest) {
      score += 0.5;
      reasons.push('earliest onset');
    }
    out.push({ entityId: id, score: Math.round(score * 100) / 100, onsetMs: onset, signal: best, reasons });
  }
  out.sort((a, b) => b.score - a.score || a.onsetMs - b.onsetMs || (a.entityId < b.entityId ? -1 : 1));
  return out;
}
