import { HOST_MALFORMED, HOST_VMSTAT, VMSTAT_KEYS, VMSTAT_START } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

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

/** The string form of `ProcReader.readHostFile(HOST_VMSTAT)` (one parser: src/native/host-parse.ts). */
export function parseVmstat(text: string): Vmstat {
  const { values } = parseHostText(HOST_VMSTAT, text);
  const out: Vmstat = { pgpgin: undefined, pgpgout: undefined, pswpin: undefined, pswpout: undefined, pgfault: undefined, pgmajfault: undefined, malformed: values[HOST_MALFORMED]! };
  for (let k = 0; k < VMSTAT_KEYS.length; k++) {
    const v = values[VMSTAT_START + k]!;
    if (!Number.isNaN(v)) out[VMSTAT_KEYS[k]!] = v;
  }
  return out;
}
