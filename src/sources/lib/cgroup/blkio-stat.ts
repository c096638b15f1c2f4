import { readUnsigned } from './cgroup-number.js';

/**
 * v1 `blkio.throttle.io_service_bytes` (bytes) and `blkio.throttle.io_serviced` (operations),
 * Documentation/admin-guide/cgroup-v1/blkio-controller.rst: per device one line per operation
 * kind, then a grand total:
 *   8:0 Read 4096
 *   8:0 Write 0
 *   8:0 Sync 4096
 *   8:0 Async 0
 *   8:0 Discard 0
 *   8:0 Total 4096
 *   Total 4096
 * The throttle files count IO at the block layer whatever the scheduler (the `blkio.bfq.*` ones
 * only under BFQ), which is why Docker and cAdvisor read them.
 */
export interface BlkioDevice {
  readonly major: number;
  readonly minor: number;
  readonly read: number;
  readonly write: number;
}

export interface BlkioStat {
  readonly devices: readonly BlkioDevice[];
  /** Sums over the devices. */
  readonly read: number;
  readonly write: number;
  /** The file's last line (all devices, all kinds); undefined if the file was cut before it. */
  readonly total: number | undefined;
  readonly malformed: number;
}

const MAX_DEVICES = 1024;

/** Never undefined: an empty file is a cgroup that has done no IO. */
export function parseBlkioStat(text: string): BlkioStat {
  const devices: { major: number; minor: number; read: number; write: number }[] = [];
  let total: number | undefined;
  let malformed = 0;
  let readSum = 0, writeSum = 0;
  let i = 0;
  while (i < text.length) {
    let nl = text.indexOf('\n', i);
    if (nl === -1) nl = text.length;
    const s = i;
    i = nl + 1;
    if (nl === s) continue;
    const sp1 = text.indexOf(' ', s);
    if (sp1 === -1 || sp1 >= nl) {
      malformed++;
      continue;
    }
    if (sp1 - s === 5 && text.startsWith('Total', s)) {
      const v = readUnsigned(text, sp1 + 1, nl);
      if (Number.isNaN(v)) malformed++;
      else total = v;
      continue;
    }
    const colon = text.indexOf(':', s);
    const sp2 = text.indexOf(' ', sp1 + 1);
    const major = colon === -1 || colon >= sp1 ? Number.NaN : readUnsigned(text, s, colon);
    const minor = Number.isNaN(major) ? Number.NaN : readUnsigned(text, colon + 1, sp1);
    const value = sp2 === -1 || sp2 >= nl ? Number.NaN : readUnsigned(text, sp2 + 1, nl);
    if (Number.isNaN(minor) || Number.isNaN(value)) {
      malformed++;
      continue;
    }
    const kind = sp2 - sp1 - 1;
    const isRead = kind === 4 && text.startsWith('Read', sp1 + 1);
    const isWrite = kind === 5 && text.startsWith('Write', sp1 + 1);
    if (!isRead && !isWrite) continue; // Sync, Async, Discard, Total: other cuts of the same IO
    // Lines of one device are adjacent; look back one device only.
    let dev = devices[devices.length - 1];
    if (dev === undefined || dev.major !== major || dev.minor !== minor) {
      if (devices.length >= MAX_DEVICES) {
        malformed++;
        continue;
      }
      dev = { major, minor, read: 0, write: 0 };
      devices.push(dev);
    }
    if (isRead) {
      dev.read = value;
      readSum += value;
    } else {
      dev.write = value;
      writeSum += value;
    }
  }
  return { devices, read: readSum, write: writeSum, total, malformed };
}
