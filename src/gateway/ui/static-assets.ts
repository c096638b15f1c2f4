import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The explorer's built files (dist/ui, made by ui/build.mjs), read once at start and served from
 * memory: each with its gzip and brotli copy made at build time, a strong ETag, and caching by
 * kind: hashed names are immutable for a year, index.html is revalidated on every load (so a new
 * build is picked up at once).
 */

interface ManifestEntry {
  readonly path: string;
  readonly etag: string;
  readonly immutable: boolean;
}

export interface Asset {
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
  readonly identity: Buffer;
  readonly gzip: Buffer;
  readonly brotli: Buffer;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Where dist/ui is: beside dist/gateway when running the build, under the root's dist/ from src/. */
export function defaultAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = path.resolve(here, '../../ui');
  if (existsSync(path.join(built, 'manifest.json'))) return built;
  return path.resolve(here, '../../../dist/ui');
}

export class StaticAssets {
  readonly #assets = new Map<string, Asset>();

  /** Loads the built explorer; undefined when it was not built (the gateway then says so). */
  static load(dir: string): StaticAssets | undefined {
    const manifestFile = path.join(dir, 'manifest.json');
    if (!existsSync(manifestFile)) return undefined;
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: ManifestEntry[] };
    const s = new StaticAssets();
    for (const f of manifest.files) {
      // The manifest is ours, but a name that could leave the folder is still refused.
      if (f.path.includes('..') || path.isAbsolute(f.path)) continue;
      const file = path.join(dir, f.path);
      s.#assets.set(f.path, {
        type: TYPES[path.extname(f.path)] ?? 'application/octet-stream',
        etag: f.etag,
        cacheControl: f.immutable ? IMMUTABLE : 'no-cache',
        identity: readFileSync(file),
        gzip: readFileSync(`${file}.gz`),
        brotli: readFileSync(`${file}.br`),
      });
    }
    return s.#assets.has('index.html') ? s : undefined;
  }

  /** The asset at a path below /ui/ ("index.html", "assets/explorer-AB12.js"), looked up exactly. */
  get(name: string): Asset | undefined {
    return this.#assets.get(name);
  }

  get names(): string[] {
    return [...this.#assets.keys()];
  }
}

/** Picks the encoding the client accepts (brotli, then gzip, then none); q=0 refuses one. */
export function chooseEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | 'identity' {
  if (acceptEncoding === undefined) return 'identity';
  const accepted = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (name !== undefined && name !== '') accepted.add(name.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return 'identity';
}

/** Sends an asset (GET or HEAD) with its headers, or 304 when the client holds this version. */
export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, headers: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('ETag', asset.etag);
  res.setHeader('Cache-Control', asset.cacheControl);
  res.setHeader('Vary', 'Accept-Encoding');
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === asset.etag || t.trim() === `W/${asset.etag}`)) {
    res.writeHead(304);
    res.end();
    return;
  }
  const enc = chooseEncoding(req.headers['accept-encoding']);
  const body = enc === 'br' ? asset.brotli : enc === 'gzip' ? asset.gzip : asset.identity;
  if (enc !== 'identity') res.setHeader('Content-Encoding', enc);
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Length', String(body.length));
  res.writeHead(200);
  res.end(req.method === 'HEAD' ? undefined : body);
}
