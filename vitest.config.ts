import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,helper,main,native,renderer,scripts,sea}/**/*.test.{ts,tsx}'],
    globalSetup: ['test/support/global-setup.ts'],
    // Forks, not threads: the helper code uses process.umask and native fds.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
