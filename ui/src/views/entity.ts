import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, apiGet, type EntityDetail, type EntityRef } from '../api.js';
import { ago, bytes, cores } from '../format.js';
import { entityHref, listHref, RANGES, TABS, TYPE_LABEL, type Tab } from '../router.js';
import { Chart, chartsFor } from './chart.js';
import { Failure, HealthBadge, Loading, Message, UsageBar } from './common.js';
import { EventsView } from './events.js';
import { LogsView } from './logs.js';
import { ProblemBadge } from './problems.js';

/** The owner chain from the top: cluster › node › namespace › workload › pod. */
const CHAIN_ORDER = ['cluster', 'host', 'namespace', 'workload', 'pod', 'container', 'process_group', 'service'];

function chain(parents: EntityRef[]): EntityRef[] {
  return parents.slice().sort((a, b) => CHAIN_ORDER.indexOf(a.type) - CHAIN_ORDER.indexOf(b.type));
}

/**
 * Every owner above an entity (a container's pod, and the pod's node, workload, namespace and
 * cluster): the parents' parents, asked for after the page has drawn (a few small requests).
 */
async function ownerChain(e: EntityDetail, signal: AbortSignal): Promise<EntityRef[]> {
  const seen = new Map<string, EntityRef>();
  let frontier = e.parents;
  for (let depth = 0; depth < 4 && frontier.length > 0; depth++) {
    const next: EntityRef[] = [];
    for (const p of frontier) {
      if (seen.has(p.id)) continue;
      seen.set(p.id, p);
      if (p.type === 'cluster') continue;
      const d = await apiGet<EntityDetail>(`/entities/${p.id}`, {}, signal).catch(() => undefined);
      if (d !== undefined) next.push(...d.parents);
    }
    frontier = next;
  }
  return [...seen.values()];
}

const TAB_LABEL: Readonly<Record<Tab, string>> = { overview: 'Overview', logs: 'Logs', events: 'Events', children: 'Children' };

function Children(props: { children: EntityRef[]; total: number }) {
  if (props.children.length === 0) return html`<p class="muted">Nothing below this entity.</p>`;
  const byType = new Map<string, EntityRef[]>();
  for (const c of props.children) {
    let l = byType.get(c.type);
    if (l === undefined) byType.set(c.type, (l = []));
    l.push(c);
  }
  return html`<div class="children">
    ${[...byType].map(
      ([type, list]) => html`<section class="child-group" aria-label=${`${TYPE_LABEL[type] ?? type}s`}>
        <h3>${TYPE_LABEL[type] ?? type}s <small class="muted">${list.length}</small></h3>
        <ul class="child-list">${list.map((c) => html`<li><a href=${entityHref(c.id)} data-type=${c.type}>${c.name}</a></li>`)}</ul>
      </section>`,
    )}
    ${props.total > props.children.length ? html`<p class="muted">${props.children.length} of ${props.total} shown.</p>` : null}
  </div>`;
}

function Attributes(props: { attrs: Record<string, unknown> }) {
  const entries = Object.entries(props.attrs).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return html`<p class="muted">No attributes.</p>`;
  return html`<dl class="attrs">
    ${entries.map(([k, v]) => html`<div><dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd></div>`)}
  </dl>`;
}

export function EntityView(props: { id: string; tab: Tab; range: string; severity: string; q: string; reloadKey: number }) {
  const [entity, setEntity] = useState<EntityDetail | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [available, setAvailable] = useState<ReadonlySet<string>>(new Set());
  const [attempt, setAttempt] = useState(0);
  const [ancestors, setAncestors] = useState<EntityRef[]>([]);

  useEffect(() => {
    const ctl = new AbortController();
    setError(undefined);
    if (entity?.id !== props.id) setEntity(undefined);
    Promise.all([
      apiGet<EntityDetail>(`/entities/${encodeURIComponent(props.id)}`, {}, ctl.signal),
      apiGet<{ items: { name: string }[] }>('/metrics', { entity: props.id }, ctl.signal).catch(() => ({ items: [] })),
    ])
      .then(([e, m]) => {
        setEntity(e);
        setAncestors(e.parents);
        void ownerChain(e, ctl.signal).then((a) => !ctl.signal.aborted && setAncestors(a));
        setAvailable(new Set(m.items.map((x) => x.name)));
        document.title = `${e.name} · ${TYPE_LABEL[e.type] ?? e.type} · Sextant`;
      })
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctl.abort();
  }, [props.id, props.reloadKey, attempt]);

  if (error !== undefined) {
    if (error instanceof ApiFailure && (error.kind === 'not_found' || error.kind === 'bad_request')) {
      return html`<${Message} kind="warn" title="No such entity">
        <p>Nothing is known as <code>${props.id}</code>: the link may be mistyped, or what it named has not reported within the gateway's retention.</p>
        <p><a href="/ui/">Back to the overview</a> · <a href=${listHref('pod')}>All pods</a></p>
      <//>`;
    }
    return html`<${Failure} error=${error} what="this entity" onRetry=${() => setAttempt((a) => a + 1)} />`;
  }
  if (entity === undefined) return html`<${Loading} what="the entity" />`;
  const e = entity;
  const tabHref = (tab: Tab): string => entityHref(e.id, { tab, range: props.range });
  return html`<article class="entity" data-entity=${e.id} data-type=${e.type}>
    <nav class="crumbs" aria-label="Owner chain">
      <a href=${listHref(e.type)}>${TYPE_LABEL[e.type] ?? e.type}s</a>
      ${chain(ancestors).map((p) => html` › <a href=${entityHref(p.id)} data-type=${p.type}>${TYPE_LABEL[p.type] ?? p.type} ${p.name}</a>`)}
    </nav>
    <header class="entity-head">
      <h1><small class="muted">${TYPE_LABEL[e.type] ?? e.type}</small> ${e.name}</h1>
      <${HealthBadge} health=${e.health} />
      <${ProblemBadge} entity=${e.id} reloadKey=${props.reloadKey} />
      <span class="muted">last seen ${ago(e.lastSeen)}</span>
    </header>
    <div class="kpis">
      <div class="kpi"><span class="muted">CPU</span><${UsageBar} value=${e.metrics.cpu?.value ?? null} request=${e.bounds.cpuRequest} limit=${e.bounds.cpuLimit} text=${cores(e.metrics.cpu?.value)} /></div>
      <div class="kpi"><span class="muted">Memory</span><${UsageBar} value=${e.metrics.memory?.value ?? null} request=${e.bounds.memoryRequest} limit=${e.bounds.memoryLimit} text=${bytes(e.metrics.memory?.value)} /></div>
      ${e.health.reasons.length > 0 ? html`<div class="kpi"><span class="muted">Last hour</span><span>${e.health.reasons.map((r) => `${r.reason} ×${r.count}`).join(', ')}</span></div>` : null}
    </div>
    <div class="tabbar">
      <nav class="tabs" aria-label="Views of this entity">
        ${TABS.map((t) => html`<a href=${tabHref(t)} aria-current=${t === props.tab ? 'page' : undefined} class=${t === props.tab ? 'tab active' : 'tab'}>${TAB_LABEL[t]}${t === 'children' ? ` (${e.childrenTotal})` : ''}</a>`)}
      </nav>
      <nav class="ranges" aria-label="Time range">
        ${RANGES.map((r) => html`<a href=${entityHref(e.id, { tab: props.tab, range: r, severity: props.severity, q: props.q })} aria-current=${r === props.range ? 'true' : undefined} class=${r === props.range ? 'range active' : 'range'}>${r}</a>`)}
      </nav>
    </div>
    ${props.tab === 'overview'
      ? html`<div class="overview">
          <div class="charts">${chartsFor(e.type).map((spec) => html`<${Chart} key=${spec.title} entity=${e.id} spec=${spec} range=${props.range} reloadKey=${props.reloadKey} available=${available} />`)}</div>
          <div class="columns">
            <section aria-label="Children"><h2>Below</h2><${Children} children=${e.children} total=${e.childrenTotal} /></section>
            <section aria-label="Attributes"><h2>Attributes</h2><${Attributes} attrs=${e.attributes} /></section>
          </div>
        </div>`
      : null}
    ${props.tab === 'logs' ? html`<${LogsView} entity=${e.id} entityType=${e.type} range=${props.range} severity=${props.severity} q=${props.q} reloadKey=${props.reloadKey} routeTab=${props.tab} />` : null}
    ${props.tab === 'events' ? html`<${EventsView} entity=${e.id} range=${props.range} reloadKey=${props.reloadKey} />` : null}
    ${props.tab === 'children' ? html`<${Children} children=${e.children} total=${e.childrenTotal} />` : null}
  </article>`;
}
