import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { ApiFailure, type Entity } from '../api.js';
import { percent } from '../format.js';

/** A message in place of a view: what happened and what to do; never an empty page. */
export function Message(props: { kind: 'error' | 'info' | 'warn'; title: string; children?: ComponentChildren }) {
  return html`<section class=${`message message-${props.kind}`} role=${props.kind === 'error' ? 'alert' : 'status'}>
    <h2>${props.title}</h2>
    ${props.children}
  </section>`;
}

/** A failed request, explained for a person. */
export function Failure(props: { error: unknown; what: string; onRetry?: () => void }) {
  const e = props.error;
  let title = `Could not load ${props.what}`;
  let detail = e instanceof Error ? e.message : String(e);
  if (e instanceof ApiFailure) {
    if (e.kind === 'not_found') title = `Not found: ${props.what}`;
    else if (e.kind === 'bad_request') title = `The request for ${props.what} was refused`;
    else if (e.kind === 'unreachable') {
      title = 'The gateway does not answer';
      detail = 'It may be restarting. This page reconnects by itself once it is back.';
    } else if (e.kind === 'unavailable') title = `The gateway cannot answer for ${props.what} right now`;
    else if (e.kind === 'auth') title = 'Your session ended';
    else title = `The gateway failed to answer for ${props.what}`;
  }
  return html`<${Message} kind="error" title=${title}>
    <p class="detail">${detail}</p>
    ${props.onRetry !== undefined ? html`<p><button type="button" onClick=${props.onRetry}>Try again</button></p>` : null}
  <//>`;
}

export function Loading(props: { what: string }) {
  return html`<p class="loading" role="status" aria-live="polite">Loading ${props.what}…</p>`;
}

const HEALTH_TEXT = { ok: 'Healthy', warning: 'Warning', critical: 'Critical' } as const;

export function HealthBadge(props: { health: Entity['health'] | undefined }) {
  const h = props.health ?? { level: 'ok' as const, reasons: [] };
  const why = h.reasons.map((r) => `${r.reason} ×${r.count}`).join(', ');
  return html`<span class=${`health health-${h.level}`} title=${why === '' ? HEALTH_TEXT[h.level] : why}>
    <span class="dot" aria-hidden="true"></span>${HEALTH_TEXT[h.level]}${why !== '' ? html`<span class="sr-only">: ${why}</span>` : null}
  </span>`;
}

/** Usage against request and limit: a bar to the limit (or request), a tick at the request. */
export function UsageBar(props: { value: number | null; request: number | null; limit: number | null; text: string }) {
  const of = props.limit ?? props.request;
  const pct = percent(props.value, of);
  const reqPct = props.limit !== null && props.request !== null ? percent(props.request, props.limit) : null;
  const level = pct === null ? 'none' : pct >= 90 ? 'high' : pct >= 70 ? 'mid' : 'low';
  const title = [
    props.text,
    props.request !== null ? `request ${props.request.toPrecision(3)}` : 'no request',
    props.limit !== null ? `limit ${props.limit.toPrecision(3)}` : 'no limit',
  ].join(' · ');
  return html`<span class="usage" title=${title}>
    <span class="usage-text">${props.text}${pct !== null ? html` <small>${Math.round(pct)}%</small>` : null}</span>
    <span class=${`bar bar-${level}`} aria-hidden="true">
      <span class="fill" style=${{ width: `${Math.min(100, pct ?? 0)}%` }}></span>
      ${reqPct !== null ? html`<span class="tick" style=${{ left: `${Math.min(100, reqPct)}%` }}></span>` : null}
    </span>
  </span>`;
}
