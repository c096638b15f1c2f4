import type { Logger } from '../self/logger.js';
import { NativeProcReader, type ProcBinding } from './addon.js';
import { requireAddon } from './binding.js';
import { JsProcReader } from './fallback.js';
import type { ProcReader } from './types.js';

export { createProcessTable, TCP_COUNT_SLOTS, TCP_COUNT_UNSUPPORTED } from './types.js';
export * from './host-layout.js';
export type { ProcessDetails, ProcessTable, ProcReader } from './types.js';
export { clockTicks, pageSize } from './sysconf.js';
export { JsProcReader } from './fallback.js';
export { NativeProcReader } from './addon.js';

export interface LoadProcReaderOptions {
  /** Config key `native` (SEXTANT_NATIVE=0 sets it false): false forces the pure-JS reader. */
  readonly native: boolean;
  readonly logger: Logger;
}

/** Why the addon could not be loaded, in one short phrase (no stack). */
function loadFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'MODULE_NOT_FOUND') return 'addon not built: build/Release/sextant_proc.node is missing';
  const first = String(e?.message ?? err).split('\n', 1)[0];
  return `addon failed to load: ${first}`;
}

/**
 * Picks the /proc reader once, at start: the addon when it loads and is allowed, otherwise the
 * pure-TypeScript fallback (same results, slower). Logs one info line saying which and why.
 */
export function loadProcReader(options: LoadProcReaderOptions): ProcReader {
  if (!options.native) {
    options.logger.info({ implementation: 'js', reason: 'native disabled by config (native: false or SEXTANT_NATIVE=0)' }, 'proc reader: pure-JS fallback');
    return new JsProcReader();
  }
  let binding: ProcBinding;
  try {
    binding = requireAddon<ProcBinding>();
    if (typeof binding.scanProcesses !== 'function' || typeof binding.readProcessDetails !== 'function' || typeof binding.readHostFile !== 'function') {
      throw new Error('addon lacks scanProcesses, readProcessDetails or readHostFile (stale build?)');
    }
  } catch (err) {
    options.logger.info({ implementation: 'js', reason: loadFailure(err) }, 'proc reader: pure-JS fallback');
    return new JsProcReader();
  }
  options.logger.info({ implementation: 'native', reason: 'addon loaded' }, 'proc reader: native addon');
  return new NativeProcReader(binding);
}
