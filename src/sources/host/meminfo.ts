/**
 * `/proc/meminfo`: `Key:   <value> kB` lines (proc(5)); a few keys (HugePages_*) have no unit.
 * Values are returned in bytes. Unknown keys are ignored; malformed lines are counted.
 */
export interface Meminfo {
  readonly bytes: ReadonlyMap<string, number>;
  readonly malformed: number;
}

export function parseMeminfo(text: string): Meminfo {
  const bytes = new Map<string, number>();
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      malformed++;
      continue;
    }
    const rest = line.slice(colon + 1).trim().split(/\s+/);
    const n = rest[0] === '' ? NaN : Number(rest[0]);
    if (!Number.isSafeInteger(n) || n < 0) {
      malformed++;
      continue;
    }
    const unit = rest[1];
    bytes.set(line.slice(0, colon), unit === 'kB' ? n * 1024 : n);
  }
  return { bytes, malformed };
}

export interface MemoryStates {
  readonly total: number;
  readonly free: number;
  readonly buffers: number;
  /** Page cache plus reclaimable slab: what the kernel gives back under pressure. */
  readonly cached: number;
  /** total − free − buffers − cached, so the four states add up to the total. */
  readonly used: number;
  /** MemAvailable: the kernel's estimate of memory available without swapping. */
  readonly available: number | undefined;
}

/** Undefined when the file lacks the keys every kernel since 2.6 has. */
export function memoryStates(info: Meminfo): MemoryStates | undefined {
  const b = info.bytes;
  const total = b.get('MemTotal');
  const free = b.get('MemFree');
  if (total === undefined || free === undefined || total === 0) return undefined;
  const buffers = b.get('Buffers') ?? 0;
  const cached = (b.get('Cached') ?? 0) + (b.get('SReclaimable') ?? 0);
  // Clamp: on some kernels Cached briefly exceeds total − free (shmem accounting); never go negative.
  const used = Math.max(0, total - free - buffers - cached);
  return { total, free, buffers, cached, used, available: b.get('MemAvailable') };
}

export interface SwapStates {
  readonly total: number;
  readonly free: number;
  /** SwapTotal − SwapFree (swap cache pages count as used, as `free(1)` shows them). */
  readonly used: number;
}

/** Undefined when the kernel has no swap support compiled in (no SwapTotal line). */
export function swapStates(info: Meminfo): SwapStates | undefined {
  const total = info.bytes.get('SwapTotal');
  const free = info.bytes.get('SwapFree');
  if (total === undefined || free === undefined) return undefined;
  return { total, free: Math.min(free, total), used: Math.max(0, total - free) };
}
