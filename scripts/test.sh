#!/usr/bin/env bash
# The whole test suite: type-check, lint, build, then every test with real parts.
# Tests run the helper as root and clients as unprivileged users, so this runs
# as root. It re-executes itself in a private network and mount namespace: port
# 80 and /etc/hosts in the tests are the namespace's own, never the machine's.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "npm test: the suite runs the privileged helper for real, so it needs root (try: sudo npm test)" >&2
  exit 77
fi
if [ -z "${BERTH_TEST_NAMESPACE:-}" ]; then
  bash scripts/test-deps.sh
  # The pinned Node for this machine and for macOS arm64 (the cross-build test), fetched and
  # checked against package-lock.json now: the tests run without a network.
  node scripts/node-runtime.mjs >/dev/null
  node scripts/node-runtime.mjs --target darwin-arm64 >/dev/null
  # Recorded so tests can prove they run in another mount namespace than this one.
  exec unshare --net --mount --propagation private \
    env BERTH_TEST_NAMESPACE=1 BERTH_OUTER_MNT_NS="$(readlink /proc/self/ns/mnt)" bash "$0" "$@"
fi
ip link set lo up

npm run --silent typecheck
npm run --silent lint
npm run --silent build
# The tests run on the pinned Node, the one the single executable carries
# (scripts/node-runtime.mjs), copied to a root-owned folder every test user can
# reach: they run it as themselves, and the checkout may sit in a private one.
runtime="$(mktemp -d /tmp/berth-node.XXXXXX)"
trap 'rm -rf "$runtime"' EXIT
chmod 0755 "$runtime"
cp "$(node scripts/node-runtime.mjs)" "$runtime/node"
export PATH="$runtime:$PATH"
# The machine's own files before the tests, checked after each suite (scripts/machine-guard.mjs).
node scripts/machine-guard.mjs picture "$runtime/machine.json"
node node_modules/vitest/vitest.mjs run "$@"
node scripts/machine-guard.mjs check "$runtime/machine.json"
# The systemd suite: the helper's real systemd install path, against systemd booted as PID 1 in a
# sandbox of its own (test/support/systemd-sandbox.ts). Alone: npm test -- --config vitest.systemd.config.ts
if [ "$#" -eq 0 ]; then node node_modules/vitest/vitest.mjs run --config vitest.systemd.config.ts; fi
node scripts/machine-guard.mjs check "$runtime/machine.json"
# End to end: the real UI in Chromium against the real backend, helper and prompt (skipped when vitest got filters).
if [ "$#" -eq 0 ]; then bash e2e/run.sh; node scripts/machine-guard.mjs check "$runtime/machine.json"; fi
