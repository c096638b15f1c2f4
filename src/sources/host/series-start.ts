/**
 * Start times of cumulative series, so a counter that goes backwards starts a new series
 * instead of yielding a negative delta.
 *
 * A kernel counter counts from boot, so its series starts at the boot time. A device's counters
 * restart from zero when it is removed and re-added (or a driver resets them, or a 32-bit
 * counter wraps): when any counter of a key is lower than last time, or a key comes back after
 * it vanished, the key's series start moves to the time of the previous reading — the counter
 * restarted somewhere in (previous reading, now], so everything it holds was counted after
 * that. A key first seen after the first cycle (a new disk or interface) starts the same way.
 * The DeltaConverter reads a start-time change as a reset and emits the whole new value.
 *
 * Use one instance per file (diskstats, net/dev …) and call `beginCycle` only after that file
 * was read and parsed: a cycle in which the file could not be read must not make every key
 * look vanished-and-back (or, on the first cycle, make every key look new), which would report
 * whole since-boot counters as one interval's delta.
 */
interface KeyState {
  readonly last: Float64Array;
  start: bigint;
  /** Cycle in which the key was last seen. */
  seen: number;
}

export class SeriesStarts {
  readonly #keys = new Map<string, KeyState>();
  /** Keys unseen for this many cycles are forgotten, so churning devices (veths) do not pile up. */
  readonly #forgetAfter: number;
  #cycle = 0;
  #cycleTime = 0n;
  #previousCycleTime = 0n;

  constructor(options: { forgetAfterCycles?: number } = {}) {
    this.#forgetAfter = options.forgetAfterCycles ?? 360;
  }

  /** Call once per successful read of the file, before its keys' `observe` calls. */
  beginCycle(now: bigint): void {
    this.#cycle++;
    this.#previousCycleTime = this.#cycleTime;
    this.#cycleTime = now;
  }

  /**
   * Records the current counters of `key` and returns its series start. `counters` are the
   * monotonic fields only (indexes `from` to `to`, exclusive); `bootStart` is the start of a
   * key that has existed since before the agent's first cycle.
   */
  observe(key: string, counters: Float64Array, bootStart: bigint, from = 0, to = counters.length): bigint {
    let s = this.#keys.get(key);
    if (s === undefined) {
      // First cycle: the counter has run since boot (or since the device came, which we cannot
      // know: the boot time makes the DeltaConverter take this reading as a baseline only).
      s = { last: new Float64Array(to - from), start: this.#cycle <= 1 ? bootStart : this.#restartTime(), seen: this.#cycle };
      s.last.set(counters.subarray(from, to));
      this.#keys.set(key, s);
      return s.start;
    }
    let back = s.seen < this.#cycle - 1;
    for (let i = from; i < to; i++) {
      if (counters[i]! < s.last[i - from]!) back = true;
      s.last[i - from] = counters[i]!;
    }
    if (back) s.start = this.#restartTime();
    s.seen = this.#cycle;
    return s.start;
  }

  /** Drops keys not seen for `forgetAfterCycles`; call at the end of a cycle. */
  sweep(): void {
    for (const [k, s] of this.#keys) if (this.#cycle - s.seen > this.#forgetAfter) this.#keys.delete(k);
  }

  get size(): number {
    return this.#keys.size;
  }

  #restartTime(): bigint {
    return this.#previousCycleTime > 0n ? this.#previousCycleTime : this.#cycleTime;
  }
}
