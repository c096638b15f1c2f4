import type { OtlpSignal } from './types.js';

export const SIGNALS: readonly OtlpSignal[] = ['metrics', 'logs', 'traces'];

/**
 * The accepted paths: the OTLP/HTTP defaults (`/v1/<signal>`) and Dynatrace's ingest prefix
 * (`/api/v2/otlp/v1/<signal>`), so an exporter configured for either finds us. A plain map
 * lookup: no pattern matching per request.
 */
const ROUTES = new Map<string, OtlpSignal>();
for (const s of SIGNALS) {
  ROUTES.set(`/v1/${s}`, s);
  ROUTES.set(`/api/v2/otlp/v1/${s}`, s);
}

/** The signal a request URL addresses (query string ignored), or undefined for any other path. */
export function routeSignal(url: string | undefined): OtlpSignal | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return ROUTES.get(q < 0 ? url : url.slice(0, q));
}

export type BodyFormat = 'protobuf' | 'json';

/** The body format from Content-Type (parameters such as charset ignored), or undefined: 415. */
export function bodyFormat(contentType: string | undefined): BodyFormat | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (media === 'application/x-protobuf' || media === 'application/protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

/** true for gzip, false for identity/absent, undefined for anything else (415). */
export function isGzip(contentEncoding: string | undefined): boolean | undefined {
  if (contentEncoding === undefined) return false;
  const e = contentEncoding.trim().toLowerCase();
  if (e === '' || e === 'identity') return false;
  if (e === 'gzip' || e === 'x-gzip') return true;
  return undefined;
}
