/**
 * A Kubernetes `resource.Quantity` as a number: `100m` CPU → 0.1 (cores), `128Mi` → 134217728
 * (bytes), `1.5G`, `2e3`, `-1`. The grammar is the API's (k8s.io/apimachinery resource/quantity.go):
 * a signed decimal number, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k
 * M G T P E) or an exponent (e3, E-2). Anything else is undefined: the object is kept, the value
 * is not reported.
 */

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([KMGTPE]i)|([eE][+-]?\d+)|([numkMGTPE]?))$/;

/** Longest quantity text read; the API's own are far shorter. */
const MAX_CHARS = 64;

export function parseQuantity(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CHARS) return undefined;
  const m = QUANTITY.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  let out: number;
  if (m[2] !== undefined) out = n * BINARY[m[2]]!;
  else if (m[3] !== undefined) out = n * 10 ** Number(m[3].slice(1));
  else out = n * DECIMAL[m[4] ?? '']!;
  return Number.isFinite(out) ? out : undefined;
}
