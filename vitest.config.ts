import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,helper,main,native,renderer,scripts,sea}/**/*.test.{ts,tsx}'],
    // macOS-only files run in the macOS workflow (vitest.darwin.config.ts), never skipped here; the systemd
    // suite boots systemd as PID 1 and runs on its own (vitest.systemd.config.ts, after this run).
    exclude: [...configDefaults.exclude, '**/*.darwin.test.ts', '**/*.systemd.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Forks, not threads: the helper code uses process.umask and native fds.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
