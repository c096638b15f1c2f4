/**
 * Readers for the API's JSON that never throw: each returns the field when it has the type the
 * API defines and a neutral value otherwise, so an object with an unknown or a missing field is
 * still converted (and a field of the wrong type counts as absent, not as a crash).
 */

export type Json = Readonly<Record<string, unknown>>;

const NONE: Json = Object.freeze({});

export function isJsonObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` when it is an object, else an empty one (so `field(field(o, 'a'), 'b')` chains). */
export function objectAt(o: Json, key: string): Json {
  const v = o[key];
  return isJsonObject(v) ? v : NONE;
}

export function stringAt(o: Json, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

/** A non-negative integer count (replicas, restarts); undefined when absent or not one. */
export function countAt(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Any integer (an exit code may be negative); undefined when absent. */
export function intAt(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

export function arrayAt(o: Json, key: string): readonly unknown[] {
  const v = o[key];
  return Array.isArray(v) ? v : EMPTY_ARRAY;
}

export function boolAt(o: Json, key: string): boolean | undefined {
  const v = o[key];
  return typeof v === 'boolean' ? v : undefined;
}

const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);

/**
 * One shared copy of each low-cardinality string (namespace, node, image, label value, reason):
 * JSON.parse makes a new string for every occurrence, and 5,000 pods name their namespace 5,000
 * times. Bounded: past `max` entries the table starts over (the copies already shared stay
 * shared; only later ones are not).
 */
export class StringTable {
  readonly #strings = new Map<string, string>();
  readonly #max: number;

  constructor(max = 65_536) {
    this.#max = max;
  }

  intern(s: string): string {
    if (s.length === 0) return '';
    const have = this.#strings.get(s);
    if (have !== undefined) return have;
    if (this.#strings.size >= this.#max) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  get size(): number {
    return this.#strings.size;
  }

  /**
   * One shared frozen value per key, for small objects many cluster objects hold equal copies of
   * (a ReplicaSet's owner reference in each of its pods, the same five pod conditions, the same
   * container requests and limits): each copy kept costs more than the pod's own name. Bounded
   * like the strings.
   */
  share<T>(key: string, make: () => T): T {
    const have = this.#values.get(key);
    if (have !== undefined) return have as T;
    if (this.#values.size >= this.#max) this.#values.clear();
    const v = make();
    this.#values.set(key, v);
    return v;
  }

  readonly #values = new Map<string, unknown>();
}
