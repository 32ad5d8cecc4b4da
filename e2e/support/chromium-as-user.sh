#!/bin/sh
# Playwright's Chromium as the test user, as a user's own browser runs: browser
# mode serves only the uid that runs it (docs/SECURITY.md T25), so a browser
# running as root would be turned away. Playwright made the profile directory
# (--user-data-dir) as root; it becomes the user's, and doubles as HOME.
# The DevTools pipe (fds 3 and 4) survives setpriv's exec.
set -eu
user="${BERTH_E2E_BROWSER_USER:-berth-test}"
profile=
for arg in "$@"; do
  case "$arg" in --user-data-dir=*) profile="${arg#--user-data-dir=}" ;; esac
done
if [ -n "$profile" ]; then
  mkdir -p "$profile"
  chown -R "$user:" "$profile"
fi
exec setpriv --reuid="$user" --regid="$user" --clear-groups --inh-caps=-all -- \
  env HOME="${profile:-/tmp}" DISPLAY="${DISPLAY:-}" "${BERTH_CHROMIUM:-/usr/bin/chromium}" "$@"
