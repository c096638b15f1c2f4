import { readUnsigned } from './cgroup-number.js';

/**
 * v2 `io.stat` (cgroup-v2.rst, "IO Interface Files"): one line per device, nested keyed,
 *   8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
 * A device the cgroup has state for but no IO on is printed with no keys (`253:0 `): skipped.
 * Keys other than these six (cost.*, when the io.cost controller is on) are ignored.
 */
export interface IoDevice {
  readonly major: number;
  readonly minor: number;
  readonly rbytes: number;
  readonly wbytes: number;
  readonly rios: number;
  readonly wios: number;
  readonly dbytes: number;
  readonly dios: number;
}

export interface IoStat {
  readonly devices: readonly IoDevice[];
  /** Sums over the devices. */
  readonly rbytes: number;
  readonly wbytes: number;
  readonly rios: number;
  readonly wios: number;
  readonly malformed: number;
}

/** More devices than this is not a file we keep per device (loop devices count too). */
const MAX_DEVICES = 1024;

/** Never undefined: an empty file is a cgroup that has done no IO. */
export function parseIoStat(text: string): IoStat {
  const devices: IoDevice[] = [];
  let malformed = 0;
  let rbytesSum = 0, wbytesSum = 0, riosSum = 0, wiosSum = 0;
  let i = 0;
  while (i < text.length) {
    let nl = text.indexOf('\n', i);
    if (nl === -1) nl = text.length;
    const s = i;
    i = nl + 1;
    if (nl === s) continue;
    let sp = text.indexOf(' ', s);
    if (sp === -1 || sp > nl) sp = nl;
    const colon = text.indexOf(':', s);
    const major = colon === -1 || colon >= sp ? Number.NaN : readUnsigned(text, s, colon);
    const minor = Number.isNaN(major) ? Number.NaN : readUnsigned(text, colon + 1, sp);
    if (Number.isNaN(minor)) {
      malformed++;
      continue;
    }
    let rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
    let fields = 0;
    let bad = false;
    let j = sp + 1;
    while (j < nl) {
      let end = text.indexOf(' ', j);
      if (end === -1 || end > nl) end = nl;
      if (end > j) {
        const eq = text.indexOf('=', j);
        if (eq === -1 || eq >= end) {
          bad = true;
          break;
        }
        const key = eq - j;
        const value = readUnsigned(text, eq + 1, end);
        if (key === 6 && text.startsWith('rbytes', j)) rbytes = value;
        else if (key === 6 && text.startsWith('wbytes', j)) wbytes = value;
        else if (key === 4 && text.startsWith('rios', j)) rios = value;
        else if (key === 4 && text.startsWith('wios', j)) wios = value;
        else if (key === 6 && text.startsWith('dbytes', j)) dbytes = value;
        else if (key === 4 && text.startsWith('dios', j)) dios = value;
        else {
          j = end + 1;
          continue; // another controller's key (cost.usage=…): not ours to judge
        }
        if (Number.isNaN(value)) {
          bad = true;
          break;
        }
        fields++;
      }
      j = end + 1;
    }
    if (bad) {
      malformed++;
      continue;
    }
    if (fields === 0) continue;
    if (devices.length >= MAX_DEVICES) {
      malformed++;
      continue;
    }
    devices.push({ major, minor, rbytes, wbytes, rios, wios, dbytes, dios });
    rbytesSum += rbytes;
    wbytesSum += wbytes;
    riosSum += rios;
    wiosSum += wios;
  }
  return { devices, rbytes: rbytesSum, wbytes: wbytesSum, rios: riosSum, wios: wiosSum, malformed };
}
