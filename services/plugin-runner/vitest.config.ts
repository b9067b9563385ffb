import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One process per worker for all its files: modules and PGlite's WebAssembly load once; every
    // test starts from an empty database (a new schema, or the worker's PGlite truncated)
    isolate: false,
  },
});
