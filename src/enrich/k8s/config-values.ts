import { type KeySpec, Problem, type ParseContext } from '../../config-kinds/values.js';
import type { SourceRef } from './pod-attributes.js';

/**
 * Value kinds of the `kubernetes:` config section that the shared ones (config-kinds/values.ts) do not
 * cover. Like those, a parser that rejects a value says what is wrong and never repeats the value.
 */

interface Common {
  readonly description: string;
}

function base<T>(type: string, o: Common, def: T, parse: (v: unknown, ctx: ParseContext) => T, show: (v: T) => unknown = (v) => v): KeySpec<T> {
  return { type, description: o.description, default: def, secret: false, sensitive: false, switch: false, parse, show };
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function items(value: unknown, ctx: ParseContext): string[] {
  if (Array.isArray(value) && ctx.from === 'yaml') {
    return value.map((v, i) => {
      if (typeof v !== 'string') throw new Problem(`item ${i + 1}: expected a string, got ${kindOf(v)}`);
      return v.trim();
    });
  }
  if (typeof value !== 'string') throw new Problem(`expected a comma-separated list or a YAML list, got ${kindOf(value)}`);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export type AutoSwitch = 'auto' | 'true' | 'false';

/** `auto`, `true` or `false` (booleans in YAML, yes/no/1/0 in text). */
export function autoSwitch(o: Common & { default: AutoSwitch }): KeySpec<AutoSwitch> {
  return base('auto|true|false', o, o.default, (value) => {
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value !== 'string') throw new Problem(`expected auto, true or false, got ${kindOf(value)}`);
    const s = value.trim().toLowerCase();
    if (s === 'auto') return 'auto';
    if (s === 'true' || s === 'yes' || s === '1') return 'true';
    if (s === 'false' || s === 'no' || s === '0') return 'false';
    throw new Problem('must be auto, true or false');
  });
}

/** Free text shown on records (a cluster name): printable, single line, bounded. */
export function label(o: Common & { default: string; maxChars: number }): KeySpec<string> {
  return base('text', o, o.default, (value) => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new Problem(`expected text, got ${kindOf(value)}`);
    const s = String(value).trim();
    if (s.length > o.maxChars) throw new Problem(`longer than ${o.maxChars} characters`);
    if (/[\u0000-\u001f\u007f]/.test(s)) throw new Problem('contains control characters (line breaks, tabs)');
    return s;
  });
}

// A Kubernetes label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of
// at most 63 characters of alphanumerics, `-`, `_` and `.` that starts and ends alphanumeric.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `key` is a valid label/annotation key. */
export function isMetadataKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX.test(prefix) && NAME.test(key.slice(slash + 1));
}

/** A key pattern: a key, or the start of keys followed by `*` (`app.kubernetes.io/*`). */
function isKeyPattern(p: string): boolean {
  if (!p.endsWith('*')) return isMetadataKey(p);
  const head = p.slice(0, -1);
  return head.length <= 316 && /^[A-Za-z0-9._/-]*$/.test(head) && (head.match(/\//g) ?? []).length <= 1;
}

const KEY_HINT = 'write Kubernetes label/annotation keys such as app, team or app.kubernetes.io/name, or a prefix ending in * (app.kubernetes.io/*)';

/** A list of label or annotation key patterns (an allow-list). */
export function keyPatterns(o: Common): KeySpec<readonly string[]> {
  return base('list of label/annotation keys', o, [] as readonly string[], (value, ctx) => {
    const list = items(value, ctx);
    if (list.length > 256) throw new Problem('more than 256 keys');
    list.forEach((p, i) => {
      if (!isKeyPattern(p)) throw new Problem(`item ${i + 1}: not a label/annotation key; ${KEY_HINT}`);
    });
    return list;
  });
}

const SCOPES: Readonly<Record<string, Pick<SourceRef, 'scope' | 'kind'>>> = {
  'pod-label': { scope: 'pod', kind: 'label' },
  'pod-annotation': { scope: 'pod', kind: 'annotation' },
  'namespace-label': { scope: 'namespace', kind: 'label' },
  'namespace-annotation': { scope: 'namespace', kind: 'annotation' },
};
const SOURCE_HINT = 'write pod-label:KEY, pod-annotation:KEY, namespace-label:KEY or namespace-annotation:KEY';

/** Where a value is read from, in order of preference: `pod-label:team,namespace-annotation:cost-center`. */
export function sourceRefs(o: Common): KeySpec<readonly SourceRef[]> {
  return base(
    'list of pod-label:KEY|pod-annotation:KEY|namespace-label:KEY|namespace-annotation:KEY',
    o,
    [] as readonly SourceRef[],
    (value, ctx) => {
      const list = items(value, ctx);
      if (list.length > 32) throw new Problem('more than 32 sources');
      return list.map((s, i) => {
        const colon = s.indexOf(':');
        const where = colon === -1 ? undefined : SCOPES[s.slice(0, colon).trim().toLowerCase()];
        if (where === undefined) throw new Problem(`item ${i + 1}: ${SOURCE_HINT}`);
        const key = s.slice(colon + 1).trim();
        if (!isMetadataKey(key)) throw new Problem(`item ${i + 1}: not a label/annotation key after the colon; ${SOURCE_HINT}`);
        return Object.freeze({ ...where, key });
      });
    },
    (v) => v.map((r) => `${r.scope}-${r.kind}:${r.key}`),
  );
}
