import { describe, expect, it } from 'vitest';
import { eventSignals, type EventRow } from '../../../../src/gateway/problems/event-rules.js';
import { BASELINES, baselineSignals, clusterStateSignals, errorLogSignals, filesystemSignals, throttlingSignals } from '../../../../src/gateway/problems/metric-rules.js';
import { series, STEP, T0, testProblemsConfig } from './problem-helpers.js';

/** The event rules and the metric rules on synthetic events and series. */

const C = testProblemsConfig();
const ev = (timeMs: number, name: string, attributes: Record<string, unknown> = {}, entityId = 'c1', body = name): EventRow => ({ timeMs, entityId, name, severity: 13, body, attributes });

describe('event rules', () => {
  it('a crash loop: enough restarts of one container within the window; fewer are no loop', () => {
    const restarts = [0, 5, 10].map((s) => ev(T0 + s * 1000, 'container.restart'));
    const exits = [0, 5, 10].map((s) => ev(T0 + s * 1000 - 100, 'container.exit', { 'process.exit.code': 1 }));
    const all = [...exits, ...restarts].sort((a, b) => a.timeMs - b.timeMs);
    const s = eventSignals(all, T0 + 20_000, C);
    expect(s.map((x) => x.key).sort()).toEqual(['crash_loop:c1', 'nonzero_exit:c1']);
    const loop = s.find((x) => x.kind === 'crash_loop')!;
    expect(loop.active).toBe(true);
    expect(loop.onsetMs).toBe(T0);
    expect(loop.evidence.length).toBeGreaterThan(0);
    expect(eventSignals(restarts.slice(0, 2), T0 + 20_000, C).some((x) => x.kind === 'crash_loop')).toBe(false);
    // Restarts spread wider than the window are no loop.
    const spread = [0, 11, 22].map((m) => ev(T0 + m * 60_000, 'container.restart'));
    expect(eventSignals(spread, T0 + 23 * 60_000, C).some((x) => x.kind === 'crash_loop')).toBe(false);
  });

  it('an OOM kill from the runtime event and from an exit with reason OOMKilled is one signal', () => {
    const s = eventSignals([ev(T0, 'container.oom'), ev(T0 + 10, 'container.exit', { 'process.exit.code': 137, 'sextant.container.exit.reason': 'OOMKilled' })], T0 + 1000, C);
    expect(s.map((x) => x.key)).toEqual(['oom_kill:c1']);
    expect(s[0]!.title).toBe('OOM kill (2 times)');
  });

  it('a stop someone asked for (143, 137 without OOMKilled, 130) and a clean exit are no problem', () => {
    const s = eventSignals([143, 137, 130, 0].map((code, i) => ev(T0 + i, 'container.exit', { 'process.exit.code': code }, `c${i}`)), T0 + 1000, C);
    expect(s).toEqual([]);
  });

  it('a node reboot is a signal of the host', () => {
    const [s] = eventSignals([ev(T0, 'sextant.host.reboot', { 'sextant.host.boot_id': 'b2' }, 'host-1', 'node rebooted')], T0 + 1000, C);
    expect(s).toMatchObject({ key: 'node_reboot:host-1', role: 'cause', active: true });
  });

  it('signals go quiet after the hold', () => {
    const [s] = eventSignals([ev(T0, 'container.oom')], T0 + C.eventHoldMs + 1, C);
    expect(s!.active).toBe(false);
  });

  it('Kubernetes events: image pull back-off, scheduling only after pendingAfter, node NotReady, rollout as a change', () => {
    const k = (t: number, reason: string, body: string, entityId: string): EventRow => ev(t, 'k8s.event', { 'k8s.event.reason': reason }, entityId, body);
    const now = T0 + 6 * 60_000;
    const s = eventSignals(
      [
        k(T0, 'BackOff', 'Back-off pulling image "nope:1"', 'pod-a'),
        k(T0, 'FailedScheduling', '0/1 nodes are available', 'pod-b'),
        k(now - 1000, 'FailedScheduling', '0/1 nodes are available', 'pod-b'),
        k(now - 60_000, 'FailedScheduling', '0/1 nodes are available', 'pod-c'),
        k(now - 1000, 'NodeNotReady', 'Node n1 status is now: NodeNotReady', 'host-1'),
        k(now - 1000, 'ScalingReplicaSet', 'Scaled up replica set web-6d4 to 1', 'wl'),
        k(now - 1000, 'BackOff', 'Back-off restarting failed container', 'pod-d'),
      ],
      now,
      C,
    );
    const byKey = new Map(s.map((x) => [x.key, x]));
    expect(byKey.get('image_pull:pod-a')!.active).toBe(false); // 6 min ago: past the 5 min hold
    expect(byKey.get('unschedulable:pod-b')!.active).toBe(true);
    expect(byKey.get('unschedulable:pod-c')!.active).toBe(false); // not yet pendingAfter
    expect(byKey.get('node_not_ready:host-1')!.active).toBe(true);
    expect(byKey.get('rollout:wl')!.role).toBe('change');
    expect(byKey.has('crash_loop:pod-d')).toBe(false); // one back-off is no loop
  });

  it('garbage rows (no entity, NaN time, unknown names, odd attributes) are skipped', () => {
    const s = eventSignals(
      [ev(NaN, 'container.oom'), { ...ev(T0, 'container.oom'), entityId: '' }, ev(T0, 'something.else'), ev(T0, 'container.exit', { 'process.exit.code': 'x' })],
      T0 + 1000,
      C,
    );
    expect(s).toEqual([]);
  });
});

describe('metric rules', () => {
  it('CPU throttling above the threshold in k of n steps, from counters with a reset in between', () => {
    // Periods grow 100 a step; throttled 60 a step from step 20 on (60%); a reset at step 22.
    const periods = Array.from({ length: 26 }, (_, i) => (i >= 22 ? (i - 22) * 100 + 50 : 1000 + i * 100));
    const throttled = Array.from({ length: 26 }, (_, i) => (i >= 22 ? (i - 22) * 60 + 30 : i < 20 ? 0 : (i - 19) * 60));
    const s = throttlingSignals([series('c1', 'p', periods)], [series('c1', 't', throttled)], C, STEP);
    expect(s).toHaveLength(1);
    expect(s[0]!.kind).toBe('cpu_throttling');
    expect(s[0]!.onsetMs).toBe(T0 + 20 * STEP);
    // 10% is under the 25% default.
    const low = Array.from({ length: 26 }, (_, i) => i * 10);
    expect(throttlingSignals([series('c1', 'p', periods.map((_, i) => 1000 + i * 100))], [series('c1', 't', low)], C, STEP)).toEqual([]);
  });

  it('CPU throttling from delta sums (the agent\'s default temporality): each point is the step\'s increase', () => {
    // A 0.2-core quota on a busy loop, 2 s steps: 20 periods a step, all throttled, every step
    // exactly alike (a quiet machine). Read as totals these never grow; as deltas they are 100%.
    const flat = Array.from({ length: 20 }, (_, i) => (i === 0 ? 3 : 20));
    const s = throttlingSignals([series('c1', 'p', flat, {}, '{period}', 1, true)], [series('c1', 't', flat, {}, '{period}', 1, true)], C, STEP);
    expect(s.map((x) => x.title)).toEqual(['CPU throttled in 100% of periods (threshold 25%)']);
    // 2 of 20 throttled (10%): under the threshold.
    expect(throttlingSignals([series('c1', 'p', flat, {}, '{period}', 1, true)], [series('c1', 't', flat.map(() => 2), {}, '{period}', 1, true)], C, STEP)).toEqual([]);
  });

  it('the CPU stall rate from delta sums: a steady stall is no anomaly, a jump is', () => {
    const spec = BASELINES.find((b) => b.role === 'symptom')!;
    // 0.1 s stalled per step, steady, then 6 s per step: read as totals the steady part would
    // jitter between 0 and "resets".
    const steady = series('c1', spec.metric, Array.from({ length: 36 }, (_, i) => (i % 2 === 0 ? 0.1 : 0.09)), { ...spec.attrs }, 's', 1, true);
    expect(baselineSignals(spec, [steady], C, STEP)).toEqual([]);
    const jump = series('c1', spec.metric, Array.from({ length: 36 }, (_, i) => (i < 31 ? (i % 2 === 0 ? 0.1 : 0.09) : 6)), { ...spec.attrs }, 's', 1, true);
    expect(baselineSignals(spec, [jump], C, STEP)).toHaveLength(1);
  });

  it('CPU throttling of an entity with two resources (one rebuilt): counters are paired per resource, whatever order the store reads them in', () => {
    // Resource 1 for the first 6 steps, then resource 2 (its attributes changed) from step 5 on;
    // both throttled in every period (20 periods a step). The store returns series in no order.
    const n = 26;
    const of = (from: number, to: number): (number | undefined)[] => Array.from({ length: n }, (_, i) => (i >= from && i < to ? i * 20 : undefined));
    const periods = [series('c1', 'p', of(0, 6), {}, '1', 1), series('c1', 'p', of(5, n), {}, '1', 2)];
    const throttled = [series('c1', 't', of(0, 6), {}, '1', 1), series('c1', 't', of(5, n), {}, '1', 2)];
    for (const order of [throttled, [...throttled].reverse()]) {
      for (const pOrder of [periods, [...periods].reverse()]) {
        const s = throttlingSignals(pOrder, order, C, STEP);
        expect(s.map((x) => x.key)).toEqual(['cpu_throttling:c1']);
        expect(s[0]!.lastMs).toBe(T0 + n * STEP);
      }
    }
    // One resource's periods never pair with another's throttled periods: none throttled in resource 2.
    const calm = [throttled[0]!, series('c1', 't', of(5, n).map((v) => (v === undefined ? undefined : 0)), {}, '1', 2)];
    expect(throttlingSignals(periods, calm, C, STEP)).toEqual([]);
  });

  it('a filesystem above the threshold; one filling fast enough is flagged early with its time to full', () => {
    const full = series('h1', 'system.filesystem.utilization', [...new Array<number>(20).fill(0.5), 0.91, 0.92, 0.93], { 'system.filesystem.mountpoint': '/data' });
    const [a] = filesystemSignals([full], C, STEP);
    expect(a!.key).toBe('filesystem_full:h1:/data');
    // 0.5 → 0.8 over 30 steps of 10 s: the last 20 % in about 200 s.
    const filling = series('h1', 'system.filesystem.utilization', Array.from({ length: 31 }, (_, i) => 0.5 + i * 0.01), { 'system.filesystem.mountpoint': '/tmp/x' });
    const [b] = filesystemSignals([filling], C, STEP);
    expect(b!.title).toMatch(/80% used, full in about 3 min/);
    // Steady at 60%: nothing.
    expect(filesystemSignals([series('h1', 'system.filesystem.utilization', new Array<number>(30).fill(0.6), { 'system.filesystem.mountpoint': '/' })], C, STEP)).toEqual([]);
  });

  it('a CPU usage step above its baseline; a container without enough history gives no verdict', () => {
    const spec = BASELINES.find((b) => b.metric === 'container.cpu.usage')!;
    const hist = Array.from({ length: 30 }, (_, i) => 0.05 + 0.01 * Math.sin(i));
    const s = baselineSignals(spec, [series('c1', 'container.cpu.usage', [...hist, 1.9, 1.9, 2, 1.9, 2], {}, '{cpu}'), series('c2', 'container.cpu.usage', [0.05, 2, 2, 2, 2], {}, '{cpu}')], C, STEP);
    expect(s.map((x) => x.entityId)).toEqual(['c1']);
    expect(s[0]!.evidence[0]!.metric!.median).toBeCloseTo(0.05, 1);
  });

  it('the CPU stall rate is a symptom, from a counter', () => {
    const spec = BASELINES.find((b) => b.role === 'symptom')!;
    const stall = Array.from({ length: 36 }, (_, i) => (i < 31 ? i * 0.1 : 3.1 + (i - 30) * 6));
    const s = baselineSignals(spec, [series('c1', spec.metric, stall, { ...spec.attrs }, 's')], C, STEP);
    expect(s).toHaveLength(1);
    expect(s[0]!.role).toBe('symptom');
  });

  it('an error-log burst per group; a steady error rate is its own normal', () => {
    const quiet = [...new Array<number>(30).fill(0), 40, 45, 50, 50, 48];
    const steady = new Array<number>(35).fill(40);
    const s = errorLogSignals(
      [
        { entityId: 'w1', t: quiet.map((_, i) => T0 + i * STEP), errors: quiet },
        { entityId: 'w2', t: steady.map((_, i) => T0 + i * STEP), errors: steady },
      ],
      C,
      STEP,
    );
    expect(s.map((x) => x.key)).toEqual(['error_logs:w1']);
  });

  it('cluster state: node NotReady and pressure, CrashLoopBackOff, a pod Pending past pendingAfter', () => {
    const ones = new Array<number>(40).fill(1);
    const s = clusterStateSignals(
      [
        series('n1', 'k8s.node.condition.status', ones, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'unknown' }),
        series('n1', 'k8s.node.condition.status', ones, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'true' }),
        series('n1', 'k8s.node.condition.status', ones, { 'k8s.node.condition.type': 'DiskPressure', 'k8s.node.condition.status': 'true' }),
        series('c1', 'k8s.container.status.reason', ones, { 'k8s.container.status.reason': 'CrashLoopBackOff' }),
        series('p1', 'k8s.pod.status.phase', ones, { 'k8s.pod.status.phase': 'Pending' }),
        series('p2', 'k8s.pod.status.phase', [...new Array<number>(38).fill(0), 1, 1], { 'k8s.pod.status.phase': 'Pending' }),
      ],
      C,
      STEP,
    );
    expect(s.map((x) => x.key).sort()).toEqual(['crash_loop:c1', 'node_not_ready:n1', 'node_pressure:n1:DiskPressure', 'unschedulable:p1']);
  });
});
