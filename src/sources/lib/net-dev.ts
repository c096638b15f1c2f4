import { HOST_MALFORMED, HOST_NET_DEV, HOST_ROWS, NET_ROW_SIZE, NET_ROW_START } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

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

/** The string form of `ProcReader.readHostFile(HOST_NET_DEV)` (one parser: src/native/host-parse.ts). */
export function parseNetDev(text: string): NetDev {
  const { values, names } = parseHostText(HOST_NET_DEV, text);
  const interfaces: NetDevStat[] = [];
  for (let r = 0; r < values[HOST_ROWS]!; r++) {
    const at = NET_ROW_START + r * NET_ROW_SIZE;
    interfaces.push({ name: names[r]!, fields: values.slice(at, at + NET_FIELDS) });
  }
  return { interfaces, malformed: values[HOST_MALFORMED]! };
}
