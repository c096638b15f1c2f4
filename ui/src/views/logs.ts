import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, queryString, type LogItem, type RecordPage } from '../api.js';
import { jsonFields, severityClass, SEVERITY_OPTIONS, time } from '../format.js';
import { entityHref, navigate } from '../router.js';
import { Failure, Loading } from './common.js';

/**
 * An entity's logs, merged across everything below it (a workload's pods, a pod's containers),
 * newest first: a severity filter and a text search (both on the server, both in the URL), and
 * Follow: new lines pushed by the gateway over one server-sent-events stream (no polling).
 * Lines whose body is a JSON object are shown as their fields.
 */

const PAGE = 200;
const MAX_LINES = 2000;

function LogLine(props: { item: LogItem; showSource: boolean }) {
  const it = props.item;
  const fields = jsonFields(it.body);
  return html`<li class=${`log ${severityClass(it.severity)}`}>
    <time datetime=${it.time}>${time(it.time)}</time>
    <span class="sev">${it.severityText || '—'}</span>
    ${props.showSource && it.entity !== null ? html`<a class="src" href=${entityHref(it.entity.id, { tab: 'logs' })}>${it.entity.name}</a>` : null}
    ${fields === undefined
      ? html`<span class="body">${it.body}</span>`
      : html`<span class="body fields">${fields.map(([k, v]) => html`<span class="field"><b>${k}</b>=${v}</span>`)}</span>`}
  </li>`;
}

export function LogsView(props: { entity: string; entityType: string; range: string; severity: string; q: string; reloadKey: number; routeTab: string }) {
  const [items, setItems] = useState<LogItem[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [live, setLive] = useState<'off' | 'connecting' | 'on' | 'lost'>('off');
  const [text, setText] = useState(props.q);
  const added = useRef(0);

  useEffect(() => {
    const ctl = new AbortController();
    setItems(undefined);
    setError(undefined);
    apiGet<RecordPage<LogItem>>('/logs', { entity: props.entity, from: `now-${props.range}`, severity: props.severity, q: props.q, limit: PAGE }, ctl.signal)
      .then((p) => {
        setItems(p.items);
        setCursor(p.nextCursor);
      })
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctl.abort();
  }, [props.entity, props.range, props.severity, props.q, props.reloadKey]);

  // Live follow: one EventSource; the browser reconnects by itself (Last-Event-ID resumes).
  useEffect(() => {
    if (!follow || items === undefined) return;
    setLive('connecting');
    const es = new EventSource(`/api/v1/logs/stream${queryString({ entity: props.entity, severity: props.severity, q: props.q })}`, { withCredentials: true });
    es.addEventListener('ready', () => setLive('on'));
    es.addEventListener('logs', (ev) => {
      const data = JSON.parse((ev as MessageEvent<string>).data) as { items: LogItem[] };
      added.current += data.items.length;
      setItems((prev) => [...data.items.slice().reverse(), ...(prev ?? [])].slice(0, MAX_LINES));
    });
    es.addEventListener('bye', () => setLive('lost'));
    es.onerror = () => setLive('lost');
    return () => es.close();
  }, [follow, items === undefined, props.entity, props.severity, props.q]);

  const setFilter = (severity: string, q: string): void => {
    navigate(`${entityHref(props.entity, { tab: 'logs', range: props.range, severity, q })}`, true);
  };

  const more = (): void => {
    if (cursor === null) return;
    apiGet<RecordPage<LogItem>>('/logs', { entity: props.entity, from: `now-${props.range}`, severity: props.severity, q: props.q, limit: PAGE, cursor })
      .then((p) => {
        setItems((prev) => [...(prev ?? []), ...p.items]);
        setCursor(p.nextCursor);
      })
      .catch((err: unknown) => setError(err));
  };

  const showSource = props.entityType !== 'container';
  return html`<section class="logs" aria-label="Logs">
    <form class="toolbar" role="search" onSubmit=${(e: Event) => {
      e.preventDefault();
      setFilter(props.severity, text);
    }}>
      <label>Severity at least
        <select value=${props.severity} onChange=${(e: Event) => setFilter((e.currentTarget as HTMLSelectElement).value, props.q)}>
          ${SEVERITY_OPTIONS.map((s) => html`<option value=${s}>${s === '' ? 'any' : s}</option>`)}
        </select>
      </label>
      <label>Text <input type="search" name="q" value=${text} placeholder="contains…" onInput=${(e: Event) => setText((e.currentTarget as HTMLInputElement).value)} /></label>
      <button type="submit">Search</button>
      <label class="follow"><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.currentTarget as HTMLInputElement).checked)} /> Follow live</label>
      <span class=${`live live-${live}`} role="status" aria-live="polite">${follow ? { off: '', connecting: 'connecting…', on: 'live', lost: 'reconnecting…' }[live] : 'paused'}</span>
    </form>
    ${error !== undefined ? html`<${Failure} error=${error} what="the logs" />` : null}
    ${items === undefined && error === undefined ? html`<${Loading} what="logs" />` : null}
    ${items !== undefined && items.length === 0 ? html`<p class="muted">No log lines in this range${props.q !== '' || props.severity !== '' ? ' matching the filter' : ''}${follow ? '; new ones appear here as they arrive' : ''}.</p>` : null}
    ${items !== undefined && items.length > 0 ? html`<ol class="log-lines" reversed>${items.map((it) => html`<${LogLine} key=${`${it.timeUnixNano}:${it.body.length}:${it.entity?.id ?? ''}`} item=${it} showSource=${showSource} />`)}</ol>` : null}
    ${cursor !== null ? html`<p><button type="button" onClick=${more}>Older lines</button></p>` : null}
  </section>`;
}
