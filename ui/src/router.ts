/**
 * Every view is a URL under /ui/ (the gateway answers index.html for all of them, so a deep link
 * works after a reload); moving between views pushes history entries, so Back works.
 *
 *   /ui/                       the cluster overview (the levels and their counts)
 *   /ui/list/<type>?q=&ns=     the table of one level
 *   /ui/entity/<id>?tab=&range=
 *   /ui/problems, /ui/problems/<id>
 */

export const LEVELS = [
  { type: 'cluster', label: 'Clusters' },
  { type: 'host', label: 'Nodes' },
  { type: 'namespace', label: 'Namespaces' },
  { type: 'workload', label: 'Workloads' },
  { type: 'pod', label: 'Pods' },
  { type: 'container', label: 'Containers' },
  { type: 'process_group', label: 'Process groups' },
  { type: 'service', label: 'Services' },
] as const;

export const TYPE_LABEL: Readonly<Record<string, string>> = {
  cluster: 'Cluster',
  host: 'Node',
  namespace: 'Namespace',
  workload: 'Workload',
  pod: 'Pod',
  container: 'Container',
  process_group: 'Process group',
  process: 'Process',
  service: 'Service',
};

export const TABS = ['overview', 'logs', 'events', 'children'] as const;
export type Tab = (typeof TABS)[number];
export const RANGES = ['15m', '1h', '6h', '24h', '7d'] as const;

export type Route =
  | { view: 'overview' }
  | { view: 'list'; type: string; q: string; ns: string }
  | { view: 'entity'; id: string; tab: Tab; range: string; severity: string; q: string }
  | { view: 'search'; q: string }
  | { view: 'problems' }
  | { view: 'problem'; id: string }
  | { view: 'unknown'; path: string };

/** A path segment decoded; a malformed escape (`%ff`) is kept as typed rather than thrown. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseRoute(loc: { pathname: string; search: string }): Route {
  const p = loc.pathname.replace(/\/+$/, '');
  const q = new URLSearchParams(loc.search);
  if (p === '/ui' || p === '') return { view: 'overview' };
  let m = /^\/ui\/list\/([a-z_]+)$/.exec(p);
  if (m !== null) return { view: 'list', type: m[1]!, q: q.get('q') ?? '', ns: q.get('ns') ?? '' };
  m = /^\/ui\/entity\/([^/]+)$/.exec(p);
  if (m !== null) {
    const tab = (TABS as readonly string[]).includes(q.get('tab') ?? '') ? (q.get('tab') as Tab) : 'overview';
    const range = (RANGES as readonly string[]).includes(q.get('range') ?? '') ? q.get('range')! : '1h';
    return { view: 'entity', id: decode(m[1]!), tab, range, severity: q.get('severity') ?? '', q: q.get('q') ?? '' };
  }
  if (p === '/ui/search') return { view: 'search', q: q.get('q') ?? '' };
  if (p === '/ui/problems') return { view: 'problems' };
  m = /^\/ui\/problems\/([^/]+)$/.exec(p);
  if (m !== null) return { view: 'problem', id: decode(m[1]!) };
  return { view: 'unknown', path: loc.pathname };
}

function qs(params: Record<string, string>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '') u.set(k, v);
  const s = u.toString();
  return s === '' ? '' : `?${s}`;
}

export function listHref(type: string, q = '', ns = ''): string {
  return `/ui/list/${type}${qs({ q, ns })}`;
}

export function entityHref(id: string, params: { tab?: string; range?: string; severity?: string; q?: string } = {}): string {
  return `/ui/entity/${encodeURIComponent(id)}${qs({ tab: params.tab === 'overview' ? '' : (params.tab ?? ''), range: params.range === '1h' ? '' : (params.range ?? ''), severity: params.severity ?? '', q: params.q ?? '' })}`;
}

const NAVIGATE = 'sextant:navigate';

/** Moves to a view: a new history entry (or replaces the current one, for filters typed in place). */
export function navigate(href: string, replace = false): void {
  if (href === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new Event(NAVIGATE));
  if (!replace) {
    window.scrollTo(0, 0);
    // Keyboard and screen-reader users land on the new view, not on the link they left.
    queueMicrotask(() => document.getElementById('main')?.focus({ preventScroll: true }));
  }
}

export function onRouteChange(fn: () => void): () => void {
  window.addEventListener('popstate', fn);
  window.addEventListener(NAVIGATE, fn);
  return () => {
    window.removeEventListener('popstate', fn);
    window.removeEventListener(NAVIGATE, fn);
  };
}

/** A click on an in-page link: handled by the router unless the user asked for a new tab. */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest('a');
  if (a === null || a === undefined) return;
  const href = a.getAttribute('href');
  if (href === null || !href.startsWith('/ui')) return;
  e.preventDefault();
  navigate(href);
}
