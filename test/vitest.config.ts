import { defineConfig } from 'vitest/config';

export default defineConfig({
  // This file lives in test/; paths below are from the repository root.
  root: new URL('..', import.meta.url).pathname,
  test: {
    // Integration tests start real servers and processes; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', new URL('./reporters/closing-line.ts', import.meta.url).pathname],
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: ['test/soak/**', 'test/eval/**'], sequence: { groupOrder: 0 } } },
      // The soak run drives the real runtimes, the agent and the gateway hard for minutes: it
      // runs alone, after every other test file has finished.
      { extends: true, test: { name: 'soak', include: ['test/soak/**/*.test.ts'], sequence: { groupOrder: 1 } } },
      // The problems evaluation judges what a real gateway finds on this host: another test's
      // fault (a filling tmpfs, an OOM hog) is a real problem there too, so it runs alone, last.
      { extends: true, test: { name: 'eval', include: ['test/eval/**/*.test.ts'], sequence: { groupOrder: 2 } } },
    ],
  },
});
