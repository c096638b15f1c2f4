import type { OtlpBlock } from '../../model/otlp-block.js';
import { varintSize } from './proto-writer.js';

/**
 * The export request of blocks the receiver took from applications: `Export*ServiceRequest` has
 * one repeated field (1, the resource messages), so a request is each block behind tag 0x0a and
 * its length, in order. The same code serves traces, metrics and logs; no byte of a block is
 * looked at.
 */
const TAG_RESOURCE_ENTRY = 0x0a; // field 1, LEN, in all three Export*ServiceRequest messages

export function encodePassThrough(blocks: readonly OtlpBlock[]): Uint8Array {
  let total = 0;
  for (const b of blocks) total += 1 + varintSize(b.bytes.byteLength) + b.bytes.byteLength;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const b of blocks) {
    out[at++] = TAG_RESOURCE_ENTRY;
    let len = b.bytes.byteLength;
    while (len > 0x7f) {
      out[at++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[at++] = len;
    out.set(b.bytes, at);
    at += b.bytes.byteLength;
  }
  return out;
}
