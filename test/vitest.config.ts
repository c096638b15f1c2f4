import { defineConfig } from 'vitest/config';

export default defineConfig({
  // This file lives in test/; paths below are from the repository root.
  root: new URL('..', import.meta.url).pathname,
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers and processes; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', new URL('./reporters/closing-line.ts', import.meta.url).pathname],
  },
});
