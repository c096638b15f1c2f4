import { createRequire } from 'node:module';
import type { GunzipInto } from '../io/request-body.js';

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

/** Same path as the /proc reader's addon (src/native/index.ts); require() caches it, so it loads once. */
const ADDON_PATH = '../../build/Release/sextant_proc.node';

/** The addon's inflater when it loads and `native` allows it; undefined: Node's gunzip alone (the fallback). */
export function loadGunzipInto(native: boolean): GunzipInto | undefined {
  if (!native) return undefined;
  try {
    const fn = (createRequire(import.meta.url)(ADDON_PATH) as GzipBinding).gunzipInto;
    return typeof fn === 'function' ? fn : undefined;
  } catch {
    return undefined;
  }
}
