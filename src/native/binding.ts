import { createRequire } from 'node:module';

/**
 * Where native/build.js puts the addon, from this file: src/native/ under vitest and
 * dist/native/ when built are both two levels below the package root.
 */
const ADDON_PATH = '../../build/Release/sextant_proc.node';

/**
 * The addon's exports, as each of its users (the /proc reader, peer credentials, the gateway's
 * inflater, the Docker log pinner) declares the part it needs. require() caches them, so the
 * addon loads once per process. Throws as require() does when it is missing or does not load:
 * each caller decides what its fallback is and whether to say why.
 */
export function requireAddon<T>(): T {
  return createRequire(import.meta.url)(ADDON_PATH) as T;
}
