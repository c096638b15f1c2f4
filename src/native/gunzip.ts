import type { GunzipInto } from '../io/request-body.js';
import { requireAddon } from './binding.js';

/*
 * The addon's gzip inflater (native/sextant_gzip.c) for the gateway's request reader: it reuses
 * one zlib stream and writes into the caller's buffer, where Node's gunzipSync makes a stream and a
 * second buffer per call — the external memory behind most of V8's full collections on the log
 * ingest bench. Without the addon, readBody uses Node's gunzip alone (the fallback).
 */
export type { GunzipInto };

interface GzipBinding {
  gunzipInto?: GunzipInto;
}

/** The addon's inflater when it loads and `native` allows it; undefined: Node's gunzip alone (the fallback). */
export function loadGunzipInto(native: boolean): GunzipInto | undefined {
  if (!native) return undefined;
  try {
    const fn = requireAddon<GzipBinding>().gunzipInto;
    return typeof fn === 'function' ? fn : undefined;
  } catch {
    return undefined;
  }
}
