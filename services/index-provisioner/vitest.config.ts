import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One process for all files: modules (and PGlite's WebAssembly) load once; every test file
    // starts its own service on its own database, so files share nothing else
    isolate: false,
  },
});
