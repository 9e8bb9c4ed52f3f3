import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // Limits catch a hang, never a slow machine: end-to-end tests wait on child processes, and a
    // 2-core machine at load 15 once took 30 s for one of them. No test measures speed.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Much of the CLI suite waits on child processes: two workers even on two cores.
    maxWorkers: 2,
  },
});
