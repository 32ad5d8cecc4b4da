import { defineConfig } from 'vitest/config';

/**
 * The tests that need neither Linux nor the suite's global setup (root, the
 * test users, the shared fixtures): what the macOS CI job runs
 * (.github/workflows/ci-macos.yml). The full suite (vitest.config.ts) runs
 * on Linux as root. These run as root too (a few make files another user
 * owns; the macOS job runs them with sudo); the packaging tests are left to
 * the real package build there.
 */
export const PORTABLE_TESTS = [
  'common/cli-tools.test.ts',
  'common/helper-config/schema.test.ts',
  'common/net/proc-net.test.ts',
  'common/policy/policy.test.ts',
  'common/policy/port-rules.test.ts',
  'common/policy/registry.test.ts',
  'common/ports/parse.test.ts',
  'common/ports/self-loop.test.ts',
  'common/program-digest.test.ts',
  'common/protocol/frame.test.ts',
  'common/protocol/messages.test.ts',
  'helper/daemon/audit-throttle.test.ts',
  'helper/install/service/launchd.test.ts',
  'helper/ops/bind-port/need.test.ts',
  'helper/ops/hosts/block.test.ts',
  'main/cli/diagnose-command.test.ts',
  'main/cli/docs.test.ts',
  'main/cli/policy-command.test.ts',
  'main/cli/ports-command.test.ts',
  'main/core/attention.test.ts',
  'main/core/browser/keys.test.ts',
  'main/core/diagnostics/redact.test.ts',
  'main/core/diagnostics/sources.test.ts',
  'main/core/fs/user-file.test.ts',
  'main/core/ports/helper-watch.test.ts',
  'main/core/ports/publisher.test.ts',
  'main/core/ports/publisher-refusals.test.ts',
  'main/core/ports/publisher-saved.test.ts',
  'main/electron/app-protocol.test.ts',
  'main/electron/web-preferences.test.ts',
  'main/install/code-signature.test.ts',
  'main/install/e2e-root-shell.test.ts',
  'native/at-entries.test.ts',
  'native/at-files.test.ts',
  'native/at-names.test.ts',
  'native/at-open.test.ts',
  'native/at-race.test.ts',
  'native/connect.test.ts',
  'native/fdpass.test.ts',
  'native/fuzz.test.ts',
  'native/heap.test.ts',
  'native/loader.test.ts',
  'native/poll.test.ts',
  'renderer/bridge/http.test.ts',
  'renderer/bridge/preload.test.ts',
  'common/api/state-fixtures.test.ts',
  'renderer/logic/audit.test.ts',
  'renderer/logic/format.test.ts',
  'common/helper/summary.test.ts',
  'renderer/logic/port-form.test.ts',
  'renderer/route.test.ts',
  'renderer/shims/node-net.test.ts',
  'renderer/state/reducers.test.ts',
  'renderer/state/store.test.ts',
  'scripts/app-dir.test.ts',
  'scripts/fuses.test.ts',
  'scripts/workflows.test.ts',
];

export default defineConfig({
  test: {
    include: PORTABLE_TESTS,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
