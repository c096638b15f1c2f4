import { fieldEnd, lineEnd, parseUint, skipBlanks } from './fields.js';

/**
 * `/proc/vmstat`: `name value` lines, about 180 of them; we keep the paging counters.
 * `pgpgin`/`pgpgout` count KiB moved between page cache and block devices (not pages: the
 * kernel divides by 2 for 512-byte sectors); `pswpin`/`pswpout` count pages swapped;
 * `pgfault` counts all faults, `pgmajfault` the ones that needed I/O.
 */
export interface Vmstat {
  pgpgin: number | undefined;
  pgpgout: number | undefined;
  pswpin: number | undefined;
  pswpout: number | undefined;
  pgfault: number | undefined;
  pgmajfault: number | undefined;
  malformed: number;
}

const WANTED = new Set(['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgfault', 'pgmajfault']);

export function parseVmstat(text: string): Vmstat {
  const out: Vmstat = { pgpgin: undefined, pgpgout: undefined, pswpin: undefined, pswpout: undefined, pgfault: undefined, pgmajfault: undefined, malformed: 0 };
  for (let i = 0; i < text.length; ) {
    const end = lineEnd(text, i);
    const start = skipBlanks(text, i, end);
    i = end + 1;
    if (start >= end) continue;
    // Every key we want starts with `p`; skip the other ~170 lines without making a string.
    if (text.charCodeAt(start) !== 112) continue;
    const keyEnd = fieldEnd(text, start, end);
    const key = text.slice(start, keyEnd);
    if (!WANTED.has(key)) continue;
    const vs = skipBlanks(text, keyEnd, end);
    const v = parseUint(text, vs, fieldEnd(text, vs, end));
    if (Number.isNaN(v)) out.malformed++;
    else out[key as 'pgpgin'] = v;
  }
  return out;
}
