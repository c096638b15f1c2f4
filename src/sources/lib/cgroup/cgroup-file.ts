import { FileTooLargeError, readCapped } from '../../../io/read-capped.js';

/**
 * Reads cgroup files for the parsers, turning every failure into `undefined` and a count.
 * A container can exit between listing and reading: its directory vanishes (ENOENT) or a file
 * still open reads as ENODEV. A PSI file of a cgroup with `cgroup.pressure` set to 0 reads as
 * EOPNOTSUPP on older kernels and is hidden (ENOENT) on newer ones (6.x), where CgroupStatsReader
 * tells the two apart by whether the directory is still there. None of that is an error of the agent: the collector reports the counts once per
 * cycle (vector's "sum locally, emit once") instead of logging per file.
 *
 * One read at a time per reader: the scratch buffer is shared (await each read).
 */
export class CgroupFileReader {
  #scratch: Buffer;
  #busy = false;
  /** Files that were not there (the cgroup or the container went away). */
  gone = 0;
  /** Files the kernel would not give (PSI turned off for the cgroup). */
  unsupported = 0;
  /** Anything else: permission, I/O error, larger than the scratch buffer. */
  failed = 0;

  /** `size`: the largest file read; cgroup files are a few kB (memory.stat ~2 kB). */
  constructor(size = 64 * 1024) {
    this.#scratch = Buffer.allocUnsafe(size);
  }

  async read(file: string): Promise<string | undefined> {
    if (this.#busy) throw new Error('CgroupFileReader.read called while a read is in flight');
    this.#busy = true;
    try {
      return await readCapped(file, this.#scratch);
    } catch (err) {
      this.count(err);
      return undefined;
    } finally {
      this.#busy = false;
    }
  }

  /** Zeroes the counts (at the end of a collection cycle, after reporting them). */
  resetCounts(): void {
    this.gone = 0;
    this.unsupported = 0;
    this.failed = 0;
  }

  /** Counts a failed read by what it means (shared with the blocking reader). */
  protected count(err: unknown): void {
    if (err instanceof FileTooLargeError) {
      this.failed++;
      return;
    }
    switch ((err as NodeJS.ErrnoException | undefined)?.code) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'ENODEV':
      case 'ESRCH':
        this.gone++;
        return;
      case 'EOPNOTSUPP':
      case 'ENOTSUP':
        this.unsupported++;
        return;
      default:
        this.failed++;
    }
  }
}
