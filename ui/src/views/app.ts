import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, connectionState, logout, onConnection, sessionInfo, type ConnectionState, type EntityPage, type SessionInfo } from '../api.js';
import { LEVELS, linkClick, listHref, navigate, onRouteChange, parseRoute, TYPE_LABEL, type Route } from '../router.js';
import { Message } from './common.js';
import { EntityView } from './entity.js';
import { Login } from './login.js';
import { Overview } from './overview.js';
import { ProblemsView, ProblemView, useProblemsAvailable } from './problems.js';
import { SearchView } from './search.js';
import { EntityTable } from './table.js';
import { Tree } from './tree.js';
import { ThemeToggle } from './theme.js';

const NAMESPACED_LEVELS = new Set(['workload', 'pod', 'container']);

/** The namespaces to narrow a level to (the server filters; the choice is in the URL). */
function NamespacePicker(props: { value: string; onPick: (ns: string) => void; reloadKey: number }) {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    apiGet<EntityPage>('/entities', { type: 'namespace', limit: 500 })
      .then((p) => setNames(p.items.map((e) => e.name)))
      .catch(() => setNames([]));
  }, [props.reloadKey]);
  return html`<label class="ns-picker">Namespace
    <select value=${props.value} onChange=${(e: Event) => props.onPick((e.currentTarget as HTMLSelectElement).value)}>
      <option value="">all</option>
      ${names.map((n) => html`<option value=${n}>${n}</option>`)}
      ${props.value !== '' && !names.includes(props.value) ? html`<option value=${props.value}>${props.value}</option>` : null}
    </select>
  </label>`;
}

function ListView(props: { route: Extract<Route, { view: 'list' }>; reloadKey: number }) {
  const r = props.route;
  const [text, setText] = useState(r.q);
  useEffect(() => setText(r.q), [r.q, r.type]);
  const known = LEVELS.some((l) => l.type === r.type);
  if (!known) {
    return html`<${Message} kind="warn" title=${`No level called “${r.type}”`}><p>Pick one of the levels on the left.</p><//>`;
  }
  return html`<section class="list" aria-label=${`${TYPE_LABEL[r.type] ?? r.type}s`}>
    <div class="list-head">
      <h1>${LEVELS.find((l) => l.type === r.type)?.label}</h1>
      <form role="search" onSubmit=${(e: Event) => {
        e.preventDefault();
        navigate(listHref(r.type, text.trim(), r.ns), true);
      }}>
        <label class="sr-only" for="filter">Filter by name or label</label>
        <input id="filter" type="search" placeholder="Filter by name, or label=value" value=${text} onInput=${(e: Event) => setText((e.currentTarget as HTMLInputElement).value)} />
      </form>
      ${NAMESPACED_LEVELS.has(r.type) ? html`<${NamespacePicker} value=${r.ns} onPick=${(ns: string) => navigate(listHref(r.type, r.q, ns), true)} reloadKey=${props.reloadKey} />` : null}
    </div>
    <${EntityTable} type=${r.type} q=${r.q} ns=${r.ns} reloadKey=${props.reloadKey} />
  </section>`;
}

function Main(props: { route: Route; reloadKey: number }) {
  const r = props.route;
  switch (r.view) {
    case 'overview':
      return html`<${Overview} reloadKey=${props.reloadKey} />`;
    case 'list':
      return html`<${ListView} route=${r} reloadKey=${props.reloadKey} />`;
    case 'entity':
      return html`<${EntityView} key=${r.id} id=${r.id} tab=${r.tab} range=${r.range} severity=${r.severity} q=${r.q} reloadKey=${props.reloadKey} />`;
    case 'search':
      return html`<${SearchView} q=${r.q} reloadKey=${props.reloadKey} />`;
    case 'problems':
      return html`<${ProblemsView} reloadKey=${props.reloadKey} />`;
    case 'problem':
      return html`<${ProblemView} id=${r.id} reloadKey=${props.reloadKey} />`;
    default:
      return html`<${Message} kind="warn" title="No such page"><p>The explorer has no view at <code>${r.path}</code>. <a href="/ui/">Go to the overview</a>.</p><//>`;
  }
}

/**
 * Whether this browser could read last time (a hint, not a secret: the session is the HttpOnly
 * cookie). With it, a view asks for its data while the session is checked, saving a round trip;
 * without it (first visit, after a logout) the login comes first and no request is refused.
 */
const HINT = 'sextant.couldRead';
function readBefore(): boolean {
  return localStorage.getItem(HINT) === '1';
}
function markReadBefore(yes: boolean): void {
  if (yes) localStorage.setItem(HINT, '1');
  else localStorage.removeItem(HINT);
}

export function App() {
  const [route, setRoute] = useState<Route>(() => parseRoute(location));
  const [session, setSession] = useState<SessionInfo | 'unreachable' | undefined>(undefined);
  const [conn, setConn] = useState<ConnectionState>(connectionState());
  const [reloadKey, setReloadKey] = useState(0);
  const [search, setSearch] = useState('');
  const hadSession = useRef(false);
  const problems = useProblemsAvailable();

  useEffect(() => onRouteChange(() => setRoute(parseRoute(location))), []);
  useEffect(
    () =>
      onConnection((next) => {
        setConn((prev) => {
          // Back after the gateway was away: every view asks again.
          if (prev === 'unreachable' && next === 'ok') setReloadKey((k) => k + 1);
          return next;
        });
      }),
    [],
  );
  const check = (): void => {
    sessionInfo()
      .then((s) => {
        if (s.mode === 'open' || s.mode === 'session') hadSession.current = true;
        markReadBefore(s.mode === 'open' || s.mode === 'session');
        setSession(s);
      })
      .catch(() => setSession('unreachable'));
  };
  useEffect(check, []);
  useEffect(() => {
    if (conn === 'auth') check();
    if (conn === 'ok' && session === 'unreachable') check();
  }, [conn]);

  const current = route.view === 'entity' ? route.id : undefined;
  const needsLogin = session !== undefined && session !== 'unreachable' && (session.mode === 'login' || session.mode === 'closed');
  const body = (() => {
    // While the session is being asked for, the view already asks for its data (one round trip
    // less before the first rows); a 401 from either brings the login form.
    if (session === undefined && (conn === 'auth' || !readBefore())) return html`<p class="loading" role="status">Connecting to the gateway…</p>`;
    if (session === 'unreachable') {
      return html`<${Message} kind="error" title="The gateway does not answer"><p>It may be stopped or restarting; this page tries again every few seconds.</p><//>`;
    }
    if (needsLogin && session !== undefined) {
      return html`<${Login}
        reason=${session.mode === 'closed' ? 'closed' : hadSession.current ? 'expired' : 'start'}
        onDone=${() => {
          hadSession.current = true;
          markReadBefore(true);
          setSession({ mode: 'session', expiresAt: null });
          setReloadKey((k) => k + 1);
        }}
      />`;
    }
    return html`<${Main} route=${route} reloadKey=${reloadKey} />`;
  })();

  return html`<div class="app" onClick=${linkClick}>
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href="/ui/">Sextant</a>
      <form class="global-search" role="search" onSubmit=${(e: Event) => {
        e.preventDefault();
        if (search.trim() !== '') navigate(`/ui/search?q=${encodeURIComponent(search.trim())}`);
      }}>
        <label class="sr-only" for="global-search">Search by name or label</label>
        <input id="global-search" type="search" placeholder="Search by name or label=value" value=${search} onInput=${(e: Event) => setSearch((e.currentTarget as HTMLInputElement).value)} />
      </form>
      <${ThemeToggle} />
      ${session !== undefined && session !== 'unreachable' && session.mode === 'session'
        ? html`<button type="button" class="logout" onClick=${() => void logout().then(() => (markReadBefore(false), setSession({ mode: 'login', expiresAt: null })))}>Log out</button>`
        : null}
    </header>
    ${conn === 'unreachable' && session !== 'unreachable'
      ? html`<div class="banner banner-error" role="alert">The gateway does not answer (stopped or restarting). What you see may be out of date; reconnecting…</div>`
      : null}
    <div class="layout">
      <nav class="side" aria-label="Levels">
        <ul class="levels">
          <li><a href="/ui/" aria-current=${route.view === 'overview' ? 'page' : undefined}>Overview</a></li>
          ${LEVELS.map((l) => html`<li><a href=${listHref(l.type)} aria-current=${route.view === 'list' && route.type === l.type ? 'page' : undefined}>${l.label}</a></li>`)}
          ${problems ? html`<li><a href="/ui/problems" aria-current=${route.view === 'problems' ? 'page' : undefined}>Problems</a></li>` : null}
        </ul>
        ${!needsLogin && session !== 'unreachable' && conn !== 'auth' && (session !== undefined || readBefore()) ? html`<${Tree} current=${current} reloadKey=${reloadKey} />` : null}
      </nav>
      <main id="main" tabindex="-1">${body}</main>
    </div>
  </div>`;
}
