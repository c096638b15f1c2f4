import type { Codec } from '../../export/types.js';
import type { AckTarget } from '../../model/log.js';
import type { AckList } from './disk-spool.js';

/**
 * What the dispatcher needs to move a batch into the spool: which lanes may, the batch as
 * requests under the size limit, and the acknowledgements its records carry (settled by the
 * spool once the request is on disk).
 */

/**
 * Lanes whose batches go to the spool when the endpoint cannot take them (a retry, or the ring
 * filling while every request slot is busy). Lanes not listed (a future traces lane pushes back
 * on its senders instead) never spill.
 */
const SPILLS = new Set<string>(['metrics', 'logs', 'events']);
/**
 * Lanes that send nothing new directly while the spool holds undelivered batches, so what was
 * spooled goes out first and the spool drains before the ring does. Events are few and urgent:
 * they go straight out whenever a slot is free.
 */
const KEEPS_ORDER = new Set<string>(['metrics', 'logs']);

export function spills(signal: string): boolean {
  return SPILLS.has(signal);
}

export function keepsOrder(signal: string): boolean {
  return KEEPS_ORDER.has(signal);
}

interface MaybeAcked {
  readonly ack?: AckTarget | undefined;
  readonly ackToken?: number | undefined;
}

/** The acks of `records[from, to)`, in order: a run per stretch of one target's consecutive tokens. */
export function ackListOf(records: readonly unknown[], from: number, to: number): AckList {
  const targets: AckTarget[] = [];
  const firsts: number[] = [];
  const counts: number[] = [];
  let last = -1;
  for (let i = from; i < to; i++) {
    const r = records[i] as MaybeAcked;
    if (r.ack === undefined) continue;
    const token = r.ackToken ?? 0;
    if (last >= 0 && targets[last] === r.ack && firsts[last]! + counts[last]! === token) {
      counts[last]!++;
      continue;
    }
    targets.push(r.ack);
    firsts.push(token);
    counts.push(1);
    last++;
  }
  return { targets, firsts, counts };
}

export interface EncodedPart {
  readonly body: Uint8Array;
  readonly from: number;
  readonly to: number;
}

/**
 * `records` encoded as requests of at most `maxRequestBytes` each (halved until they fit, as the
 * dispatcher splits before sending). A single record that alone encodes larger is passed to
 * `tooLarge` and left out; a part the codec encodes to nothing is left out (its records need no
 * sending: `onEmpty` settles them).
 */
export function encodeParts(
  codec: Codec<unknown>,
  records: readonly unknown[],
  maxRequestBytes: number,
  tooLarge: (from: number, to: number, bytes: number) => void,
  onEmpty: (from: number, to: number) => void,
): EncodedPart[] {
  const out: EncodedPart[] = [];
  const walk = (from: number, to: number): void => {
    if (from >= to) return;
    const part = from === 0 && to === records.length ? records : records.slice(from, to);
    const body = codec.encode(part);
    if (body === null) {
      onEmpty(from, to);
      return;
    }
    if (body.byteLength > maxRequestBytes) {
      if (to - from === 1) {
        tooLarge(from, to, body.byteLength);
        return;
      }
      const mid = from + Math.ceil((to - from) / 2);
      walk(from, mid);
      walk(mid, to);
      return;
    }
    out.push({ body, from, to });
  };
  walk(0, records.length);
  return out;
}
