import type { KeySpec } from './values.js';

/**
 * The typed values a tree of keys loads to (durations in ms, sizes in bytes, secrets as
 * `Secret`): `SextantConfig` for the whole schema, and each source's section for its `create`
 * (`src/sources/<name>/config.ts`), which cannot import `src/config/` without a cycle.
 */
export type ConfigOf<S> = { readonly [K in keyof S]: S[K] extends KeySpec<infer T> ? T : ConfigOf<S[K]> };
