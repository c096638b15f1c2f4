import { createProcessTable, type ProcessTable, type ProcReader } from '../../native/types.js';

/** Room for a small node's processes without a regrow on the first cycle. */
const INITIAL_CAPACITY = 1024;
/** Processes can appear between the two scans of a regrow; give up growing after this many. */
const MAX_SCANS = 3;

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(2, n)));
}

/**
 * One `scanProcesses` per cycle into a table that is reused and grows (to a power of two, with
 * an eighth of headroom for what starts between the scans) when the host has more processes
 * than rows. It never shrinks: a node that once ran 20,000 processes may again.
 */
export class ProcessScanner {
  readonly #reader: ProcReader;
  readonly #procDir: string;
  #table: ProcessTable;
  /** Processes that did not fit even after regrowing (counted by the caller). */
  truncated = 0;

  constructor(reader: ProcReader, procDir: string, initialCapacity = INITIAL_CAPACITY) {
    this.#reader = reader;
    this.#procDir = procDir;
    this.#table = createProcessTable(nextPowerOfTwo(initialCapacity));
  }

  get table(): ProcessTable {
    return this.#table;
  }

  /** Scans; returns the table with `count` rows filled. Throws what the reader throws. */
  scan(): ProcessTable {
    this.truncated = 0;
    for (let attempt = 1; ; attempt++) {
      const found = this.#reader.scanProcesses(this.#procDir, this.#table);
      if (found <= this.#table.capacity) return this.#table;
      if (attempt === MAX_SCANS) {
        this.truncated = found - this.#table.capacity;
        return this.#table;
      }
      this.#table = createProcessTable(nextPowerOfTwo(found + (found >>> 3)));
    }
  }
}
