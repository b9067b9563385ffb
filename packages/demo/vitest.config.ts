import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Each file starts a whole fleet: one at a time on a laptop's cores.
    fileParallelism: false,
  },
});
