import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The names docs/metrics.md documents, read from its tables: a table whose first header cell is
 * `metric`, `attribute`, `event` or `span` lists names in its first column, backquoted (several
 * to a cell allowed). A `metric` name with a dot is an OTLP metric, one without (`sextant_…`,
 * `process_…`) a Prometheus family on `/metrics`. `<key>` in a name stands for any key of a
 * family (`k8s.pod.label.<key>`); `pattern()` turns it into `*`, which is how the code scan
 * writes a template's substitution.
 */

export const METRICS_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/metrics.md');

export interface DocumentedNames {
  /** OTLP metric names. */
  readonly metrics: ReadonlySet<string>;
  /** Prometheus metric families on `/metrics`. */
  readonly selfMetrics: ReadonlySet<string>;
  /** Attribute keys, families with `<key>`. */
  readonly attributes: ReadonlySet<string>;
  readonly events: ReadonlySet<string>;
  /** Span names, `<source>`-style parts included. */
  readonly spans: ReadonlySet<string>;
  /**
   * Dotted names in the `attributes` column of metric, event and span tables, each with the line
   * it is on: the attribute index must list them too.
   */
  readonly attributeMentions: ReadonlyMap<string, number>;
}

/** `k8s.pod.label.<key>` → `k8s.pod.label.*`; `sextant.collect <source>` → `sextant.collect *`. */
export function pattern(name: string): string {
  return name.replace(/<[^>]+>/g, '*');
}

/** Cells of a table row, split at `|` outside backquotes. */
function cells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let code = false;
  for (const ch of line.trim().replace(/^\|/, '').replace(/\|$/, '')) {
    if (ch === '`') code = !code;
    if (ch === '|' && !code) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function backquoted(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

const DOTTED = /^[a-z][a-z0-9_]*(\.[a-z0-9_<>]+)+$/;
const PROMETHEUS = /^[a-z_][a-z0-9_]*$/;

export function readMetricsDoc(file = METRICS_DOC): DocumentedNames {
  const lines = readFileSync(file, 'utf8').split('\n');
  const metrics = new Set<string>();
  const selfMetrics = new Set<string>();
  const attributes = new Set<string>();
  const events = new Set<string>();
  const spans = new Set<string>();
  const attributeMentions = new Map<string, number>();
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|\s*-{3}/.test(lines[i + 1]!)) continue;
    const header = cells(lines[i]!).map((h) => h.toLowerCase());
    const kind = header[0]!;
    const attributesColumn = header.indexOf('attributes');
    let row = i + 2;
    for (; row < lines.length && lines[row]!.startsWith('|'); row++) {
      const c = cells(lines[row]!);
      const names = backquoted(c[0] ?? '');
      for (const name of names) {
        if (kind === 'metric') {
          if (name.includes('.')) metrics.add(name);
          else if (PROMETHEUS.test(name)) selfMetrics.add(name);
          else throw new Error(`docs/metrics.md:${row + 1}: \`${name}\` is neither an OTLP nor a Prometheus metric name`);
        } else if (kind === 'attribute') attributes.add(name);
        else if (kind === 'event') events.add(name);
        else if (kind === 'span') spans.add(name);
      }
      if (attributesColumn > 0 && (kind === 'metric' || kind === 'event' || kind === 'span')) {
        for (const name of backquoted(c[attributesColumn] ?? '')) if (DOTTED.test(name) && !attributeMentions.has(name)) attributeMentions.set(name, row + 1);
      }
    }
    i = row - 1;
  }
  return { metrics, selfMetrics, attributes, events, spans, attributeMentions };
}

/** Whether `name` (a concrete key) is documented, directly or as a `<key>` family. */
export function isDocumented(name: string, documented: ReadonlySet<string>): boolean {
  if (documented.has(name)) return true;
  for (const d of documented) {
    if (!d.includes('<')) continue;
    const re = new RegExp(`^${d.split(/<[^>]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
    if (re.test(name)) return true;
  }
  return false;
}
