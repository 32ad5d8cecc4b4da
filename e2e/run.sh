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

scratch=/mnt/berth-e2e
mountpoint -q /mnt || mount -t tmpfs -o mode=0755 berth-e2e-scratch /mnt
mkdir -p "$scratch"
cp -a /etc "$scratch/etc" && mount --bind "$scratch/etc" /etc
for d in /usr/local /var/lib /var/log /run; do mount -t tmpfs -o mode=0755 berth-e2e "$d"; done
# As on any machine: the system bin directory the CLI links go into exists.
mkdir -p /usr/local/bin

# The app as a user would have it installed: root-owned, readable by everyone.
export BERTH_E2E_APP="$scratch/app"
mkdir -p "$BERTH_E2E_APP"
cp -a dist "$BERTH_E2E_APP/dist"
# The CLI as the packaged app ships it: a single executable at resources/bin/berth,
# where the links the helper makes in /usr/local/bin point.
mkdir -p "$BERTH_E2E_APP/resources"
# The single executable as the CLI (resources/bin/berth); its helper name is not needed here.
node scripts/build-helper.mjs --from dist/sea-bundle --out "$BERTH_E2E_APP/resources/bin" >/dev/null
rm "$BERTH_E2E_APP/resources/bin/berth-helper"
chmod -R a+rX "$BERTH_E2E_APP"

# Whatever the helper started in standalone mode ends with the suite.
trap '[ -f /run/berth/helper.pid ] && kill -KILL "$(cat /run/berth/helper.pid)" 2>/dev/null; true' EXIT
# Not npx: it would put node_modules/.bin (and npm's node there) first; the tests run on the node test.sh chose.
node node_modules/@playwright/test/cli.js test "$@"
