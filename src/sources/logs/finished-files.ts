import type { FileHandle } from 'node:fs/promises';

/**
 * Rotation bookkeeping: the files read to their end and let go this run (dev:ino → size and
 * mtime then). A rotated file never grows again, so one finished is not opened again — its
 * checkpoint may still wait for acks, and reopening it would read those lines twice. The stamp
 * tells it from a new file that got the same inode after it was deleted (Docker's max-file
 * deletes the oldest and the next -json.log takes its inode at once): that one is read.
 */
export class FinishedFiles {
  #stamps = new Map<string, string>();

  /** The stamp the file with this dev:ino was finished with; undefined when it was not. */
  get(key: string): string | undefined {
    return this.#stamps.get(key);
  }

  /** The file with this dev:ino is finished as of `stamp` (finishedStamp, or size:mtimeNs of a stat). */
  set(key: string, stamp: string): void {
    this.#stamps.set(key, stamp);
  }

  /** Forgets every file but these (the rotated files a scan still lists, by dev:ino). */
  keepOnly(keys: ReadonlySet<string>): void {
    const keep = new Map<string, string>();
    for (const [k, v] of this.#stamps) if (keys.has(k)) keep.set(k, v);
    this.#stamps = keep;
  }
}

/** Size and mtime of a file being let go: what tells it from a later file on the same inode. */
export async function finishedStamp(fh: FileHandle): Promise<string> {
  try {
    const st = await fh.stat({ bigint: true });
    return `${st.size}:${st.mtimeNs}`;
  } catch {
    return '';
  }
}
