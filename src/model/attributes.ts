/**
 * Attribute values as OTLP carries them. A JS number that is an integer is encoded as
 * `int_value`; any other number as `double_value`. Use `DoubleValue` to force a double for
 * an integral number (a gauge attribute that happens to be 1.0, say).
 */
export type AttrValue = string | number | boolean | bigint | readonly string[];
export type Attributes = Readonly<Record<string, AttrValue>>;

export const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});

/** A stable text key for a set of attributes: sorted, so `{a,b}` and `{b,a}` agree. */
export function attributesKey(attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '';
  keys.sort();
  let out = '';
  for (const k of keys) {
    const v = attrs[k];
    out += `${k}=${Array.isArray(v) ? v.join('\u001f') : String(v)}\u001e`;
  }
  return out;
}
