import { HOST_MALFORMED, HOST_MEMINFO, MEMINFO_KEYS, MEMINFO_START } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

/**
 * `/proc/meminfo`: `Key:   <value> kB` lines (proc(5)); a few keys (HugePages_*) have no unit.
 * Values are returned in bytes. Unknown keys are ignored; malformed lines are counted.
 */
export interface Meminfo {
  /** The keys of MEMINFO_KEYS the file had, in bytes. */
  readonly bytes: ReadonlyMap<string, number>;
  /** The same values in the reader's layout (host-layout.ts), NaN when absent. */
  readonly values: Float64Array;
  readonly malformed: number;
}

/** The string form of `ProcReader.readHostFile(HOST_MEMINFO)` (one parser: src/native/host-parse.ts). */
export function parseMeminfo(text: string): Meminfo {
  const { values } = parseHostText(HOST_MEMINFO, text);
  const bytes = new Map<string, number>();
  for (let k = 0; k < MEMINFO_KEYS.length; k++) {
    const v = values[MEMINFO_START + k]!;
    if (!Number.isNaN(v)) bytes.set(MEMINFO_KEYS[k]!, v);
  }
  return { bytes, values, malformed: values[HOST_MALFORMED]! };
}

/** A meminfo key's value from the layout, undefined when absent. */
function key(values: Float64Array, name: (typeof MEMINFO_KEYS)[number]): number | undefined {
  const v = values[MEMINFO_START + MEMINFO_KEYS.indexOf(name)]!;
  return Number.isNaN(v) ? undefined : v;
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
  return memoryStatesOf(info.values);
}

/** memoryStates on the reader's layout (host-layout.ts), as the host source reads it each cycle. */
export function memoryStatesOf(v: Float64Array): MemoryStates | undefined {
  const total = key(v, 'MemTotal');
  const free = key(v, 'MemFree');
  if (total === undefined || free === undefined || total === 0) return undefined;
  const buffers = key(v, 'Buffers') ?? 0;
  const cached = (key(v, 'Cached') ?? 0) + (key(v, 'SReclaimable') ?? 0);
  // Clamp: on some kernels Cached briefly exceeds total − free (shmem accounting); never go negative.
  const used = Math.max(0, total - free - buffers - cached);
  return { total, free, buffers, cached, used, available: key(v, 'MemAvailable') };
}

export interface SwapStates {
  readonly total: number;
  readonly free: number;
  /** SwapTotal − SwapFree (swap cache pages count as used, as `free(1)` shows them). */
  readonly used: number;
}

/** Undefined when the kernel has no swap support compiled in (no SwapTotal line). */
export function swapStates(info: Meminfo): SwapStates | undefined {
  return swapStatesOf(info.values);
}

export function swapStatesOf(v: Float64Array): SwapStates | undefined {
  const total = key(v, 'SwapTotal');
  const free = key(v, 'SwapFree');
  if (total === undefined || free === undefined) return undefined;
  return { total, free: Math.min(free, total), used: Math.max(0, total - free) };
}
