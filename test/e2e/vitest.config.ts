import { defineConfig } from 'vitest/config';

// End-to-end tests with real Podman and Buildah (see harness.ts):
//   sudo npx vitest run --config test/e2e/vitest.config.ts
// (global-setup.ts runs scripts/podman/setup.sh first: packages, test user,
// Debian 13 root, image; E2E_SETUP=0 skips it)
// Files run one at a time (each builds a fake host and starts containers).
export default defineConfig({
  test: {
    name: 'e2e',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 600_000,
  },
});
