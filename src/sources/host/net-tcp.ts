import { fieldEnd, lineEnd, skipBlanks } from './fields.js';

/**
 * `/proc/net/tcp` and `/proc/net/tcp6`: a header line, then one line per socket:
 *   `   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 …`
 * The 4th field is the state as two hex digits (include/net/tcp_states.h). We count sockets
 * by state and keep nothing else. The files can be many MiB on a busy host, so the caller
 * feeds them in chunks of whole lines; the counts accumulate into its array.
 */

/** `network.connection.state` values by kernel state number (index 0 unused). */
export const TCP_STATES = [
  undefined,
  'established',
  'syn_sent',
  'syn_recv',
  'fin_wait_1',
  'fin_wait_2',
  'time_wait',
  'close',
  'close_wait',
  'last_ack',
  'listen',
  'closing',
] as const;

/** Slots for the states above plus TCP_NEW_SYN_RECV (12), which we add into syn_recv. */
export const TCP_STATE_SLOTS = 13;

/**
 * Adds one to `counts[state]` for each socket line of `text` (whole lines only; a header line
 * is skipped). Returns the number of lines that did not parse.
 */
export function countTcpStates(text: string, counts: Float64Array): number {
  let malformed = 0;
  for (let i = 0; i < text.length; ) {
    const end = lineEnd(text, i);
    let p = skipBlanks(text, i, end);
    i = end + 1;
    if (p >= end) continue;
    // `sl` header (`  sl  local_address …`).
    if (text.charCodeAt(p) === 115) continue;
    // Skip `N:`, local and remote addresses.
    for (let f = 0; f < 3 && p < end; f++) p = skipBlanks(text, fieldEnd(text, p, end), end);
    const e = fieldEnd(text, p, end);
    const st = e - p === 2 ? hex(text.charCodeAt(p)) * 16 + hex(text.charCodeAt(p + 1)) : -1;
    if (st <= 0 || st >= TCP_STATE_SLOTS) {
      malformed++;
      continue;
    }
    counts[st === 12 ? 3 : st]!++;
  }
  return malformed;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1024;
}
