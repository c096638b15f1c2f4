import http from 'node:http';
import https from 'node:https';
import type { AgentStatus, FileLag } from '../self/agent-status.js';
import { parsePrometheusText } from './prom-text.js';
import type { Scrape } from './view.js';

/**
 * Fetches an agent's `/metrics` and `/status`. The target is the agent's self listen address
 * (or a `kubectl port-forward` of it); bodies are capped and a slow agent times out, so `top`
 * never hangs or grows on a bad target.
 */

/** Largest body read; an agent's /metrics is tens of KiB. */
const MAX_BODY = 16 * 1024 * 1024;

export class ScrapeError extends Error {
  override readonly name = 'ScrapeError';
}

function get(url: URL, timeoutMs: number): Promise<{ status: number; body: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // No keep-alive pool (agent: false): nothing holds the event loop once top is done.
    const req = lib.get(url, { timeout: timeoutMs, headers: { accept: 'text/plain, application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.destroy(new ScrapeError(`${url.pathname}: response larger than ${MAX_BODY} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new ScrapeError(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The status body if it has the expected shape; anything else is treated as no status. */
export function readStatus(text: string): AgentStatus | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const logs = (v as { logs?: unknown }).logs;
  if (logs === null || logs === undefined || typeof logs !== 'object') return { version: 1, logs: null };
  const rawLag = (logs as { lag?: unknown }).lag;
  if (!Array.isArray(rawLag)) return { version: 1, logs: null };
  const lag: FileLag[] = [];
  for (const f of rawLag.slice(0, 100)) {
    const e = f as Partial<FileLag> | null;
    if (e && typeof e.path === 'string' && typeof e.size === 'number' && typeof e.committed === 'number') lag.push({ path: e.path, size: e.size, committed: e.committed });
  }
  return { version: 1, logs: { lag } };
}

/** One scrape of `base` (http://host:port). Rejects with a one-line reason when /metrics cannot be read. */
export async function scrape(base: URL, timeoutMs: number, now: () => number = () => performance.now()): Promise<Scrape> {
  let metrics;
  try {
    metrics = await get(new URL('/metrics', base), timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ScrapeError(`cannot reach ${base.origin}: ${e.code ?? e.message}`);
  }
  if (metrics.status !== 200) throw new ScrapeError(`${base.origin}/metrics answered HTTP ${metrics.status}`);
  let status: AgentStatus | null = null;
  try {
    const s = await get(new URL('/status', base), timeoutMs);
    if (s.status === 200) status = readStatus(s.body);
  } catch {
    // An agent without /status (or one that failed it) still has its metrics to show.
  }
  return { atMs: now(), metrics: parsePrometheusText(metrics.body), status };
}

/**
 * The target URL: `--target` (a URL, or host:port), else the agent's SEXTANT_LISTEN, else the
 * default 127.0.0.1:9464. An agent listening on every interface (0.0.0.0, ::) is reached on
 * loopback.
 */
export function resolveTarget(flag: string | undefined, listenEnv: string | undefined): URL {
  const raw = (flag ?? listenEnv ?? '127.0.0.1:9464').trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ScrapeError(`not a URL or host:port: write e.g. --target http://127.0.0.1:9464`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ScrapeError('the target must be an http:// or https:// URL');
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  return new URL(u.origin);
}
