import { defineConfig } from 'vitest/config';

// The crypto vector tables (and the client tests built on them) run once per crypto backend
// (docs/adr/0022-crypto-backends.md): node:crypto, which Node resolves, and WebCrypto + noble,
// which browsers, workers and the portable entry use.
const SAME_TABLE_ON_WEBCRYPTO = [
  'packages/core/test/crypto/**/*.test.ts',
  'packages/core/test/client/**/*.test.ts',
  'packages/core/test/metadata/threshold.test.ts',
  'packages/core/test/interop/golden.test.ts',
  // Metadata tuf-js builds and signs, verified on WebCrypto too (the reverse of the tuf-js
  // checks in crypto/signing-backends.test.ts).
  'packages/core/test/interop/tuf-js.test.ts',
];

export default defineConfig({
  test: {
    // Limits catch a hang, never a slow machine: end-to-end tests wait on child processes, and a
    // 2-core machine at load 15 once took 30 s for one of them. No test measures speed.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Much of the CLI suite waits on child processes: two workers even on two cores.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'node', include: ['packages/*/test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'webcrypto',
          include: SAME_TABLE_ON_WEBCRYPTO,
          setupFiles: ['packages/core/test/helpers/use-webcrypto.ts'],
        },
      },
    ],
  },
});
