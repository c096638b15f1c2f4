/**
 * The one rule that turns a dotted camelCase config path into its other names. YAML keys are
 * the path itself (nested); the environment name and the flag are derived here and nowhere else.
 */

const ENV_PREFIX = 'SEXTANT_';

function words(path: string): string[] {
  const out: string[] = [];
  for (const segment of path.split('.')) {
    // `maxInFlight` → max, in, flight; `caFile` → ca, file.
    for (const w of segment.split(/(?=[A-Z])/)) out.push(w.toLowerCase());
  }
  return out;
}

/** `gateway.dataDir` → `SEXTANT_GATEWAY_DATA_DIR`. */
export function envName(path: string): string {
  return ENV_PREFIX + words(path).join('_').toUpperCase();
}

/** `gateway.dataDir` → `--gateway-data-dir`. */
export function flagName(path: string): string {
  return '--' + words(path).join('-');
}

/** Levenshtein distance, bounded by the short names it is used on (config keys, flags). */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  const cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    for (let j = 0; j <= b.length; j++) prev[j] = cur[j]!;
  }
  return prev[b.length]!;
}

/** Lower case without separators, so `data_dir`, `data-dir`, `DATA_DIR` and `dataDir` compare equal. */
function fold(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The closest of `candidates` to `name`, or undefined when nothing is close enough to be a
 * plausible typo. Separator and case differences count as no difference at all.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const folded = fold(name);
  if (folded.length === 0 || folded.length > 200) return undefined;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const fc = fold(c);
    if (fc === folded) return c;
    // A suffix match catches a key written at the wrong depth (`dataDir` for `gateway.dataDir`).
    const score = fc.endsWith(folded) && folded.length >= 4 ? 1 : distance(folded, fc);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(folded.length / 3));
  return bestScore <= limit ? best : undefined;
}

/** Make a name from outside (a YAML key, an env name, a flag) safe to put in a one-line message. */
export function printable(name: string, max = 80): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? clean.slice(0, max) + '…' : clean;
}
