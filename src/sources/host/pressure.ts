import { fieldEnd, lineEnd, parseUint, skipBlanks } from './fields.js';

/**
 * `/proc/pressure/{cpu,memory,io}` (Documentation/accounting/psi.rst, kernel ≥ 4.20):
 *   some avg10=0.51 avg60=0.49 avg300=0.13 total=718355
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * avgN are percentages of wall time stalled over the last N seconds; total is microseconds
 * stalled since boot. `cpu` has a `full` line only since 5.13 (all zeros at the system level).
 */
export interface PressureLine {
  /** Percent (0–100) over 10 s, 60 s and 300 s. */
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Microseconds stalled since boot. */
  readonly totalUs: number;
}

export interface Pressure {
  readonly some: PressureLine | undefined;
  readonly full: PressureLine | undefined;
  readonly malformed: number;
}

export function parsePressure(text: string): Pressure {
  let some: PressureLine | undefined;
  let full: PressureLine | undefined;
  let malformed = 0;
  for (let i = 0; i < text.length; ) {
    const end = lineEnd(text, i);
    const start = skipBlanks(text, i, end);
    i = end + 1;
    if (start >= end) continue;
    const kindEnd = fieldEnd(text, start, end);
    const kind = text.slice(start, kindEnd);
    const line = kind === 'some' || kind === 'full' ? parseLine(text, kindEnd, end) : undefined;
    if (line === undefined) malformed++;
    else if (kind === 'some') some = line;
    else full = line;
  }
  return { some, full, malformed };
}

function parseLine(text: string, i: number, end: number): PressureLine | undefined {
  let avg10 = NaN;
  let avg60 = NaN;
  let avg300 = NaN;
  let totalUs = NaN;
  while (i < end) {
    i = skipBlanks(text, i, end);
    if (i >= end) break;
    const e = fieldEnd(text, i, end);
    const eq = text.indexOf('=', i);
    if (eq === -1 || eq >= e) return undefined;
    const key = text.slice(i, eq);
    if (key === 'total') totalUs = parseUint(text, eq + 1, e);
    else {
      const v = parsePercent(text.slice(eq + 1, e));
      if (key === 'avg10') avg10 = v;
      else if (key === 'avg60') avg60 = v;
      else if (key === 'avg300') avg300 = v;
    }
    i = e;
  }
  if (Number.isNaN(avg10) || Number.isNaN(avg60) || Number.isNaN(avg300) || Number.isNaN(totalUs)) return undefined;
  return { avg10, avg60, avg300, totalUs };
}

/** The kernel prints `%lu.%02lu`; accept any plain decimal in [0, 100]. */
function parsePercent(s: string): number {
  if (!/^\d{1,3}(\.\d{1,6})?$/.test(s)) return NaN;
  const v = Number(s);
  return v <= 100 ? v : NaN;
}
