import { defineConfig } from 'vitest/config';

/**
 * The systemd suite (*.systemd.test.ts): the helper's real systemd install
 * path, against Debian's systemd booted as PID 1 in a sandbox
 * (test/support/systemd-sandbox.ts). scripts/test.sh runs it after the main
 * suite; alone: npm test -- --config vitest.systemd.config.ts
 */
export default defineConfig({
  test: {
    include: ['{common,helper,main,test}/**/*.systemd.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Each file boots its own systemd; one at a time keeps the machine's two cores for them.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
