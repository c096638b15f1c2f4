import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { apiGet, type SeriesAnswer } from '../api.js';
import { rangeMs, stepFor, unitValue } from '../format.js';

/**
 * One time-series chart: a /api/v1/series request for the entity over the range, drawn by uPlot
 * from columnar arrays (one x array, one y array per line; no object per point).
 */

export interface ChartSpec {
  readonly title: string;
  readonly metrics: readonly string[];
  /** Labels for the lines, one per metric. */
  readonly labels?: readonly string[];
  readonly attr?: readonly string[];
  readonly agg?: string;
}

const COLORS = ['#2f7ed8', '#e4572e', '#29a36a', '#a05cd6', '#d4a017'];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

export function Chart(props: { entity: string; spec: ChartSpec; range: string; reloadKey: number; available: ReadonlySet<string> }) {
  const host = useRef<HTMLDivElement>(null);
  const [settled, setSettled] = useState<{ key: string; state: 'loading' | 'empty' | 'ok' | 'error' }>({ key: '', state: 'loading' });
  const [error, setError] = useState('');
  const [points, setPoints] = useState(0);
  const spec = props.spec;
  const metrics = spec.metrics.filter((m) => props.available.has(m));
  // The state belongs to the inputs it was reached for: after a range (or entity) change the
  // figure reads 'loading' from its first render, not the previous range's 'ok' and point count
  // until the new answer lands (a reader of data-state would take stale points for current).
  const key = `${props.entity}|${props.range}|${props.reloadKey}|${metrics.join(',')}`;
  const state = settled.key === key ? settled.state : 'loading';
  const setState = (s: 'loading' | 'empty' | 'ok' | 'error'): void => setSettled({ key, state: s });

  useEffect(() => {
    const ctl = new AbortController();
    let plot: uPlot | undefined;
    if (metrics.length === 0) {
      setState('empty');
      return;
    }
    setState('loading');
    apiGet<SeriesAnswer>(
      '/series',
      { metric: metrics, entity: props.entity, from: `now-${props.range}`, step: stepFor(props.range), agg: spec.agg, attr: spec.attr },
      ctl.signal,
    )
      .then((ans) => {
        const lines = spec.metrics.map((m) => ans.series.find((s) => s.metric === m));
        const present = lines.filter((s) => s !== undefined && s.t.length > 0);
        if (present.length === 0) {
          setState('empty');
          return;
        }
        // One x axis for every line: the union of their bucket times (seconds, as uPlot wants).
        const xsSet = new Set<number>();
        for (const s of present) for (const t of s!.t) xsSet.add(t);
        const xsMs = [...xsSet].sort((a, b) => a - b);
        const index = new Map(xsMs.map((t, i) => [t, i]));
        const data: (number | null)[][] = [xsMs.map((t) => t / 1000)];
        const series: uPlot.Series[] = [{}];
        const unit = present[0]!.unit ?? '';
        lines.forEach((s, i) => {
          if (s === undefined || s.t.length === 0) return;
          const ys: (number | null)[] = new Array<number | null>(xsMs.length).fill(null);
          for (let k = 0; k < s.t.length; k++) ys[index.get(s.t[k]!)!] = s.v[k] ?? null;
          data.push(ys);
          series.push({ label: spec.labels?.[i] ?? s.metric, stroke: COLORS[(series.length - 1) % COLORS.length], width: 1.5, spanGaps: false, points: { show: xsMs.length < 60, size: 5 }, value: (_u, v) => unitValue(v, unit) });
        });
        setPoints(xsMs.length);
        setState('ok');
        const el = host.current;
        if (el === null) return;
        el.textContent = '';
        const axis = cssVar('--fg-muted', '#888');
        const grid = cssVar('--grid', 'rgba(128,128,128,0.2)');
        const nowS = Date.now() / 1000;
        plot = new uPlot(
          {
            width: Math.max(240, el.clientWidth),
            height: 180,
            series,
            scales: { x: { time: true, range: () => [nowS - rangeMs(props.range) / 1000, nowS] } },
            axes: [
              { stroke: axis, grid: { stroke: grid } },
              { stroke: axis, grid: { stroke: grid }, size: 86, values: (_u, vals) => vals.map((v) => unitValue(v, unit)) },
            ],
            legend: { live: true },
            cursor: { drag: { x: false, y: false } },
          },
          data as uPlot.AlignedData,
          el,
        );
      })
      .catch((err: unknown) => {
        if ((err as Error).name === 'AbortError') return;
        setError(err instanceof Error ? err.message : String(err));
        setState('error');
      });
    return () => {
      ctl.abort();
      plot?.destroy();
    };
  }, [props.entity, props.range, props.reloadKey, spec, metrics.join(',')]);

  return html`<figure class="chart" data-state=${state} data-points=${state === 'ok' ? points : 0} aria-label=${spec.title}>
    <figcaption>${spec.title}</figcaption>
    ${state === 'loading' ? html`<p class="chart-note muted">Loading…</p>` : null}
    ${state === 'empty' ? html`<p class="chart-note muted">No data in this range.</p>` : null}
    ${state === 'error' ? html`<p class="chart-note error" role="alert">Could not load: ${error}</p>` : null}
    <div class="plot" ref=${host}></div>
  </figure>`;
}

/** The charts for each kind of entity. */
export const CHARTS: Readonly<Record<string, readonly ChartSpec[]>> = {
  container: [
    { title: 'CPU (cores) and limit', metrics: ['container.cpu.usage', 'sextant.container.cpu.limit'], labels: ['usage', 'limit'] },
    { title: 'Memory: working set and limit', metrics: ['container.memory.working_set', 'sextant.container.memory.limit'], labels: ['working set', 'limit'] },
    { title: 'CPU throttling (s/s)', metrics: ['sextant.container.cpu.throttling.throttled_time'], labels: ['throttled'], agg: 'rate' },
    { title: 'Network (bytes/s)', metrics: ['container.network.io'], labels: ['network'], agg: 'rate' },
    { title: 'Disk (bytes/s)', metrics: ['container.disk.io'], labels: ['disk'], agg: 'rate' },
  ],
  pod: [
    { title: 'CPU (cores)', metrics: ['k8s.pod.cpu.usage'], labels: ['usage'] },
    { title: 'Memory: working set', metrics: ['k8s.pod.memory.working_set'], labels: ['working set'] },
    { title: 'CPU throttling (s/s)', metrics: ['sextant.container.cpu.throttling.throttled_time'], labels: ['throttled'], agg: 'rate' },
    { title: 'Network (bytes/s)', metrics: ['k8s.pod.network.io'], labels: ['network'], agg: 'rate' },
  ],
  host: [
    { title: 'CPU utilization (user)', metrics: ['system.cpu.utilization'], labels: ['user'], attr: ['cpu.mode=user'] },
    { title: 'Memory used', metrics: ['system.memory.usage'], labels: ['used'], attr: ['system.memory.state=used'] },
    { title: 'Load average', metrics: ['system.cpu.load_average.1m', 'system.cpu.load_average.5m'], labels: ['1m', '5m'] },
    { title: 'Pressure (PSI, fraction stalled)', metrics: ['sextant.pressure.stall.ratio'], labels: ['stalled'], agg: 'max' },
    { title: 'Filesystems used', metrics: ['system.filesystem.usage'], labels: ['used'], attr: ['system.filesystem.state=used'] },
    { title: 'Network (bytes/s)', metrics: ['system.network.io'], labels: ['network'], agg: 'rate' },
    { title: 'Disk (bytes/s)', metrics: ['system.disk.io'], labels: ['disk'], agg: 'rate' },
  ],
  process_group: [
    { title: 'CPU utilization', metrics: ['process.cpu.utilization'], labels: ['cpu'] },
    { title: 'Memory', metrics: ['process.memory.usage'], labels: ['memory'] },
  ],
};
export function chartsFor(type: string): readonly ChartSpec[] {
  if (type === 'workload' || type === 'namespace' || type === 'cluster') return CHARTS['pod']!;
  return CHARTS[type] ?? [];
}
