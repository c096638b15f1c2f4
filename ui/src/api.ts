/**
 * The page's only data source: the gateway's query API (/api/v1) and the session endpoint. Every
 * failure becomes an `ApiFailure` the views can explain (never a blank screen): the session ended,
 * the thing asked for does not exist, the gateway is unreachable or restarting, the query failed.
 */

export type FailureKind = 'auth' | 'not_found' | 'bad_request' | 'unavailable' | 'unreachable' | 'server';

export class ApiFailure extends Error {
  readonly kind: FailureKind;
  readonly status: number;
  constructor(kind: FailureKind, status: number, message: string) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

type Listener = (state: ConnectionState) => void;
export type ConnectionState = 'ok' | 'unreachable' | 'auth';

let state: ConnectionState = 'ok';
const listeners = new Set<Listener>();
let probe: number | undefined;

export function onConnection(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function connectionState(): ConnectionState {
  return state;
}

function setState(next: ConnectionState): void {
  if (next === state) return;
  state = next;
  for (const l of listeners) l(next);
  if (next === 'unreachable') startProbe();
}

/** While the gateway is unreachable, ask every 2 s whether it is back (one request, no storm). */
function startProbe(): void {
  if (probe !== undefined) return;
  probe = window.setInterval(() => {
    fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store' })
      .then((r) => {
        if (!r.ok) return;
        window.clearInterval(probe);
        probe = undefined;
        void r.json().then((b: { data: SessionInfo }) => setState(b.data.mode === 'login' || b.data.mode === 'closed' ? 'auth' : 'ok'));
      })
      .catch(() => undefined);
  }, 2000);
}

/** After a login: the page may read again. */
export function markAuthenticated(): void {
  setState('ok');
}

export type Query = Record<string, string | number | undefined | null | readonly string[]>;

export function queryString(q: Query): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v) u.append(k, x);
    else u.set(k, String(v));
  }
  const s = u.toString();
  return s === '' ? '' : `?${s}`;
}

/** GET an /api/v1 endpoint and unwrap its envelope. */
export async function apiGet<T>(path: string, q: Query = {}, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}${queryString(q)}`, { credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: signal ?? null });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    setState('unreachable');
    throw new ApiFailure('unreachable', 0, 'The gateway does not answer (stopped or restarting). The page reconnects by itself.');
  }
  let body: { status?: string; data?: T; error?: string; errorType?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // A proxy's HTML error page, or a cut answer: described by the status below.
  }
  if (res.ok && body.status === 'success') {
    if (state === 'unreachable') setState('ok');
    return body.data as T;
  }
  const message = body.error ?? `HTTP ${res.status}`;
  if (res.status === 401 || res.status === 403) {
    setState('auth');
    throw new ApiFailure('auth', res.status, message);
  }
  if (res.status === 404) throw new ApiFailure('not_found', 404, message);
  if (res.status === 400) throw new ApiFailure('bad_request', 400, message);
  if (res.status === 503) throw new ApiFailure('unavailable', 503, message);
  if (res.status === 502 || res.status === 504) {
    setState('unreachable');
    throw new ApiFailure('unreachable', res.status, message);
  }
  throw new ApiFailure('server', res.status, message);
}

export interface SessionInfo {
  mode: 'open' | 'session' | 'login' | 'closed';
  expiresAt: string | null;
}

export async function sessionInfo(): Promise<SessionInfo> {
  let res: Response;
  try {
    res = await fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    setState('unreachable');
    throw new ApiFailure('unreachable', 0, 'The gateway does not answer.');
  }
  const body = (await res.json()) as { data: SessionInfo };
  return body.data;
}

/** Exchanges a read token for the session cookie; the token is not kept anywhere by the page. */
export async function login(token: string): Promise<void> {
  const res = await fetch('/ui/session', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    throw new ApiFailure('auth', res.status, body.error ?? `HTTP ${res.status}`);
  }
  markAuthenticated();
}

export async function logout(): Promise<void> {
  await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined);
}

// ---- the shapes the API answers (the parts the page reads)

export interface EntityRef {
  id: string;
  type: string;
  name: string;
}

export interface Latest {
  value: number;
  unit: string;
  time: string;
}

export interface Entity extends EntityRef {
  namespace: string | null;
  attributes: Record<string, unknown>;
  firstSeen: string;
  lastSeen: string;
  parents: EntityRef[];
  metrics: { cpu: Latest | null; memory: Latest | null };
  bounds: { cpuRequest: number | null; cpuLimit: number | null; memoryRequest: number | null; memoryLimit: number | null };
  health: { level: 'ok' | 'warning' | 'critical'; reasons: { reason: string; count: number }[] };
}

export interface EntityDetail extends Entity {
  children: EntityRef[];
  childrenTotal: number;
}

export interface EntityPage {
  total: number;
  items: Entity[];
  nextCursor: string | null;
}

export interface Series {
  metric: string;
  unit?: string;
  entity?: EntityRef | null;
  attributes?: Record<string, unknown>;
  t: number[];
  v: (number | null)[];
}

export interface SeriesAnswer {
  from: number;
  to: number;
  step: number;
  series: Series[];
}

export interface LogItem {
  time: string;
  timeUnixNano: string;
  severity: number;
  severityText: string;
  body: string;
  attributes: Record<string, unknown>;
  entity: EntityRef | null;
}

export interface EventItem {
  time: string;
  timeUnixNano: string;
  name: string;
  severity: number;
  body: string;
  attributes: Record<string, unknown>;
  entity: EntityRef | null;
}

export interface RecordPage<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Problem {
  id: string;
  title: string;
  status: string;
  openedAt: string;
  closedAt: string | null;
  rootCause: { id: string; type: string; name: string; why: string } | null;
  affected: EntityRef[];
  evidence: ProblemEvidence[];
  /** GET /problems/{id} only: what happened to the problem, oldest first. */
  history?: { time: string; event: string; detail: string }[];
}

/** Why a problem was opened: an event, a metric excerpt against its baseline, or log lines. */
export interface ProblemEvidence {
  type: 'event' | 'metric' | 'log';
  signal: string;
  entity: EntityRef | null;
  time: string;
  summary: string;
  event?: { name: string; body: string };
  metric?: { metric: string; unit: string; t: number[]; v: number[]; median?: number; threshold?: number };
  lines?: { time: string; severity: number; body: string }[];
}
