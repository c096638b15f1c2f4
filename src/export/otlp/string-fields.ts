import { ProtoWriter, lenFieldSize, utf8Length } from './proto-writer.js';

/** One optional string field of a message: its tag (below 128) and its value. */
export type StringField = readonly [tag: number, value: string];

/**
 * A small message made only of optional string fields (InstrumentationScope's name/version, a
 * Metric's name/description/unit), written in the order given with empty strings omitted as
 * proto3 defaults, into an owned array of exactly its size. Callers cache the result on the
 * object it describes, so this runs once per scope or descriptor, not per batch.
 */
export function encodeStringFields(fields: readonly StringField[]): Uint8Array {
  let total = 0;
  for (const [, value] of fields) if (value.length > 0) total += lenFieldSize(utf8Length(value));
  const w = new ProtoWriter(total);
  for (const [tag, value] of fields) if (value.length > 0) w.stringField(tag, value, utf8Length(value));
  return w.finish();
}
