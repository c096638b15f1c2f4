import { type Attributes, attributesKey } from './attributes.js';

/**
 * The entity a record describes (the host, a container, a pod). Built once per entity, not per
 * record: the exporter groups by object identity and caches the encoded bytes on `encoded`.
 */
export interface Resource {
  readonly attributes: Attributes;
  /** Stable identity across rebuilds of an equal resource (sorted attribute text). */
  readonly key: string;
  /** Encoder-owned cache of the serialized OTLP `Resource` message. */
  encoded?: Uint8Array;
}

/** The instrumentation scope: which part of Sextant produced the record. */
export interface Scope {
  readonly name: string;
  readonly version: string;
  encoded?: Uint8Array;
}

export function createResource(attributes: Attributes): Resource {
  return { attributes: Object.freeze({ ...attributes }), key: attributesKey(attributes) };
}

export function createScope(name: string, version: string): Scope {
  return { name, version };
}
