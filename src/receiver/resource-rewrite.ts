import { encodeAttributes } from '../export/otlp/attributes.js';
import { varintSize } from '../export/otlp/proto-writer.js';
import type { Attributes, AttrValue } from '../model/index.js';
import type { ResourceEntry } from './otlp-walk.js';

/**
 * The agent's side of a sender's resource: the attributes it adds, and which of them it has
 * proven (those replace what the sender set; every other attribute the sender set wins).
 */
export interface Enrichment {
  readonly attributes: Attributes;
  readonly proven: ReadonlySet<string>;
  /** Identity of this attribute set, for the encode cache. */
  readonly key: string;
}

const TAG_RESOURCE = 0x0a; // ResourceSpans/ResourceMetrics/ResourceLogs.resource
const TAG_ATTRIBUTES = 0x0a; // Resource.attributes
/** Encoded additions kept; a bound on memory when senders vary their resources without end. */
const CACHE_LIMIT = 2048;

/**
 * Writes a resource entry (`ResourceSpans` …) with the enriched resource: the sender's attribute
 * fields copied as they came (minus those the agent proved otherwise), the agent's attributes
 * the sender did not set, the rest of the `Resource` as it came, then every other field of the
 * entry — the scope messages — copied byte for byte. Attribute order in OTLP carries no meaning.
 */
export class ResourceRewriter {
  readonly #cache = new Map<string, Uint8Array>();

  rewrite(body: Uint8Array, entry: ResourceEntry, e: Enrichment): Uint8Array {
    // Buffer#copy takes offsets: no subarray object per range copied.
    const src = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const attrs = entry.attributes;
    let keptBytes = 0;
    let signature = e.key;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs[i]!;
      if (e.proven.has(a.key)) continue;
      keptBytes += a.end - a.start;
      signature += `\u0000${a.key}`;
    }
    let added = this.#cache.get(signature);
    if (added === undefined) {
      added = this.#encodeAdditions(entry, e);
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(signature, added);
    }
    const rest = entry.resourceRest;
    let restOfResource = 0;
    for (let i = 0; i < rest.length; i += 2) restOfResource += rest[i + 1]! - rest[i]!;
    const resourceLen = keptBytes + added.length + restOfResource;
    const out = Buffer.allocUnsafe(1 + varintSize(resourceLen) + resourceLen + entry.restBytes);
    let at = 0;
    out[at++] = TAG_RESOURCE;
    let len = resourceLen;
    while (len > 0x7f) {
      out[at++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[at++] = len;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs[i]!;
      if (e.proven.has(a.key)) continue;
      at += src.copy(out, at, a.start, a.end);
    }
    out.set(added, at);
    at += added.length;
    for (let i = 0; i < rest.length; i += 2) at += src.copy(out, at, rest[i]!, rest[i + 1]!);
    const entryRest = entry.rest;
    for (let i = 0; i < entryRest.length; i += 2) at += src.copy(out, at, entryRest[i]!, entryRest[i + 1]!);
    return out;
  }

  #encodeAdditions(entry: ResourceEntry, e: Enrichment): Uint8Array {
    const own = new Set<string>();
    for (const a of entry.attributes) if (!e.proven.has(a.key)) own.add(a.key);
    const add: Record<string, AttrValue> = {};
    for (const k in e.attributes) if (!own.has(k)) add[k] = e.attributes[k]!;
    return encodeAttributes(add, TAG_ATTRIBUTES);
  }
}
