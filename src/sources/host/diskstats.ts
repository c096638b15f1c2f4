import { fieldEnd, lineEnd, readUints, skipBlanks } from './fields.js';

/**
 * `/proc/diskstats` (Documentation/admin-guide/iostats.rst): `major minor name` then 11 fields
 * (kernels since 4.18 add 4 discard fields, 5.5 adds 2 flush fields; we read the first 11).
 * Times are milliseconds, sizes are 512-byte sectors whatever the device's sector size.
 */
export interface DiskStat {
  readonly major: number;
  readonly minor: number;
  readonly name: string;
  /** The 11 classic fields, in kernel order; see the `DISK_*` indexes. */
  readonly fields: Float64Array;
}

export const DISK_READS = 0;
export const DISK_READS_MERGED = 1;
export const DISK_READ_SECTORS = 2;
export const DISK_READ_MS = 3;
export const DISK_WRITES = 4;
export const DISK_WRITES_MERGED = 5;
export const DISK_WRITE_SECTORS = 6;
export const DISK_WRITE_MS = 7;
/** Field 9: I/Os in flight now — a gauge, the only field that goes down. */
export const DISK_IN_PROGRESS = 8;
/** Field 10: milliseconds the device had I/O in flight (wall clock). */
export const DISK_IO_MS = 9;
export const DISK_WEIGHTED_MS = 10;
export const DISK_FIELDS = 11;

export interface Diskstats {
  readonly disks: readonly DiskStat[];
  readonly malformed: number;
}

export function parseDiskstats(text: string): Diskstats {
  const disks: DiskStat[] = [];
  let malformed = 0;
  const head = new Float64Array(2);
  for (let i = 0; i < text.length; ) {
    const end = lineEnd(text, i);
    const start = skipBlanks(text, i, end);
    i = end + 1;
    if (start >= end) continue;
    if (readUints(text, start, end, head, 2) !== 2) {
      malformed++;
      continue;
    }
    // Past `major minor` to the name.
    const p = skipBlanks(text, fieldEnd(text, skipBlanks(text, fieldEnd(text, start, end), end), end), end);
    const nameEnd = fieldEnd(text, p, end);
    if (nameEnd === p) {
      malformed++;
      continue;
    }
    const fields = new Float64Array(DISK_FIELDS);
    if (readUints(text, nameEnd, end, fields) !== DISK_FIELDS) {
      malformed++;
      continue;
    }
    disks.push({ major: head[0]!, minor: head[1]!, name: text.slice(p, nameEnd), fields });
  }
  return { disks, malformed };
}
