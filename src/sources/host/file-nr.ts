/**
 * `/proc/sys/fs/file-nr`: three numbers — file handles allocated, allocated but unused (always
 * 0 since 2.6), and the maximum (`fs.file-max`). In use = allocated − unused.
 */
export interface FileNr {
  readonly allocated: number;
  readonly unused: number;
  readonly max: number;
}

const FILE_NR = /^\s*(\d{1,16})\s+(\d{1,16})\s+(\d{1,20})\s*$/;

export function parseFileNr(text: string): FileNr | undefined {
  const m = FILE_NR.exec(text);
  if (!m) return undefined;
  const allocated = Number(m[1]);
  const unused = Number(m[2]);
  // file-max is LONG_MAX (9223372036854775807) when unlimited: beyond 2^53, kept as the nearest double.
  const max = Number(m[3]);
  if (!Number.isSafeInteger(allocated) || !Number.isSafeInteger(unused) || unused > allocated) return undefined;
  return { allocated, unused, max };
}
