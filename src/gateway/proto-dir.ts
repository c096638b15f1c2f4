import { fileURLToPath } from 'node:url';

/**
 * The `proto/` tree shipped in the package (listed in package.json `files`), found from this
 * file's own location: the code runs as `<root>/src/gateway/*.ts` under vitest and as
 * `<root>/dist/gateway/*.js` when built, one folder below the root either way, so the working
 * directory never matters.
 */
export function protoDir(): string {
  return fileURLToPath(new URL('../../proto/', import.meta.url));
}
