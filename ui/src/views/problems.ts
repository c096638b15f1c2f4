import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, apiGet, type Problem, type ProblemEvidence } from '../api.js';
import { ago, severityClass, time, unitValue } from '../format.js';
import { entityHref, TYPE_LABEL } from '../router.js';
import { Failure, Loading, Message } from './common.js';

/**
 * Problems (GET /api/v1/problems, from the gateway's problem detection). A gateway without it
 * answers 404: then the navigation entry and the badges stay hidden, without a message.
 */

let available: boolean | undefined;
const waiting = new Set<(a: boolean) => void>();

/** Whether the gateway serves /api/v1/problems (asked once a page load). */
export function problemsAvailable(): Promise<boolean> {
  if (available !== undefined) return Promise.resolve(available);
  return new Promise((resolve) => {
    waiting.add(resolve);
    if (waiting.size > 1) return;
    // The OpenAPI document lists what this gateway serves: asking it avoids a 404 per page load.
    fetch('/api/v1/openapi.json', { credentials: 'same-origin' })
      .then((r) => (r.ok ? (r.json() as Promise<{ paths?: Record<string, unknown> }>) : { paths: {} }))
      .then((doc) => doc.paths?.['/api/v1/problems'] !== undefined)
      .catch(() => false)
      .then((a) => {
        available = a;
        for (const w of waiting) w(a);
        waiting.clear();
      });
  });
}

export function useProblemsAvailable(): boolean {
  const [a, setA] = useState(available === true);
  useEffect(() => {
    void problemsAvailable().then(setA);
  }, []);
  return a;
}

/** A count of the open problems that touch an entity; nothing when there are none or no problems API. */
export function ProblemBadge(props: { entity: string; reloadKey: number }) {
  const [open, setOpen] = useState<Problem[]>([]);
  useEffect(() => {
    let live = true;
    void problemsAvailable().then((a) => {
      if (!a) return;
      apiGet<{ problems: Problem[] }>('/problems', { status: 'open', entity: props.entity, limit: 20 })
        .then((d) => live && setOpen(d.problems))
        .catch(() => live && setOpen([]));
    });
    return () => {
      live = false;
    };
  }, [props.entity, props.reloadKey]);
  if (open.length === 0) return null;
  return html`<a class="problem-badge" href=${`/ui/problems/${encodeURIComponent(open[0]!.id)}`} title=${open.map((p) => p.title).join('\n')}>${open.length} open problem${open.length === 1 ? '' : 's'}</a>`;
}

function ProblemRow(props: { p: Problem }) {
  const p = props.p;
  return html`<li class=${`problem problem-${p.status}`}>
    <a href=${`/ui/problems/${encodeURIComponent(p.id)}`}>${p.title}</a>
    <span class="muted">${p.status} · opened ${ago(p.openedAt)}${p.closedAt !== null ? ` · closed ${ago(p.closedAt)}` : ''}</span>
    ${p.rootCause !== null ? html`<span>root cause: <a href=${entityHref(p.rootCause.id)}>${TYPE_LABEL[p.rootCause.type] ?? p.rootCause.type} ${p.rootCause.name}</a></span>` : null}
  </li>`;
}

export function ProblemsView(props: { reloadKey: number }) {
  const [status, setStatus] = useState('open');
  const [list, setList] = useState<Problem[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    setList(undefined);
    setError(undefined);
    apiGet<{ problems: Problem[] }>('/problems', { status, limit: 200 })
      .then((d) => setList(d.problems))
      .catch(setError);
  }, [status, props.reloadKey]);
  if (error instanceof ApiFailure && error.kind === 'not_found') {
    return html`<${Message} kind="info" title="No problem detection on this gateway"><p>This gateway does not serve /api/v1/problems.</p><//>`;
  }
  return html`<section aria-label="Problems">
    <h1>Problems</h1>
    <div class="toolbar">
      ${['open', 'closed', 'all'].map((s) => html`<button type="button" aria-pressed=${s === status} onClick=${() => setStatus(s)}>${s}</button>`)}
    </div>
    ${error !== undefined ? html`<${Failure} error=${error} what="the problems" />` : null}
    ${list === undefined && error === undefined ? html`<${Loading} what="problems" />` : null}
    ${list !== undefined && list.length === 0 ? html`<p class="muted">No ${status === 'all' ? '' : `${status} `}problems.</p>` : null}
    ${list !== undefined && list.length > 0 ? html`<ul class="problems">${list.map((p) => html`<${ProblemRow} key=${p.id} p=${p} />`)}</ul>` : null}
  </section>`;
}

export function ProblemView(props: { id: string; reloadKey: number }) {
  const [p, setP] = useState<Problem | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    setError(undefined);
    apiGet<Problem | { problem: Problem }>(`/problems/${encodeURIComponent(props.id)}`)
      .then((d) => setP('problem' in d ? d.problem : d))
      .catch(setError);
  }, [props.id, props.reloadKey]);
  if (error !== undefined) return html`<${Failure} error=${error} what=${`problem ${props.id}`} />`;
  if (p === undefined) return html`<${Loading} what="the problem" />`;
  return html`<article class="problem-detail">
    <p><a href="/ui/problems">Problems</a></p>
    <h1>${p.title}</h1>
    <p class="muted">${p.status} · opened ${time(p.openedAt)}${p.closedAt !== null ? ` · closed ${time(p.closedAt)}` : ''}</p>
    ${p.rootCause !== null
      ? html`<section><h2>Root cause</h2><p><a href=${entityHref(p.rootCause.id)}>${TYPE_LABEL[p.rootCause.type] ?? p.rootCause.type} ${p.rootCause.name}</a>: ${p.rootCause.why}</p></section>`
      : null}
    <section><h2>Affected</h2><ul>${p.affected.map((a) => html`<li><a href=${entityHref(a.id)}>${TYPE_LABEL[a.type] ?? a.type} ${a.name}</a></li>`)}</ul></section>
    <section><h2>Evidence</h2><ul class="evidence">${p.evidence.map((ev) => html`<${EvidenceItem} ev=${ev} />`)}</ul></section>
    ${p.history !== undefined && p.history.length > 0
      ? html`<section><h2>History</h2><ol class="timeline">${p.history.map((h) => html`<li><span class="muted">${time(h.time)}</span> ${h.event}${h.detail !== '' ? html` — ${h.detail}` : null}</li>`)}</ol></section>`
      : null}
  </article>`;
}

/** The last values of a metric excerpt: enough to see the step away from the baseline. */
const EXCERPT_VALUES = 8;

function EvidenceItem(props: { ev: ProblemEvidence }) {
  const ev = props.ev;
  const where = ev.entity !== null ? html` on <a href=${entityHref(ev.entity.id)}>${TYPE_LABEL[ev.entity.type] ?? ev.entity.type} ${ev.entity.name}</a>` : null;
  const m = ev.metric;
  return html`<li class=${`evidence-${ev.type}`}>
    <span class="muted">${time(ev.time)}</span> ${ev.summary}${where}
    ${m !== undefined && m.v.length > 0
      ? html`<div class="excerpt"><code>${m.metric}</code>: ${m.v.slice(-EXCERPT_VALUES).map((v) => unitValue(v, m.unit)).join(', ')}${m.median !== undefined ? html` · baseline ${unitValue(m.median, m.unit)}` : null}${m.threshold !== undefined ? html` · threshold ${unitValue(m.threshold, m.unit)}` : null}</div>`
      : null}
    ${ev.lines !== undefined && ev.lines.length > 0
      ? html`<ol class="log-lines">${ev.lines.map((l) => html`<li class=${`log ${severityClass(l.severity)}`}><span class="muted">${time(l.time)}</span> <code>${l.body}</code></li>`)}</ol>`
      : null}
  </li>`;
}
