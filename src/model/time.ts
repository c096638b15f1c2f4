/** Wall-clock now in Unix nanoseconds, with the sub-millisecond part from the monotonic clock. */
const originNs = BigInt(Date.now()) * 1_000_000n;
const originHr = process.hrtime.bigint();

export function nowUnixNano(): bigint {
  return originNs + (process.hrtime.bigint() - originHr);
}

