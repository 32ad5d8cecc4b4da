#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, if any are missing.
# Idempotent and quiet when everything is there. Needs root and apt-get.
set -euo pipefail
# iproute2: `ip` for the private test namespace; util-linux: unshare, setpriv;
# passwd: useradd for the test users; g++/make/python3: node-gyp (native addon);
# systemd: systemd-analyze, systemd-socket-activate, and the systemd suite's PID 1 (booted in a sandbox);
# procps: pgrep in that suite; libxml2-utils: xmllint;
# dbus (dbus-daemon, dbus-send), polkitd (polkitd, pkcheck, pkaction), pkexec: the real authorization prompt;
# chromium: the end-to-end suite's browser (Playwright's own download is blocked); fonts-dejavu-core: legible screenshots.
packages=(iproute2 util-linux passwd g++ make python3 systemd procps libxml2-utils dbus polkitd pkexec fonts-dejavu-core)
# A Chromium named in BERTH_CHROMIUM is used instead (CI on Ubuntu, which has no chromium package: Playwright's own).
[ -n "${BERTH_CHROMIUM:-}" ] || packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "test-deps: missing ${missing[*]} and no apt-get to install them; install them by hand" >&2
  exit 1
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
