import { defineConfig } from 'vitest/config';

/** Native addons (onnxruntime-node, better-sqlite3, sharp) are safest in forked workers. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
