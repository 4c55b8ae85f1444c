import { defineConfig } from 'vitest/config';

/** The fault runs of docs/reliability.md: long, one file at a time, each bounded by its own timeout. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
