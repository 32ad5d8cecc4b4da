#!/usr/bin/env bash
# The end-to-end specs on macOS, in the real Electron app (CI: ci-macos.yml).
# Runs as the desktop user, since a GUI app runs only in its user's session;
# the root steps (laying out the app root-owned, resetting the machine between
# specs) and the app's own password prompt go through that user's passwordless
# sudo, which a CI runner has. The app is a TEST BUILD (BERTH_E2E_ROOT_SHELL=1:
# main/install/e2e-root-shell.ts), which packaging refuses. Unlike Linux's
# e2e/run.sh there is no private machine: it changes this Mac's /etc/hosts,
# /usr/local/bin and launchd services, so run it on a disposable runner only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != Darwin ]; then
  echo "e2e/run-macos.sh: macOS only (Linux: npm test runs e2e/run.sh)" >&2
  exit 64
fi
if [ "$(id -u)" = 0 ]; then
  echo "e2e/run-macos.sh: run it as the desktop user, not root: the app is a GUI app" >&2
  exit 64
fi
if ! sudo -n true 2>/dev/null; then
  echo "e2e/run-macos.sh: needs passwordless sudo (a CI runner); it would change this Mac's system files" >&2
  exit 77
fi

# The bundles (a test build) and the helper and CLI executables the app ships.
BERTH_E2E_ROOT_SHELL=1 npm run --silent build:helper >/dev/null
export BERTH_E2E_APP=/private/tmp/berth-e2e/app
# Whatever Berth the specs installed goes with the run.
trap 'sudo -n "$(command -v node)" "$BERTH_E2E_APP/dist/helper/berth-helper.js" uninstall >/dev/null 2>&1 || true; npm run --silent build >/dev/null' EXIT
# A refused prompt cannot be staged on macOS (the test build's prompt always approves): that spec is Linux's.
npx playwright test --project electron --grep-invert 'a refused prompt' "$@"
