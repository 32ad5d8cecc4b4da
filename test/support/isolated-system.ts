import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { REPO_ROOT } from './constants';
import { finished, type Finished } from './processes';
import { safeScratchDir } from './scratch';

/**
 * Runs a bash script as root in a machine of its own: a nested private mount
 * namespace where /usr/local, /var/lib, /var/log and /run are empty tmpfs
 * mounts and /etc is a copy. The installer writes its real, fixed paths there;
 * the machine's own are never touched, and neither is the namespace other
 * test files share. The script sees $HELPER (the built berth-helper bundle),
 * $FIXTURES, $TEST_UID/$TEST_GID and $OTHER_UID/$OTHER_GID.
 */
export function runIsolated(script: string): Promise<Finished> {
  const scratch = safeScratchDir('berth-system');
  const users = inject('users');
  const prelude = [
    'set -euo pipefail',
    `cp -a /etc ${scratch}/etc && mount --bind ${scratch}/etc /etc`,
    // /run goes empty too, but the system bus stays reachable (pkexec asks polkitd over it).
    `mkdir ${scratch}/dbus && { [ -d /run/dbus ] && mount --bind /run/dbus ${scratch}/dbus || true; }`,
    // /opt too: installs there (/opt/Berth, the deb's place) must never reach the machine's own /opt.
    'mkdir -p /opt; for d in /usr/local /var/lib /var/log /run /opt; do mount -t tmpfs -o mode=0755 berth-isolated "$d"; done',
    `mkdir /run/dbus && { mountpoint -q ${scratch}/dbus && mount --move ${scratch}/dbus /run/dbus || true; }`,
    // Whatever the script leaves running ends with it: the standalone supervisor's whole process group (its helper too).
    // `|| true`, not `; true`: under set -e a failed kill (the group gone already, a stale pid file) would end the trap with 1.
    'trap \'[ -f /run/berth/helper.pid ] && kill -KILL -- -"$(cat /run/berth/helper.pid)" 2>/dev/null || true\' EXIT',
  ].join('\n');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', `${prelude}\n${script}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HELPER: join(REPO_ROOT, 'dist/helper/berth-helper.js'),
      FIXTURES: inject('fixturesDir'),
      TEST_UID: String(users.test.uid),
      TEST_GID: String(users.test.gid),
      OTHER_UID: String(users.other.uid),
      OTHER_GID: String(users.other.gid),
    },
  });
  return finished(child);
}
