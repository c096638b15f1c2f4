/**
 * The layering of src/ (docs/architecture.md, "Rooms and the way data flows"): no import cycle
 * between folders, none between top-level rooms, and sources know nothing of export or of the
 * agent's wiring. Type-only imports count: a type is coupling too.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, sourceImports, type ImportEdge } from '../helpers/source-tree.js';

const edges = sourceImports();

/** A folder's room: its first segment under src/ (files directly in src/ are the room `src`). */
function room(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : 'src';
}

/** The cycles of a directed graph given as edges between node names, each as a closed path. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

function graphOf(key: (file: string) => string): { graph: Map<string, Set<string>>; why: Map<string, ImportEdge> } {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, ImportEdge>();
  for (const e of edges) {
    const a = key(e.from);
    const b = key(e.to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
    if (!why.has(`${a} → ${b}`)) why.set(`${a} → ${b}`, e);
  }
  return { graph, why };
}

function explain(cycle: string[], why: Map<string, ImportEdge>): string {
  const steps = cycle.slice(1).map((b, i) => {
    const e = why.get(`${cycle[i]} → ${b}`)!;
    return `  ${cycle[i]} → ${b} (${e.from} imports ${e.to})`;
  });
  return `${cycle.join(' → ')}\n${steps.join('\n')}`;
}

describe('the import graph of src/', () => {
  it('finds the imports it checks (the parser is not blind)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: 'src/agent/run.ts', to: 'src/pipeline/index.ts' });
    // Every resolved import names a file that exists: a wrong resolution would hide edges.
    const missing = edges.filter((e) => !existsSync(path.join(REPO_ROOT, e.to)) && !existsSync(path.join(REPO_ROOT, e.to.replace(/\.ts$/, '.js'))));
    expect(missing).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const { graph, why } = graphOf((f) => path.posix.dirname(f));
    expect(cycles(graph).map((c) => explain(c, why))).toEqual([]);
  });

  it('has no cycle between rooms (the top-level folders of src/)', () => {
    const { graph, why } = graphOf(room);
    expect(cycles(graph).map((c) => explain(c, why))).toEqual([]);
  });

  it('keeps sources away from export, the agent and the gateway', () => {
    const banned = edges.filter((e) => e.from.startsWith('src/sources/') && /^src\/(export|agent|gateway)\//.test(e.to));
    expect(banned).toEqual([]);
  });

  it('keeps the pipeline away from sources other than their sink contract', () => {
    const banned = edges.filter((e) => e.from.startsWith('src/pipeline/') && e.to.startsWith('src/sources/') && e.to !== 'src/sources/types.ts');
    expect(banned).toEqual([]);
  });

  it('lets nothing but the command import the agent', () => {
    const banned = edges.filter((e) => e.to.startsWith('src/agent/') && !e.from.startsWith('src/agent/') && !e.from.startsWith('src/cli/'));
    expect(banned).toEqual([]);
  });

  it('detects a cycle when there is one (the checker is not blind)', () => {
    const g = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
    expect(cycles(g)).toEqual([['a', 'b', 'c', 'a']]);
  });
});
