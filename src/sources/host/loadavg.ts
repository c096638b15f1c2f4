/** `/proc/loadavg`: `0.14 0.03 0.01 1/204 423` — the 1, 5 and 15 minute load averages first. */
export interface LoadAverage {
  readonly m1: number;
  readonly m5: number;
  readonly m15: number;
}

export function parseLoadavg(text: string): LoadAverage | undefined {
  const f = text.trim().split(/\s+/);
  const m1 = Number(f[0]);
  const m5 = Number(f[1]);
  const m15 = Number(f[2]);
  if (f.length < 3 || !(m1 >= 0) || !(m5 >= 0) || !(m15 >= 0) || !Number.isFinite(m1 + m5 + m15)) return undefined;
  return { m1, m5, m15 };
}
