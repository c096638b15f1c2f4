import { HOST_MALFORMED, HOST_PRESSURE, PSI_FULL, PSI_SOME } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

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

/** The string form of `ProcReader.readHostFile(HOST_PRESSURE)` (one parser: src/native/host-parse.ts). */
export function parsePressure(text: string): Pressure {
  const { values } = parseHostText(HOST_PRESSURE, text);
  return { some: pressureLine(values, PSI_SOME), full: pressureLine(values, PSI_FULL), malformed: values[HOST_MALFORMED]! };
}

/** One line of the reader's layout (host-layout.ts), undefined when the file lacked it. */
export function pressureLine(v: Float64Array, at: number): PressureLine | undefined {
  if (Number.isNaN(v[at + 3]!)) return undefined;
  return { avg10: v[at]!, avg60: v[at + 1]!, avg300: v[at + 2]!, totalUs: v[at + 3]! };
}
