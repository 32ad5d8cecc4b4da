import { spawn, type ChildProcess } from 'node:child_process';
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
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', `${prelude()}\n${script}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: isolatedEnv(),
  });
  return finished(child);
}

/** The mounts that make the machine of its own (see runIsolated). */
function prelude(): string {
  const scratch = safeScratchDir('berth-system');
  return [
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
}

function isolatedEnv(): NodeJS.ProcessEnv {
  const users = inject('users');
  return {
    ...process.env,
    HELPER: join(REPO_ROOT, 'dist/helper/berth-helper.js'),
    FIXTURES: inject('fixturesDir'),
    TEST_UID: String(users.test.uid),
    TEST_GID: String(users.test.gid),
    OTHER_UID: String(users.other.uid),
    OTHER_GID: String(users.other.gid),
  };
}

/**
 * The same machine of its own, kept up between steps: a test drives it from
 * outside (an app started in it, then an admin's install behind the app's
 * back, a kill -9, ...). `run` is a root shell inside with runIsolated's
 * variables; `wrap` puts any command inside; close() ends the helper it left
 * running and the machine.
 */
export class IsolatedMachine {
  private constructor(private readonly holder: ChildProcess) {}

  static async start(): Promise<IsolatedMachine> {
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', `${prelude()}\necho ready\nexec sleep infinity`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: isolatedEnv(),
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      holder.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
      holder.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (out.includes('ready\n')) resolve();
      });
      holder.once('exit', (code) => reject(new Error(`the isolated machine did not start (${code}): ${err}`)));
    });
    return new IsolatedMachine(holder);
  }

  /** `argv` inside this machine's mounts (nsenter execs it: the pid is the program's). */
  wrap(argv: readonly string[]): string[] {
    return ['nsenter', `--mount=/proc/${this.holder.pid}/ns/mnt`, '--', ...argv];
  }

  /** A bash script as root inside, to completion. */
  run(script: string): Promise<Finished> {
    const argv = this.wrap(['bash', '-c', `set -euo pipefail\n${script}`]);
    return finished(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: isolatedEnv(), cwd: '/' }));
  }

  async close(): Promise<void> {
    await this.run('[ -f /run/berth/helper.pid ] && kill -KILL -- -"$(cat /run/berth/helper.pid)" 2>/dev/null; true');
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const exited = new Promise((resolve) => this.holder.once('exit', resolve));
      this.holder.kill('SIGKILL');
      await exited;
    }
  }
}
