import { describe, expect, it } from 'vitest';
import { groupSignals, rank } from '../../../../src/gateway/problems/correlate.js';
import { Topology } from '../../../../src/gateway/problems/topology.js';
import { FakeEntities, sig, T0 } from './problem-helpers.js';

/** Merging and ranking on small synthetic topologies. */

/** node n1 with pods p1..p3 (containers c1..c3, workload w), node n2 with pod p4 (c4). */
function cluster(): FakeEntities {
  return new FakeEntities()
    .add('ns', 'namespace')
    .add('w', 'workload', ['ns'])
    .add('w2', 'workload', ['ns'])
    .add('n1', 'host')
    .add('n2', 'host')
    .add('p1', 'pod', ['w', 'n1'])
    .add('p2', 'pod', ['w2', 'n1'])
    .add('p3', 'pod', ['ns', 'n1'])
    .add('p4', 'pod', ['ns', 'n2'])
    .add('c1', 'container', ['p1'])
    .add('c2', 'container', ['p2'])
    .add('c3', 'container', ['p3'])
    .add('c4', 'container', ['p4'])
    .add('pg1', 'process_group', ['c1']);
}

const SLACK = 5 * 60_000;

describe('merging', () => {
  it('a crash loop and its error logs on one container, and its process group, are one group', () => {
    const topo = new Topology(cluster());
    const g = groupSignals([sig('crash_loop', 'c1', T0), sig('error_logs', 'w', T0 + 5000), sig('metric_anomaly', 'pg1', T0)], topo, SLACK);
    expect(g).toHaveLength(1);
  });

  it('unrelated failures on different nodes stay apart; so do failures far apart in time', () => {
    const topo = new Topology(cluster());
    expect(groupSignals([sig('oom_kill', 'c1', T0), sig('oom_kill', 'c4', T0)], topo, SLACK)).toHaveLength(2);
    expect(groupSignals([sig('oom_kill', 'c1', T0), sig('crash_loop', 'c1', T0 + 60 * 60_000)], topo, SLACK)).toHaveLength(2);
  });

  it('two containers on one node connect only through a shared resource (CPU, memory, pressure)', () => {
    const topo = new Topology(cluster());
    expect(groupSignals([sig('nonzero_exit', 'c1', T0), sig('nonzero_exit', 'c2', T0)], topo, SLACK)).toHaveLength(2);
    expect(groupSignals([sig('metric_anomaly', 'c1', T0, { key: 'metric_anomaly:c1:container.cpu.usage' }), sig('metric_anomaly', 'c2', T0, { key: 'metric_anomaly:c2:sextant.container.pressure.stall.time' }, 'symptom')], topo, SLACK)).toHaveLength(1);
  });

  it('a node\'s own signal joins the pods on it only when it concerns the whole node', () => {
    const topo = new Topology(cluster());
    expect(groupSignals([sig('filesystem_full', 'n1', T0), sig('oom_kill', 'c1', T0)], topo, SLACK)).toHaveLength(2);
    expect(groupSignals([sig('node_reboot', 'n1', T0), sig('oom_kill', 'c1', T0)], topo, SLACK)).toHaveLength(1);
  });

  it('pod → node from the cluster graph and service → service from spans connect too', () => {
    const ents = new FakeEntities().add('pX', 'pod').add('nX', 'host').add('s1', 'service').add('s2', 'service');
    const topo = new Topology(ents, new Map([['pX', new Set(['nX'])]]), new Map([['s1', new Set(['s2'])]]));
    expect(groupSignals([sig('node_not_ready', 'nX', T0), sig('crash_loop', 'pX', T0)], topo, SLACK)).toHaveLength(1);
    expect(groupSignals([sig('error_logs', 's1', T0), sig('error_logs', 's2', T0)], topo, SLACK)).toHaveLength(1);
  });
});

describe('ranking', () => {
  it('the node under several failing pods is the cause, not each pod', () => {
    const topo = new Topology(cluster());
    const signals = [sig('node_pressure', 'n1', T0 + 2000), sig('crash_loop', 'c1', T0), sig('crash_loop', 'c2', T0 + 1000), sig('crash_loop', 'c3', T0 + 1000)];
    expect(groupSignals(signals, topo, SLACK)).toHaveLength(1);
    const r = rank(signals, topo);
    expect(r[0]!.entityId).toBe('n1');
    expect(r[0]!.reasons.join(' ')).toMatch(/above 3 failing pods/);
  });

  it('a noisy neighbour: the container eating CPU ranks above the victims that stall', () => {
    const topo = new Topology(cluster());
    const neighbour = sig('metric_anomaly', 'c1', T0 + 3000, { key: 'metric_anomaly:c1:container.cpu.usage', strength: 6 });
    const victims = ['c2', 'c3'].map((c) => sig('metric_anomaly', c, T0, { key: `metric_anomaly:${c}:sextant.container.pressure.stall.time`, strength: 8 }, 'symptom'));
    const r = rank([...victims, neighbour], topo);
    expect(r[0]!.entityId).toBe('c1');
  });

  it('between causes of the same weight, the earliest onset first', () => {
    const topo = new Topology(cluster());
    const r = rank([sig('crash_loop', 'c1', T0 + 10_000), sig('oom_kill', 'c1', T0 + 5_000), sig('error_logs', 'w', T0)], topo);
    expect(r[0]!.entityId).toBe('w');
    const r2 = rank([sig('crash_loop', 'c1', T0), sig('error_logs', 'w', T0 + 10_000)], topo);
    expect(r2[0]!.entityId).toBe('c1');
  });

  it('a rollout is a candidate, below a cause', () => {
    const topo = new Topology(cluster());
    const r = rank([sig('rollout', 'w', T0, {}, 'change'), sig('crash_loop', 'c1', T0 + 5000)], topo);
    expect(r.map((c) => c.entityId)).toEqual(['c1', 'w']);
  });
});
