import { HOST_KINDS, HOST_NAMES_GEN, type HostFileKind } from './host-layout.js';
import { TCP_COUNT_UNSUPPORTED, type ProcessDetails, type ProcessTable, type ProcReader } from './types.js';
import { checkDetailsArgs, checkHostArgs, checkHostKind, checkScanArgs, checkTcpOut } from './validate.js';

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
  /** -1 on a read error, with the errno name in error[0]; else as `ProcReader.readHostFile`. */
  readHostFile(kind: number, path: string, out: Float64Array, error: string[]): number;
  /** The committed row names of `kind`, as a new array. */
  hostNames(kind: number): string[];
  /** 0 or -errno (sextant_tcp.c); absent from an addon built before it existed. */
  countTcpStates?(out: Float64Array): number;
}

/** The addon behind the `ProcReader` interface: validates, hands the columns over, reads back. */
export class NativeProcReader implements ProcReader {
  readonly implementation = 'native' as const;
  /** Rows the last scan skipped because their stat did not parse. */
  malformed = 0;
  readonly #binding: ProcBinding;
  readonly #counts = new Int32Array(1);
  hostError = '';
  readonly #error: string[] = [''];
  /** Per kind: the names array handed out and the generation it belongs to. */
  readonly #names: (readonly string[])[] = Array.from({ length: HOST_KINDS }, () => []);
  readonly #namesGen = new Float64Array(HOST_KINDS);
  readonly #seenGen = new Float64Array(HOST_KINDS);

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

  readHostFile(kind: HostFileKind, path: string, out: Float64Array): number {
    checkHostArgs(kind, path, out);
    const need = this.#binding.readHostFile(kind, path, out, this.#error);
    if (need < 0) this.hostError = this.#error[0]!;
    else this.#seenGen[kind] = out[HOST_NAMES_GEN]!;
    return need;
  }

  countTcpStates(out: Float64Array): number {
    checkTcpOut(out);
    // An addon built from older sources lacks it: the caller falls back to the files.
    return this.#binding.countTcpStates === undefined ? TCP_COUNT_UNSUPPORTED : this.#binding.countTcpStates(out);
  }

  hostNames(kind: HostFileKind): readonly string[] {
    checkHostKind(kind);
    // Cross into C (and build strings) only when the set changed since we last asked.
    if (this.#namesGen[kind] !== this.#seenGen[kind]) {
      this.#names[kind] = Object.freeze(this.#binding.hostNames(kind));
      this.#namesGen[kind] = this.#seenGen[kind]!;
    }
    return this.#names[kind]!;
  }
}
