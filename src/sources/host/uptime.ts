/**
 * `/proc/uptime`: `22.52 351.98` — seconds since boot (CLOCK_BOOTTIME, so time suspended
 * counts) and the idle seconds of all CPUs summed.
 */
export interface Uptime {
  readonly uptimeSec: number;
  readonly idleSec: number;
}

const UPTIME = /^\s*(\d{1,12}(?:\.\d{1,9})?)\s+(\d{1,15}(?:\.\d{1,9})?)\s*$/;

export function parseUptime(text: string): Uptime | undefined {
  const m = UPTIME.exec(text);
  if (!m) return undefined;
  return { uptimeSec: Number(m[1]), idleSec: Number(m[2]) };
}
