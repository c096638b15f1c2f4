import type { TopView } from './view.js';

/**
 * The view as text lines, each cut to `width` columns. The same lines serve the live screen and
 * the one-shot table on a pipe; values the view does not have yet (rates before the second
 * scrape) show as "-".
 */

const DASH = '-';

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatRate(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return DASH;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return DASH;
  return Math.round(n).toLocaleString('en-US');
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return DASH;
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  return `${s.toFixed(2)} s`;
}

function percent(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** Right-aligned cells after a left-aligned first one. */
function row(first: string, firstWidth: number, cells: readonly string[], cellWidth: number): string {
  let out = `  ${first.length > firstWidth ? first.slice(0, firstWidth) : first.padEnd(firstWidth)}`;
  for (const c of cells) out += ` ${c.padStart(cellWidth)}`;
  return out;
}

/** The tail of a path that fits, marked with "…" when cut (the file name is what tells files apart). */
function tail(s: string, width: number): string {
  if (s.length <= width) return s;
  return width <= 1 ? '…' : `…${s.slice(s.length - width + 1)}`;
}

export interface RenderOptions {
  readonly target: string;
  readonly width: number;
  /** Shown on the live screen only. */
  readonly hint?: string | undefined;
  /** A problem with the latest scrape (the previous numbers stay on screen). */
  readonly error?: string | undefined;
  /**
   * The terminal's rows (live screen only). A frame taller than the terminal would scroll its
   * head (the target, the agent's CPU and RSS) off the screen, so the tail is cut instead and the
   * last row says how much.
   */
  readonly height?: number | undefined;
}

export function renderView(view: TopView, options: RenderOptions): string[] {
  const lines: string[] = [];
  const cpu = view.cpuPercent === undefined ? DASH : `${view.cpuPercent.toFixed(1)}%`;
  const inFlight = view.inFlight === undefined ? DASH : String(view.inFlight);
  lines.push(`sextant top  ${options.target}`);
  lines.push(`AGENT  cpu ${cpu}   in-flight requests ${inFlight}${options.hint ? `   ${options.hint}` : ''}`);
  // The three memory figures together: RSS counts the node executable's shared pages, RssAnon
  // is what the agent allocated, the working set is what kubelet evicts on.
  const limit = view.memoryLimitBytes === undefined ? '' : ` of ${formatBytes(view.memoryLimitBytes)}`;
  lines.push(`MEMORY rss ${formatBytes(view.rssBytes)}   anon ${formatBytes(view.rssAnonBytes)}   working set ${view.workingSetBytes === undefined ? DASH : formatBytes(view.workingSetBytes)}${limit}`);
  if (view.spool !== undefined) {
    const fill = view.spool.capacity > 0 ? ` (${percent(view.spool.bytes / view.spool.capacity)})` : '';
    lines.push(`SPOOL  ${formatBytes(view.spool.bytes)} of ${formatBytes(view.spool.capacity)}${fill}   ${formatCount(view.spool.batches)} batches waiting`);
  }
  if (options.error !== undefined) lines.push(`! ${options.error}`);
  lines.push('');

  lines.push('SOURCES' + ' '.repeat(14) + ['records/s', 'bytes/s', 'records', 'bytes'].map((h) => h.padStart(14)).join(' '));
  if (view.sources.length === 0) lines.push('  (no per-source counters on this agent)');
  for (const s of view.sources) {
    lines.push(row(s.source, 18, [formatRate(s.recordsPerSec), formatBytes(s.bytesPerSec) + (s.bytesPerSec === undefined ? '' : '/s'), formatCount(s.records), formatBytes(s.bytes)], 14));
  }
  lines.push('');

  lines.push('RINGS' + ' '.repeat(16) + ['items', 'capacity', 'bytes', 'capacity', 'fill'].map((h) => h.padStart(12)).join(' '));
  for (const r of view.rings) {
    lines.push(row(r.signal, 18, [formatCount(r.items), formatCount(r.capacityItems), formatBytes(r.bytes), formatBytes(r.capacityBytes), percent(r.fill)], 12));
  }
  lines.push('');

  lines.push('DROPS' + ' '.repeat(16) + ['total', 'per s'].map((h) => h.padStart(12)).join(' '));
  for (const d of view.drops) lines.push(row(d.reason, 18, [formatCount(d.total), formatRate(d.perSec)], 12));
  lines.push('');

  lines.push('EXPORT' + ' '.repeat(15) + ['requests/s', 'records/s', 'p50', 'p99', 'retries', 'retries/s', 'failed'].map((h) => h.padStart(11)).join(' '));
  for (const e of view.exports) {
    const mark = e.latencyWindow === 'total' && e.p50 !== undefined ? '*' : '';
    lines.push(
      row(e.signal, 18, [formatRate(e.requestsPerSec), formatRate(e.recordsPerSec), formatSeconds(e.p50) + mark, formatSeconds(e.p99) + mark, formatCount(e.retries), formatRate(e.retriesPerSec), formatCount(e.failed)], 11),
    );
  }
  if (view.exports.some((e) => e.latencyWindow === 'total' && e.p50 !== undefined)) lines.push('  * latency since the agent started (no requests in the last interval)');
  lines.push('');

  lines.push('CHECKPOINT LAG (top 10)' + ['behind', 'size'].map((h) => h.padStart(12)).join(' ') + '  file');
  if (view.lag === null) lines.push('  (no log source, or the agent has no /status)');
  else if (view.lag.length === 0) lines.push('  (no files tailed)');
  else {
    for (const f of view.lag.slice(0, 10)) {
      const behind = Math.max(0, f.size - f.committed);
      const left = `  ${''.padEnd(21)}${formatBytes(behind).padStart(12)} ${formatBytes(f.size).padStart(12)}  `;
      lines.push(left + tail(f.path, Math.max(10, options.width - left.length)));
    }
  }
  if (view.badLines > 0) lines.push('', `(${view.badLines} unreadable lines in /metrics ignored)`);
  const height = options.height;
  if (height !== undefined && height >= 2 && lines.length > height) {
    const cut = lines.length - (height - 1);
    lines.length = height - 1;
    lines.push(`… ${cut} more ${cut === 1 ? 'line' : 'lines'} below: a taller terminal shows them`);
  }
  return lines.map((l) => (l.length > options.width ? l.slice(0, options.width) : l));
}
