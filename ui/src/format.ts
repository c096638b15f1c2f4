/** Numbers and times as a person reads them. */

export function cores(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v < 0.01) return `${(v * 1000).toFixed(1)}m`;
  if (v < 1) return `${Math.round(v * 1000)}m`;
  return v.toFixed(2);
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x >= 100 || i === 0 ? Math.round(x) : x.toFixed(1)} ${units[i]}`;
}

/** A value in the metric's unit (UCUM as OpenTelemetry writes it). */
export function unitValue(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'By') return bytes(v);
  if (unit === 'By/s') return `${bytes(v)}/s`;
  if (unit === '1') return `${(v * 100).toFixed(1)}%`;
  if (unit === 's') return `${v.toFixed(2)} s`;
  if (unit === '{cpu}' || unit === '{core}' || unit === '{cores}') return cores(v);
  const abs = Math.abs(v);
  const s = abs >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : abs >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : abs >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(2);
  const u = unit.replace(/^\{(.*)\}$/, '$1');
  return u === '' ? s : `${s} ${u}`;
}

export function percent(v: number | null, of: number | null): number | null {
  if (v === null || of === null || of <= 0) return null;
  return (v / of) * 100;
}

export function time(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { hour12: false, month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function rangeMs(range: string): number {
  const m = /^(\d+)([mhd])$/.exec(range);
  if (m === null) return 3_600_000;
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 86_400_000);
}

/** A step that gives a chart about `points` points over the range (never below 1 s). */
export function stepFor(range: string, points = 240): string {
  return `${Math.max(1, Math.round(rangeMs(range) / 1000 / points))}s`;
}

export const SEVERITY_OPTIONS = ['', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export function severityClass(n: number): string {
  if (n >= 17) return 'sev-error';
  if (n >= 13) return 'sev-warn';
  if (n >= 9) return 'sev-info';
  if (n > 0) return 'sev-debug';
  return 'sev-none';
}

/** A log body that is a JSON object, as its fields; undefined for anything else. */
export function jsonFields(body: string): [string, string][] | undefined {
  const t = body.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]);
  } catch {
    return undefined;
  }
}
