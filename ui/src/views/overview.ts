import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { apiGet, type EntityPage } from '../api.js';
import { LEVELS, listHref } from '../router.js';
import { Failure } from './common.js';
import { EntityTable } from './table.js';

/** The first page: how many of each level there are, and the clusters (or nodes) with their health. */
export function Overview(props: { reloadKey: number }) {
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const ctl = new AbortController();
    setError(undefined);
    Promise.all(LEVELS.map((l) => apiGet<EntityPage>('/entities', { type: l.type, limit: 1 }, ctl.signal).then((p) => [l.type, p.total] as const)))
      .then((pairs) => setCounts(Object.fromEntries(pairs)))
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctl.abort();
  }, [props.reloadKey]);
  if (error !== undefined) return html`<${Failure} error=${error} what="the overview" />`;
  const top = (counts['cluster'] ?? 0) > 0 ? 'cluster' : 'host';
  return html`<section aria-label="Overview">
    <h1>Overview</h1>
    <ul class="cards">
      ${LEVELS.map(
        (l) => html`<li><a class="card" href=${listHref(l.type)}><span class="count">${counts[l.type] ?? '…'}</span><span>${l.label}</span></a></li>`,
      )}
    </ul>
    <h2>${top === 'cluster' ? 'Clusters' : 'Nodes'}</h2>
    <${EntityTable} type=${top} q="" ns="" reloadKey=${props.reloadKey} />
  </section>`;
}
