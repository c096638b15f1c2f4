import { DISK_ROW_SIZE, DISK_ROW_START, HOST_DISKSTATS, HOST_MALFORMED, HOST_ROWS } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

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
export const DISK_FIELDS = 11;

export interface Diskstats {
  readonly disks: readonly DiskStat[];
  readonly malformed: number;
}

/** The string form of `ProcReader.readHostFile(HOST_DISKSTATS)` (one parser: src/native/host-parse.ts). */
export function parseDiskstats(text: string): Diskstats {
  const { values, names } = parseHostText(HOST_DISKSTATS, text);
  const disks: DiskStat[] = [];
  for (let r = 0; r < values[HOST_ROWS]!; r++) {
    const at = DISK_ROW_START + r * DISK_ROW_SIZE;
    disks.push({ major: values[at]!, minor: values[at + 1]!, name: names[r]!, fields: values.slice(at + 2, at + 2 + DISK_FIELDS) });
  }
  return { disks, malformed: values[HOST_MALFORMED]! };
}
