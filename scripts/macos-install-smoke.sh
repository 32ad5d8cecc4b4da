#!/usr/bin/env bash
# The macOS workflow's install smoke test (.github/workflows/macos.yml), on a
# real Mac, as the runner's user with passwordless sudo, after `npm run build`:
#   1. install the helper as root (a LaunchDaemon with a launchd-owned socket);
#   2. as this user, through the project's own client (the `berth` CLI): hello
#      (`berth helper status`), then bindPort for 127.0.0.1:80, which macOS
#      lets no user bind, handed to a command that serves and fetches on it;
#   3. unload the job, leave a dead socket node at the path (as a reboot
#      leaves one in a folder that persists), load it again and say hello:
#      launchd must replace the node;
#   4. uninstall as root, and check that nothing the install recorded is left
#      and that launchd no longer knows the job.
set -euo pipefail
cd "$(dirname "$0")/.."

LABEL=dev.berth.helper                                          # common/paths.ts SERVICE_LABEL
PLIST="/Library/LaunchDaemons/$LABEL.plist"                     # helper/install/service/paths.ts
RECORD="/Library/Application Support/$LABEL/state/install.json" # the install record (common/install-record.ts)
AUDIT_LOG=/Library/Logs/Berth/audit.log                         # common/paths.ts installLayout('darwin')
# Where a packaged Berth would be: only recorded (for the CLI links, which this test does not make).
APP=/Applications/Berth.app
# The installer refuses to make launchd run the helper with a node anyone but
# root could change (the runner's own node is the runner's): a root-owned copy.
ROOT_NODE_DIR=/opt/berth-ci
ROOT_NODE="$ROOT_NODE_DIR/node"
WORK=$(mktemp -d)

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
berth() { node dist/cli/berth.js "$@"; }
helper_as_root() { sudo "$ROOT_NODE" dist/helper/berth-helper.js "$@"; }
# A field of a JSON document on stdin, e.g. `json_field state`.
json_field() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }

expect_running() {
  berth helper status --json >"$WORK/status.json" || fail "berth helper status: $(cat "$WORK/status.json")"
  cat "$WORK/status.json"
  [ "$(json_field state <"$WORK/status.json")" = running ] || fail "the helper is not running"
}

step "a root-owned node for the helper"
sudo install -d -o root -g wheel -m 0755 "$ROOT_NODE_DIR"
sudo install -o root -g wheel -m 0755 "$(node -p process.execPath)" "$ROOT_NODE"

step "install (as root)"
helper_as_root install --app "$APP" --uid "$(id -u)"
sudo plutil -lint "$PLIST"
sudo launchctl print "system/$LABEL" >/dev/null || fail "launchd does not know $LABEL"

step "hello (as $(id -un))"
expect_running
SOCKET=$(json_field socketPath <"$WORK/status.json")
[ -S "$SOCKET" ] || fail "no socket at $SOCKET"
# The socket is the user's, 0600; its folder root's and no one else's to write.
[ "$(stat -f '%Su %Lp' "$SOCKET")" = "$(id -un) 600" ] || fail "socket owner/mode: $(stat -f '%Su %Lp' "$SOCKET")"
[ "$(stat -f '%Su %Lp' "$(dirname "$SOCKET")")" = "root 755" ] || fail "socket folder: $(stat -f '%Su %Lp' "$(dirname "$SOCKET")")"

step "bindPort 127.0.0.1:80 (as $(id -un), through the helper)"
# The command gets the listening socket as fd 3 (LISTEN_FDS), serves one
# connection on it, fetches from 127.0.0.1:80 itself, and prints the answer.
SERVE_AND_FETCH='
const net = require("node:net");
const server = net.createServer((c) => c.end("served by fd 3"));
server.listen({ fd: 3 }, () => {
  net.connect(80, "127.0.0.1").on("data", (d) => { console.log(String(d)); server.close(); });
});'
berth run -p 127.0.0.1:80 -- "$(command -v node)" -e "$SERVE_AND_FETCH" | tee "$WORK/run.out"
grep -qx 'served by fd 3' "$WORK/run.out" || fail "berth run did not serve on 127.0.0.1:80"
# It came from the helper (no user may bind 127.0.0.1:80 on macOS): the audit log says so.
sudo grep -q '"op":"bindPort"' "$AUDIT_LOG" || fail "no bindPort in $AUDIT_LOG"

step "reload over a dead socket node, as after a reboot"
sudo launchctl bootout "system/$LABEL"
if [ ! -S "$SOCKET" ]; then
  # launchd removed its node: leave one as a crash or a power cut would (bound, then nobody listens).
  sudo "$ROOT_NODE" -e 'require("node:net").createServer().listen(process.argv[1], () => process.kill(process.pid, "SIGKILL"))' "$SOCKET" || true
fi
[ -S "$SOCKET" ] || fail "could not leave a socket node at $SOCKET"
sudo launchctl bootstrap system "$PLIST"
expect_running

step "uninstall (as root)"
# Read as root, kept as this user: the redirect is meant to be ours.
# shellcheck disable=SC2024
sudo cat "$RECORD" >"$WORK/record.json"
helper_as_root uninstall | tee "$WORK/uninstall.out"
grep -q 'uninstalled: nothing of Berth is left' "$WORK/uninstall.out" || fail "uninstall kept something"
if sudo launchctl print "system/$LABEL" >/dev/null 2>&1; then fail "launchd still knows $LABEL"; fi
node -e 'for (const p of JSON.parse(require("node:fs").readFileSync(0, "utf8")).paths) console.log(p.path)' <"$WORK/record.json" >"$WORK/paths"
while IFS= read -r path; do
  if sudo test -e "$path" || sudo test -L "$path"; then fail "left behind: $path"; fi
done <"$WORK/paths"
for path in "$SOCKET" "$(dirname "$SOCKET")" "$PLIST"; do
  if sudo test -e "$path"; then fail "left behind: $path"; fi
done
if berth helper status --json >"$WORK/status.json"; then fail "the helper still answers: $(cat "$WORK/status.json")"; fi
[ "$(json_field state <"$WORK/status.json")" = not-installed ] || fail "after uninstall: $(cat "$WORK/status.json")"

echo
echo "macOS install smoke test: passed ($(wc -l <"$WORK/paths" | tr -d ' ') recorded paths removed)"
