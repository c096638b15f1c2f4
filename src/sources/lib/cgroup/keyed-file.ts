import { readUnsigned } from './cgroup-number.js';

/**
 * The "flat keyed" cgroup files (Documentation/admin-guide/cgroup-v2.rst, "Format"): one
 * `key value` per line, as in `cpu.stat`, `memory.stat`, `memory.events`, and v1's
 * `cpuacct.stat` and `memory.oom_control`. Only the keys the caller asks for are kept; a
 * kernel that adds keys changes nothing. Allocates nothing: keys are compared in place.
 *
 * Fills `out[i]` with the value of `keys[i]` (NaN where absent) and returns how many lines were
 * not `key value` with an unsigned value (a line cut short, binary junk).
 */
export function readKeyed(text: string, keys: readonly string[], out: Float64Array): number {
  out.fill(Number.NaN);
  let malformed = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    let nl = text.indexOf('\n', i);
    if (nl === -1) nl = n;
    if (nl > i) {
      const sp = keyEnd(text, i, nl);
      let v = sp;
      while (v < nl && text.charCodeAt(v) === 32) v++;
      const value = sp === i || v === sp ? Number.NaN : readUnsigned(text, v, nl);
      if (Number.isNaN(value)) malformed++;
      else {
        const len = sp - i;
        for (let k = 0; k < keys.length; k++) {
          const key = keys[k]!;
          if (key.length === len && text.startsWith(key, i)) {
            out[k] = value;
            break;
          }
        }
      }
    }
    i = nl + 1;
  }
  return malformed;
}

function keyEnd(text: string, i: number, e: number): number {
  while (i < e && text.charCodeAt(i) !== 32) i++;
  return i;
}

/** `out[i]` as an optional number. */
export function at(out: Float64Array, i: number): number | undefined {
  const v = out[i]!;
  return Number.isNaN(v) ? undefined : v;
}

/** Whether any key was found (a file with none of them is not the file we asked for). */
export function anyFound(out: Float64Array): boolean {
  for (let i = 0; i < out.length; i++) if (!Number.isNaN(out[i]!)) return true;
  return false;
}
