import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@promptkd/source'] },
  ssr: { resolve: { conditions: ['@promptkd/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    setupFiles: ['./tooling/vitest.setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // on CI also a JSON file for scripts/test-summary.mjs (PROMPTKD_TEST_RESULTS names another, for a second run)
    reporters: process.env.CI ? ['default', ['json', { outputFile: process.env.PROMPTKD_TEST_RESULTS ?? '.vitest-results.json' }]] : ['default'],
  },
});
