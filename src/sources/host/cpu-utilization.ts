/**
 * `system.cpu.utilization` of one logical CPU from two readings of its ticks per mode: each
 * mode's share of the ticks that passed. The denominator is the ticks of all modes rather than
 * the wall time between reads, so the shares add up to 1 however late the timer fired.
 * Returns false (and leaves `out` alone) when no tick passed or a counter went backwards
 * (CPU hot-unplugged and back): no utilization for that CPU this cycle.
 */
export function cpuUtilization(previous: ArrayLike<number>, current: ArrayLike<number>, out: Float64Array): boolean {
  let total = 0;
  for (let m = 0; m < out.length; m++) {
    const d = current[m]! - previous[m]!;
    if (d < 0) return false;
    total += d;
  }
  if (total <= 0) return false;
  for (let m = 0; m < out.length; m++) out[m] = (current[m]! - previous[m]!) / total;
  return true;
}
