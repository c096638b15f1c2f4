import type { ProcessDetails, ProcessTable, ProcReader } from './types.js';
import { checkDetailsArgs, checkScanArgs } from './validate.js';

/** What native/sextant_proc.c exports (see its header comment). */
export interface ProcBinding {
  scanProcesses(
    procDir: string,
    capacity: number,
    pid: Int32Array,
    ppid: Int32Array,
    state: Uint8Array,
    startTicks: Float64Array,
    utimeTicks: Float64Array,
    stimeTicks: Float64Array,
    minorFaults: Float64Array,
    majorFaults: Float64Array,
    threads: Int32Array,
    vsizeBytes: Float64Array,
    rssPages: Float64Array,
    counts: Int32Array,
  ): number;
  readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined;
}

/** The addon behind the `ProcReader` interface: validates, hands the columns over, reads back. */
export class NativeProcReader implements ProcReader {
  readonly implementation = 'native' as const;
  /** Rows the last scan skipped because their stat did not parse. */
  malformed = 0;
  readonly #binding: ProcBinding;
  readonly #counts = new Int32Array(1);

  constructor(binding: ProcBinding) {
    this.#binding = binding;
  }

  scanProcesses(procDir: string, table: ProcessTable): number {
    checkScanArgs(procDir, table);
    const t = table;
    const total = this.#binding.scanProcesses(
      procDir,
      t.capacity,
      t.pid,
      t.ppid,
      t.state,
      t.startTicks,
      t.utimeTicks,
      t.stimeTicks,
      t.minorFaults,
      t.majorFaults,
      t.threads,
      t.vsizeBytes,
      t.rssPages,
      this.#counts,
    );
    t.count = Math.min(total, t.capacity);
    this.malformed = this.#counts[0]!;
    return total;
  }

  readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined {
    checkDetailsArgs(procDir, pid, maxCmdlineBytes);
    return this.#binding.readProcessDetails(procDir, pid, maxCmdlineBytes);
  }
}
