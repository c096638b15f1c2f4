import { open } from 'node:fs/promises';

/**
 * Reads a whole small file (a /proc or cgroup file) into a caller-owned scratch buffer and
 * returns it as text. /proc files report size 0, so we read until EOF; a file larger than the
 * buffer is refused rather than grown into (an oversized or hostile file under the host root
 * must not cost unbounded memory). Invalid UTF-8 decodes to U+FFFD; the parsers count what
 * they cannot read.
 */
export class FileTooLargeError extends Error {
  readonly code = 'SEXTANT_ERR_FILE_TOO_LARGE';
  constructor(readonly file: string, readonly limit: number) {
    super(`${file} is larger than ${limit} bytes`);
  }
}

export async function readCapped(file: string, scratch: Buffer): Promise<string> {
  const fh = await open(file, 'r');
  try {
    let filled = 0;
    for (;;) {
      const { bytesRead } = await fh.read(scratch, filled, scratch.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === scratch.length) {
        // Full: one more byte tells "exactly the size of the buffer" from "larger".
        const probe = await fh.read(Buffer.alloc(1), 0, 1, null);
        if (probe.bytesRead > 0) throw new FileTooLargeError(file, scratch.length);
        break;
      }
    }
    return scratch.toString('utf8', 0, filled);
  } finally {
    await fh.close();
  }
}
