import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { apiGet, type Entity, type EntityPage } from '../api.js';
import { entityHref, LEVELS, listHref } from '../router.js';
import { Failure, HealthBadge, Loading } from './common.js';

/** Search every level by name (or `key=value` for a label) at once: the first matches of each. */
export function SearchView(props: { q: string; reloadKey: number }) {
  const [results, setResults] = useState<[string, string, EntityPage][] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const ctl = new AbortController();
    setResults(undefined);
    setError(undefined);
    Promise.all(LEVELS.map((l) => apiGet<EntityPage>('/entities', { type: l.type, q: props.q, limit: 10 }, ctl.signal).then((p) => [l.type, l.label, p] as [string, string, EntityPage])))
      .then(setResults)
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctl.abort();
  }, [props.q, props.reloadKey]);
  if (error !== undefined) return html`<${Failure} error=${error} what="the search" />`;
  if (results === undefined) return html`<${Loading} what=${`matches for “${props.q}”`} />`;
  const hits = results.filter(([, , p]) => p.total > 0);
  return html`<section aria-label="Search results">
    <h1>Search: “${props.q}”</h1>
    ${hits.length === 0 ? html`<p class="muted">Nothing matches. Search is by name, or <code>label=value</code> for a label.</p>` : null}
    ${hits.map(
      ([type, label, p]) => html`<section class="search-group">
        <h2>${label} <small class="muted">${p.total}</small></h2>
        <ul class="child-list">${p.items.map((e: Entity) => html`<li><a href=${entityHref(e.id)}>${e.name}</a> <${HealthBadge} health=${e.health} /></li>`)}</ul>
        ${p.total > p.items.length ? html`<p><a href=${listHref(type, props.q)}>All ${p.total} ${label.toLowerCase()}</a></p>` : null}
      </section>`,
    )}
  </section>`;
}
