import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,helper,main,native,renderer,scripts}/**/*.test.{ts,tsx}'],
    // The systemd suite boots systemd as PID 1 and runs on its own (vitest.systemd.config.ts).
    exclude: [...configDefaults.exclude, '**/*.systemd.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Forks, not threads: the helper code uses process.umask and native fds.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
