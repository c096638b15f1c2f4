/**
 * The host's boot time (`btime` of /proc/stat), pinned at the first read: btime jitters by a
 * second as the clock is adjusted, and every since-boot counter takes it as its series start,
 * which must not move with that jitter.
 */
const NS_PER_S = 1_000_000_000n;

export class BootTime {
  #sec: number | undefined;
  #startNs = 0n;

  /** Unix seconds; undefined before the first read. */
  get sec(): number | undefined {
    return this.#sec;
  }

  /** Unix nanoseconds; 0n before the first read. */
  get startNs(): bigint {
    return this.#startNs;
  }

  pin(btime: number | undefined): void {
    if (btime === undefined) return;
    // Re-pin only on a real change (a suspended VM resumed far off), never on clock jitter.
    if (this.#sec === undefined || Math.abs(btime - this.#sec) > 60) {
      this.#sec = btime;
      this.#startNs = BigInt(btime) * NS_PER_S;
    }
  }
}
