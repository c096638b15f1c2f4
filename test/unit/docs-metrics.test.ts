import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { KEYS_BY_PATH, SECTIONS } from '../../src/config/schema.js';
import type { MetricDescriptor } from '../../src/model/index.js';
import { Registry } from '../../src/self/registry.js';
import { isDocumented, pattern, readMetricsDoc } from '../helpers/metrics-doc.js';
import { promtoolCheck, promtoolOrSkip } from '../helpers/promtool.js';

/**
 * docs/metrics.md against the code, both ways: every metric, attribute key, event, span and
 * `/metrics` family the code makes is documented, and every documented one is made.
 *
 * The code side is read from the source text, so it sees every name whatever runs: OTLP metric
 * names from the descriptors of `src/sources/<name>/metrics.ts`; `/metrics` families from the
 * first argument of every `registry.counter/gauge/histogram(name, help)` call; attribute keys,
 * event and span names from every string literal in `src/` shaped like a dotted name (a
 * template's `${…}` read as `*`, which must then be a documented `<key>` family). A dotted
 * literal that is none of these (a cgroup file, a Docker label, a config key) is either a config
 * key (the schema's, or one named in a `ConfigError`) or listed in NOT_TELEMETRY with why.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(REPO, 'src');

/**
 * A dotted name, as a literal or a template with `*` for each substitution (`${prefix}.name` is
 * `*.name`: a name nobody can grep, unless it is a documented `<key>` family); spans end in ` *`.
 */
const DOTTED = /^([a-z][a-z0-9_]*|\*)(\.[a-z0-9_*]+)+( \*)?$/;
/** A Prometheus family of ours. */
const FAMILY = /^(sextant|process)_[a-z0-9_]+$/;
/** Literals shaped like a family that are not one, and why. */
const NOT_FAMILIES: ReadonlyMap<string, string> = new Map([['process_group', "an entity type of the gateway's store"]]);

/** Dotted literals in src/ that are not names a user sees in telemetry, and why. */
const NOT_TELEMETRY: readonly { readonly match: RegExp; readonly why: string }[] = [
  { match: /^blkio\./, why: 'cgroup v1 blkio files' },
  { match: /^(system|kubepods|machine)\.slice$|^k8s\.io$/, why: 'cgroup directories the container walk looks under' },
  { match: /^io\.kubernetes\./, why: 'labels kubelet puts on Docker containers (read, not sent)' },
  { match: /^fuse\.lxcfs$/, why: 'a filesystem type the host source skips' },
  { match: /^(checkpoints|counters|package|cursor)\.json$/, why: 'files the agent reads or writes (cursor.json: the disk spool\'s)' },
  { match: /^memory\.(current|usage_in_bytes)$/, why: "cgroup v2 and v1 files the agent reads its own working set from" },
  { match: /^grpc\.max_(receive|send)_message_length$/, why: 'grpc-js channel options' },
  { match: /^(\*\.)?headers\.authorization$|^\*\.token$/, why: 'pino redaction paths' },
  { match: /^log\.level$/, why: 'a key the severity detection reads in JSON log bodies' },
  { match: /^\*\.prev$/, why: 'the fallback copy of the checkpoint file' },
  { match: /^sextant\.receiver\.sender$/, why: "the description of a Symbol (the receiver's per-connection sender)" },
  { match: /^\*\.\*\.svc(\.cluster\.local)?$/, why: "DNS names in the webhook's serving certificate" },
  { match: /^metadata\.(name|uid|namespace)$/, why: 'downward API fieldPaths the webhook puts in the pod spec' },
  { match: /^sextant\.duckdb$|^\*\.wal$/, why: "the gateway store's file and DuckDB's write-ahead file beside it" },
  { match: /^(index\.html|manifest\.json|\*\.gz|\*\.br)$/, why: "the explorer's built files (dist/ui) the gateway serves, and their compressed copies" },
  { match: /^(requests|limits)\.(cpu|memory|storage)$|^services\.(loadbalancers|nodeports)$/, why: 'ResourceQuota resource names the cluster monitor reads (values of the quota attribute, not keys)' },
];

interface SourceScan {
  /** Dotted literals → where (file:line). */
  readonly dotted: Map<string, string[]>;
  /** Literals shaped like our Prometheus families → where. */
  readonly families: Map<string, string[]>;
  /** First arguments of registry.counter/gauge/histogram(name, help) → where. */
  readonly registered: Map<string, string[]>;
  /** Each registered family's type and its longest help text (lookups pass ''). */
  readonly registrations: Map<string, { type: 'counter' | 'gauge' | 'histogram'; help: string }>;
  /** Registrations whose name is not a literal: nothing to grep for. */
  readonly computedRegistrations: string[];
  /** First arguments of `new ConfigError(…)`. */
  readonly configErrorKeys: Set<string>;
  /** `defineMetric(` outside a `metrics.ts` (a source's, the cluster monitor's): descriptors this test would miss. */
  readonly strayDescriptors: string[];
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

function add(map: Map<string, string[]>, key: string, where: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [where]);
  else list.push(where);
}

/** The text of a string literal or template (`${…}` → `*`); undefined for anything else. */
function literalText(n: ts.Node): string | undefined {
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
  if (ts.isTemplateExpression(n)) return n.head.text + n.templateSpans.map((s) => `*${s.literal.text}`).join('');
  return undefined;
}

function scanSource(): SourceScan {
  const scan: SourceScan = {
    dotted: new Map(),
    families: new Map(),
    registered: new Map(),
    registrations: new Map(),
    computedRegistrations: [],
    configErrorKeys: new Set(),
    strayDescriptors: [],
  };
  for (const file of tsFiles(SRC)) {
    const rel = path.relative(REPO, file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (n: ts.Node): string => `${rel}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
    const isMetricsFile = METRICS_FILES.includes(rel);
    const visit = (n: ts.Node): void => {
      const text = literalText(n);
      if (text !== undefined) {
        if (DOTTED.test(text)) add(scan.dotted, text, where(n));
        if (FAMILY.test(text) && !NOT_FAMILIES.has(text)) add(scan.families, text, where(n));
      }
      if (ts.isCallExpression(n)) {
        const callee = n.expression;
        const [first] = n.arguments;
        if (ts.isPropertyAccessExpression(callee) && ['counter', 'gauge', 'histogram'].includes(callee.name.text) && n.arguments.length >= 2 && first !== undefined) {
          if (ts.isStringLiteral(first)) {
            add(scan.registered, first.text, where(n));
            const type = callee.name.text as 'counter' | 'gauge' | 'histogram';
            const help = literalText(n.arguments[1]!) ?? '';
            const known = scan.registrations.get(first.text);
            if (known === undefined || help.length > known.help.length) scan.registrations.set(first.text, { type, help });
          } else scan.computedRegistrations.push(`${where(n)}: ${first.getText(sf)}`);
        }
        if (ts.isIdentifier(callee) && callee.text === 'defineMetric' && !isMetricsFile) scan.strayDescriptors.push(where(n));
      }
      if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'ConfigError') {
        const key = n.arguments?.[0] === undefined ? undefined : literalText(n.arguments[0]);
        if (key !== undefined) scan.configErrorKeys.add(key);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return scan;
}

function isDescriptor(v: unknown): v is MetricDescriptor {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<MetricDescriptor>;
  return typeof d.name === 'string' && typeof d.unit === 'string' && (d.kind === 'gauge' || d.kind === 'sum');
}

/** Every descriptor exported by a `metrics.ts` of src/, directly or in an exported table. */
async function descriptorNames(): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const rel of METRICS_FILES) {
    const file = path.join(REPO, rel);
    const mod = (await import(file)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(mod)) {
      const found = isDescriptor(value) ? [value] : typeof value === 'object' && value !== null ? Object.values(value).filter(isDescriptor) : [];
      for (const d of found) names.set(d.name, `${path.relative(REPO, file)} ${exportName}`);
    }
  }
  return names;
}

function isConfigKey(name: string, scan: SourceScan): boolean {
  return KEYS_BY_PATH.has(name) || SECTIONS.has(name) || scan.configErrorKeys.has(name);
}

/** Where OTLP metric descriptors live: every `metrics.ts` under src/ (each source's, the cluster monitor's kinds). */
const METRICS_FILES = tsFiles(SRC)
  .map((f) => path.relative(REPO, f))
  .filter((rel) => path.basename(rel) === 'metrics.ts');

const doc = readMetricsDoc();
const scan = scanSource();
const promtool = promtoolOrSkip();

describe('docs/metrics.md against the code', () => {
  it('reads names from the page (the tables are where the test looks)', () => {
    expect(doc.metrics.size).toBeGreaterThan(50);
    expect(doc.selfMetrics.size).toBeGreaterThan(40);
    expect(doc.attributes.size).toBeGreaterThan(60);
    expect([...doc.events].sort()).toEqual(['container.exit', 'container.oom', 'container.restart', 'container.start', 'k8s.event', 'sextant.host.reboot']);
    expect(doc.attributes).toContain('k8s.pod.label.<key>');
  });

  it('documents every OTLP metric of the descriptors, and no other', async () => {
    const made = await descriptorNames();
    expect(scan.strayDescriptors, 'defineMetric outside a metrics.ts').toEqual([]);
    expect(METRICS_FILES).toContain('src/gateway/cluster/kinds/metrics.ts');
    const undocumented = [...made].filter(([n]) => !doc.metrics.has(n)).map(([n, where]) => `${n} (${where})`);
    const notMade = [...doc.metrics].filter((n) => !made.has(n));
    expect(undocumented, 'made by the code, missing from docs/metrics.md').toEqual([]);
    expect(notMade, 'in docs/metrics.md, made by no descriptor').toEqual([]);
  });

  it('writes every metric name out in full in src/ (grepping it finds the line that makes it)', async () => {
    const notLiteral = [...(await descriptorNames()).keys()].filter((n) => !scan.dotted.has(n));
    expect(notLiteral).toEqual([]);
  });

  it('documents every family registered for /metrics, and no other', () => {
    expect(scan.computedRegistrations, 'registrations whose name is not a literal').toEqual([]);
    const undocumented = [...scan.registered].filter(([n]) => !doc.selfMetrics.has(n)).map(([n, w]) => `${n} (${w[0]})`);
    const notRegistered = [...doc.selfMetrics].filter((n) => !scan.registered.has(n));
    expect(undocumented, 'registered, missing from docs/metrics.md').toEqual([]);
    expect(notRegistered, 'in docs/metrics.md, registered nowhere').toEqual([]);
  });

  it('every sextant_/process_ name src/ mentions (sextant top, the summary line) is a documented family', () => {
    const unknown = [...scan.families].filter(([n]) => !doc.selfMetrics.has(n)).map(([n, w]) => `${n} (${w.join(', ')})`);
    expect(unknown).toEqual([]);
  });

  it('every dotted name in src/ is a documented metric, attribute, event or span, a config key, or known not to be telemetry', () => {
    const documented = new Set([...doc.metrics, ...doc.attributes, ...doc.events, ...doc.spans].map(pattern));
    const unknown: string[] = [];
    for (const [name, where] of scan.dotted) {
      if (documented.has(name) || isConfigKey(name, scan) || NOT_TELEMETRY.some((r) => r.match.test(name))) continue;
      unknown.push(`${name} (${where.join(', ')})`);
    }
    expect(unknown, 'document these in docs/metrics.md (or, if no user ever sees them, in NOT_TELEMETRY with why)').toEqual([]);
  });

  it('every documented attribute, event and span is made by src/', () => {
    const notMade = [...doc.attributes, ...doc.events, ...doc.spans].filter((n) => !scan.dotted.has(pattern(n)));
    expect(notMade).toEqual([]);
  });

  it('every attribute a metric, event or span table mentions is in an attribute table', () => {
    const missing = [...doc.attributeMentions].filter(([n]) => !doc.metrics.has(n) && !isDocumented(n, doc.attributes)).map(([n, line]) => `${n} (docs/metrics.md:${line})`);
    expect(missing).toEqual([]);
  });

  it('every NOT_TELEMETRY entry still matches a literal in src/ (no stale excuses)', () => {
    const stale = NOT_TELEMETRY.filter((r) => ![...scan.dotted.keys()].some((n) => r.match.test(n))).map((r) => `${r.match} (${r.why})`);
    expect(stale).toEqual([]);
  });
});

describe(`every /metrics family, whatever the configuration${promtool.reason}`, () => {
  // The e2e test runs promtool on real pages; families that only some configurations register
  // (Kubernetes metadata, gRPC ingest) are linted here, each with the type and help it is
  // registered with.
  it.skipIf(!promtool.available)('passes promtool check metrics, names and help included', () => {
    const r = new Registry();
    for (const [name, { type, help }] of scan.registrations) {
      if (type === 'counter') r.counter(name, help).inc();
      else if (type === 'gauge') r.gauge(name, help).set(1);
      else r.histogram(name, help, [1]).observe(0.5);
    }
    expect(promtoolCheck(r.render())).toEqual({ status: 0, output: '' });
  });
});
