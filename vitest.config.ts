import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,helper,main,native,renderer,scripts}/**/*.test.{ts,tsx}'],
    // macOS-only files run in the macOS workflow (vitest.darwin.config.ts), never skipped here.
    exclude: [...configDefaults.exclude, '**/*.darwin.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Forks, not threads: the helper code uses process.umask and native fds.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
