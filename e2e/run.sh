#!/usr/bin/env bash
# The end-to-end suite in a machine of its own: a private mount namespace where
# /usr/local, /var/lib, /var/log and /run are empty tmpfs mounts and /etc is a
# copy, so the real installer, helper, /etc/hosts edits, pkexec and polkitd
# run for real without touching this machine. Called by scripts/test.sh (which
# already runs in a private net+mount namespace) after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${BERTH_E2E_MACHINE:-}" ]; then
  if [ -z "${BERTH_TEST_NAMESPACE:-}" ]; then
    echo "e2e/run.sh: run it through npm test (it needs the test namespace)" >&2
    exit 64
  fi
  exec unshare --mount --propagation private env BERTH_E2E_MACHINE=1 bash "$0" "$@"
fi

# The helper and CLI single executables the packaged app ships (electron-builder.yml
# extraResources): the app folder carries them (e2e/support/global-setup.ts).
npm run --silent build:helper >/dev/null

scratch=/mnt/berth-e2e
mountpoint -q /mnt || mount -t tmpfs -o mode=0755 berth-e2e-scratch /mnt
mkdir -p "$scratch"
cp -a /etc "$scratch/etc" && mount --bind "$scratch/etc" /etc
for d in /usr/local /var/lib /var/log /run; do mount -t tmpfs -o mode=0755 berth-e2e "$d"; done
# As on any machine: the system bin directory the CLI links go into exists.
mkdir -p /usr/local/bin

# The app as a user would have it installed: laid out there by the global setup
# (e2e/support/global-setup.ts, with scripts/app-dir.ts).
export BERTH_E2E_APP="$scratch/app"

# Whatever the helper started in standalone mode ends with the suite.
trap '[ -f /run/berth/helper.pid ] && kill -KILL "$(cat /run/berth/helper.pid)" 2>/dev/null; true' EXIT
# Not npx: it would put node_modules/.bin (and npm's node there) first; the tests run on the node test.sh chose.
node node_modules/@playwright/test/cli.js test "$@"
