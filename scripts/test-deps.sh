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
DEPS_NAME=test-deps
# shellcheck source=scripts/debian-packages.sh
source "$(dirname "$0")/debian-packages.sh"
ensure_debian_packages "${packages[@]}"
