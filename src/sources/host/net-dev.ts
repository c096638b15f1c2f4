import { lineEnd, readUints, skipBlanks } from './fields.js';

/**
 * `/proc/net/dev`: two header lines, then `  name: ` and 16 counters — 8 receive
 * (bytes packets errs drop fifo frame compressed multicast) and 8 transmit
 * (bytes packets errs drop fifo colls carrier compressed). Interface names cannot contain `:`
 * or blanks (dev_valid_name), so the first `:` ends the name; old kernels printed no blank
 * after it (`eth0:123`).
 */
export interface NetDevStat {
  readonly name: string;
  /** The 16 counters in kernel order; see the `NET_*` indexes. */
  readonly fields: Float64Array;
}

export const NET_RX_BYTES = 0;
export const NET_RX_PACKETS = 1;
export const NET_RX_ERRS = 2;
export const NET_RX_DROP = 3;
export const NET_TX_BYTES = 8;
export const NET_TX_PACKETS = 9;
export const NET_TX_ERRS = 10;
export const NET_TX_DROP = 11;
export const NET_FIELDS = 16;

export interface NetDev {
  readonly interfaces: readonly NetDevStat[];
  readonly malformed: number;
}

export function parseNetDev(text: string): NetDev {
  const interfaces: NetDevStat[] = [];
  let malformed = 0;
  for (let i = 0; i < text.length; ) {
    const end = lineEnd(text, i);
    const start = skipBlanks(text, i, end);
    i = end + 1;
    if (start >= end) continue;
    const colon = text.indexOf(':', start);
    // The header lines have `|` and no `:` before the line's end.
    if (colon === -1 || colon >= end) {
      const bar = text.indexOf('|', start);
      if (bar === -1 || bar >= end) malformed++;
      continue;
    }
    const fields = new Float64Array(NET_FIELDS);
    if (colon === start || readUints(text, colon + 1, end, fields) !== NET_FIELDS) {
      malformed++;
      continue;
    }
    interfaces.push({ name: text.slice(start, colon), fields });
  }
  return { interfaces, malformed };
}
