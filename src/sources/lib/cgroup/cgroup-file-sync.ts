import { closeSync, openSync, readSync } from 'node:fs';
import { CgroupFileReader } from './cgroup-file.js';

/**
 * CgroupFileReader with synchronous reads, for the every-cycle container files. cgroupfs files
 * are generated from kernel memory — a read never waits on a disk — so a blocking read costs
 * what the syscalls cost (~8 µs a file on the 2-core VM), where an fs.promises read pays ~60–120 µs
 * of CPU for its four threadpool round trips (open, read, EOF read, close): 16 files a container
 * made that 1.5 ms against 0.15 ms. The host source reads its /proc files the same way
 * (ProcReader.readHostFile). The price is the event loop held for one file at a time: a v1
 * `memory.stat` of a large hierarchy on a many-CPU host can take a millisecond to generate.
 *
 * Same contract as the base class: text or undefined, failures counted as gone / unsupported /
 * failed; `read` still returns a promise so callers need not care which reader they were given.
 */
export class SyncCgroupFileReader extends CgroupFileReader {
  readonly #scratch: Buffer;
  readonly #probe = Buffer.allocUnsafe(1);

  constructor(size = 64 * 1024) {
    super(1); // the base class's buffer is not used
    this.#scratch = Buffer.allocUnsafe(size);
  }

  override read(file: string): Promise<string | undefined> {
    return Promise.resolve(this.readSync(file));
  }

  /** The text of `file`, or undefined (counted). */
  readSync(file: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      this.count(err);
      return undefined;
    }
    try {
      const buf = this.#scratch;
      let filled = 0;
      for (;;) {
        const n = readSync(fd, buf, filled, buf.length - filled, null);
        if (n === 0) break;
        filled += n;
        // A short read is the end: cgroupfs and procfs files are seq_files, which hand over
        // everything they generated that fits, and a regular file reads short only at its end.
        // Not asking again for the 0 saves one syscall of four per file.
        if (filled < buf.length) break;
        // Full: one more byte tells "exactly the buffer's size" from "larger" (refused).
        if (readSync(fd, this.#probe, 0, 1, null) > 0) {
          this.failed++;
          return undefined;
        }
        break;
      }
      return buf.toString('utf8', 0, filled);
    } catch (err) {
      this.count(err);
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
}
