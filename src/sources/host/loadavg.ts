import { HOST_LOADAVG, HOST_ROWS, LOAD_START } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

/** `/proc/loadavg`: `0.14 0.03 0.01 1/204 423` — the 1, 5 and 15 minute load averages first. */
export interface LoadAverage {
  readonly m1: number;
  readonly m5: number;
  readonly m15: number;
}

/** The string form of `ProcReader.readHostFile(HOST_LOADAVG)` (one parser: src/native/host-parse.ts). */
export function parseLoadavg(text: string): LoadAverage | undefined {
  const { values: v } = parseHostText(HOST_LOADAVG, text);
  if (v[HOST_ROWS] !== 1) return undefined;
  return { m1: v[LOAD_START]!, m5: v[LOAD_START + 1]!, m15: v[LOAD_START + 2]! };
}
