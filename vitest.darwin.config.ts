import { defineConfig } from 'vitest/config';

/**
 * The macOS workflow's suite (.github/workflows/macos.yml): the tests that
 * cover Berth's macOS branches on a real Mac. The *.darwin.test.ts files
 * exercise what exists only there (plutil, launchd, the macOS file system);
 * the others run on Linux too and are repeated here for their macOS side.
 * No global setup: the Linux suite's (test users, polkit) has no macOS
 * counterpart, and none of these files needs it.
 */
export const DARWIN_TEST_FILES = [
  // The LaunchDaemon plist: xmllint, the npm plist parser, and plutil.
  'helper/install/service/launchd.test.ts',
  'helper/install/service/launchd.darwin.test.ts',
  'helper/install/service/spec.test.ts',
  // Taking the socket from launchd, and what happens when launchd did not start us.
  'helper/daemon/activation-fd.test.ts',
  'helper/daemon/activation.darwin.test.ts',
  'native/launchd.test.ts',
  // The macOS layout, and the folders it needs on a real Mac.
  'common/paths.test.ts',
  'common/paths.darwin.test.ts',
];

export default defineConfig({
  test: {
    include: DARWIN_TEST_FILES,
    pool: 'forks',
    testTimeout: 60_000,
  },
});
