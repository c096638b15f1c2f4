import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { apiGet, type EventItem, type RecordPage } from '../api.js';
import { severityClass, time } from '../format.js';
import { entityHref } from '../router.js';
import { Failure, Loading } from './common.js';

/** An entity's events timeline, its children's included (OOM kills, restarts, Kubernetes events). */
export function EventsView(props: { entity: string; range: string; reloadKey: number }) {
  const [items, setItems] = useState<EventItem[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const ctl = new AbortController();
    setItems(undefined);
    setError(undefined);
    apiGet<RecordPage<EventItem>>('/events', { entity: props.entity, from: `now-${props.range}`, limit: 500 }, ctl.signal)
      .then((p) => setItems(p.items))
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctl.abort();
  }, [props.entity, props.range, props.reloadKey]);
  if (error !== undefined) return html`<${Failure} error=${error} what="the events" />`;
  if (items === undefined) return html`<${Loading} what="events" />`;
  if (items.length === 0) return html`<p class="muted">No events in this range.</p>`;
  return html`<ol class="timeline" aria-label="Events">
    ${items.map((e) => {
      const attrs = Object.entries(e.attributes).filter(([k]) => k !== 'event.name');
      return html`<li class=${`event ${severityClass(e.severity)}`}>
        <time datetime=${e.time}>${time(e.time)}</time>
        <span class="event-name">${e.name}</span>
        ${e.entity !== null ? html`<a href=${entityHref(e.entity.id)}>${e.entity.name}</a>` : null}
        ${e.body !== '' ? html`<span class="body">${e.body}</span>` : null}
        ${attrs.length > 0 ? html`<span class="fields">${attrs.slice(0, 8).map(([k, v]) => html`<span class="field"><b>${k}</b>=${typeof v === 'string' ? v : JSON.stringify(v)}</span>`)}</span>` : null}
      </li>`;
    })}
  </ol>`;
}
