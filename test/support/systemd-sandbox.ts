import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestUser } from './constants';
import { finished, type Finished } from './finished';
import { safeScratchDir } from './scratch';

/**
 * Debian's systemd, booted as PID 1 in namespaces of its own on an overlay of
 * / (see /work/shared/FIELD-NOTES.md, "systemd as PID 1 in a sandbox"), so the
 * helper's real systemd install path can run: units written, socket
 * activation, hardening in force. Everything it writes or deletes lands in the
 * overlay's upper layer, a tmpfs, which `upperDir` shows to the test.
 */

const SYSTEMD = '/lib/systemd/systemd';
const BOOT_SCRIPT = join(__dirname, 'systemd-boot.sh');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxOptions {
  /**
   * The unit to boot. basic.target by default: all a socket-activated service
   * needs (sockets.target is part of it), and none of the daemons this machine
   * happens to have installed (a database, a web server), which would otherwise
   * write into the overlay while a test compares it.
   */
  target?: string;
  /** Directories of this machine shown read-only inside: host path → path in the sandbox. */
  binds?: Record<string, string>;
  /** How long boot may take before it counts as failed. */
  bootTimeoutMs?: number;
  /** The systemd binary (Debian's by default). */
  systemd?: string;
}

export interface ExecOptions {
  /** Run as this user (setpriv: its uid and gid, no groups, no capabilities) instead of root. */
  asUser?: TestUser;
  /** Variables on top of PATH, LANG and HOME (the environment is otherwise empty). */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. */
  input?: string;
}

export interface SystemdSandbox {
  /** The sandbox's PID 1, as this process sees it. */
  readonly pid: number;
  /** The overlay's writable layer: every file the sandbox created or changed; deletions are whiteouts (0/0 character devices). */
  readonly upperDir: string;
  /** The read-only layer the overlay shows underneath (this machine's root file system). */
  readonly lowerDir: string;
  /** The sandbox's own cgroup (its namespace's root), removed by stop(). */
  readonly cgroup: string;
  /** "running", or "degraded" with the failed units named. */
  readonly bootState: string;
  /** Runs argv inside every namespace of the sandbox, to completion. */
  exec(argv: string[], options?: ExecOptions): Promise<Finished>;
  /** Starts argv inside the sandbox and returns at once (stdin, stdout and stderr are pipes). */
  spawn(argv: string[], options?: ExecOptions): ChildProcess;
  /** Like exec, but throws with everything printed unless argv exits 0; returns stdout. */
  run(argv: string[], options?: ExecOptions): Promise<string>;
  /** What systemd wrote to its console so far. */
  consoleLog(): string;
  /** SIGKILLs PID 1 (so every process inside), then removes the cgroup, the mounts and the tmpfs. Safe to call twice. */
  stop(): Promise<void>;
}

/** The cgroup2 mount and this process's place in it: the sandbox gets a fresh child cgroup there. */
function privateCgroup(): string {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const cgroup2 = mounts.map((line) => line.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'));
  if (cgroup2 === undefined || own === null) {
    throw new Error('the systemd sandbox needs cgroup2 (unified or hybrid hierarchy) mounted: none found in /proc/self/mountinfo');
  }
  const parent = join(cgroup2[4]!, own[1]!);
  sweepStaleCgroups(parent);
  const dir = join(parent, `${CGROUP_PREFIX}${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

const CGROUP_PREFIX = 'berth-systemd-';

/**
 * An earlier sandbox whose test process was killed before stop() (the kernel
 * still killed the sandbox) leaves its empty cgroup tree behind. Removed here;
 * one with any process in it ("populated 1") is another run's, and so is a
 * fresh one (made a moment ago, its shell not yet moved in): both left alone.
 */
function sweepStaleCgroups(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(CGROUP_PREFIX)) continue;
    const path = join(parent, name);
    try {
      const empty = /^populated 0$/m.test(readFileSync(join(path, 'cgroup.events'), 'utf8'));
      if (empty && statSync(path).mtimeMs < Date.now() - 60_000) removeCgroupTree(path);
    } catch {
      // Being removed by its own run, or just filled by a starting one: not ours to judge.
    }
  }
}

function removeCgroupTree(path: string): void {
  for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  rmdirSync(path);
}

/** Removes a cgroup tree, deepest first; a cgroup can go only once its processes are reaped, so retry a little. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; existsSync(dir); attempt++) {
    try {
      removeCgroupTree(dir);
    } catch (error) {
      if (attempt >= 100) throw new Error(`could not remove the sandbox's cgroup ${dir}: ${(error as Error).message}`);
      await sleep(50);
    }
  }
}

function isSystemd(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).endsWith('/systemd');
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return children === '' ? [] : children.split(' ').map(Number);
  } catch {
    return [];
  }
}

/** The sandbox's PID 1 (once the boot script has exec'ed systemd), below script(1) and unshare. */
function findSystemd(root: number): number | undefined {
  let level = [root];
  for (let depth = 0; depth < 6 && level.length > 0; depth++) {
    const found = level.find(isSystemd);
    if (found !== undefined) return found;
    level = level.flatMap(childrenOf);
  }
  return undefined;
}

function sandboxEnv(options: ExecOptions): Record<string, string> {
  const home = options.asUser === undefined ? '/root' : '/';
  return { PATH, LANG: 'C.UTF-8', HOME: home, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', ...options.env };
}

/**
 * Boots the sandbox and waits until `systemctl is-system-running` says
 * running or degraded (a degraded boot is reported, not hidden). Units that
 * hold TCP port 80 are stopped. Throws with systemd's console log when
 * systemd is missing, exits, or does not finish booting in time.
 */
export async function bootSystemdSandbox(options: SandboxOptions = {}): Promise<SystemdSandbox> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('the systemd sandbox runs as root on Linux');
  const systemd = options.systemd ?? SYSTEMD;
  if (!existsSync(systemd)) {
    throw new Error(`${systemd} is missing: the systemd suite boots Debian's systemd (apt-get install systemd; scripts/test-deps.sh does)`);
  }
  // The tmpfs is mounted in this process's mount namespace (so upperDir is
  // readable here): safeScratchDir insists that is the test run's private one.
  const dir = safeScratchDir('berth-systemd');
  const lowerDir = join(dir, 'lower');
  const mounted: string[] = [];
  let cgroup: string | undefined;
  let pid: number | undefined;
  let launcher: ChildProcess | undefined;
  let stopped = false;
  let stderr = '';

  const consoleLog = (): string => {
    try {
      return readFileSync(join(dir, 'console'), 'utf8').replace(/\r/g, '');
    } catch {
      return '';
    }
  };
  /** Every step is tried, whatever failed before it; the first failure is thrown at the end. */
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const problems: unknown[] = [];
    const attempt = async (step: () => unknown): Promise<void> => {
      try {
        await step();
      } catch (error) {
        problems.push(error);
      }
    };
    // PID 1 of a pid namespace ignores SIGTERM; SIGKILL from outside ends it and every process inside.
    // Before systemd runs, killing the launcher does it: script(1)'s pty hangs up unshare, whose death kills the rest.
    await attempt(() => (pid !== undefined && isSystemd(pid) ? process.kill(pid, 'SIGKILL') : launcher?.kill('SIGKILL')));
    if (launcher !== undefined && launcher.exitCode === null && launcher.signalCode === null) {
      await new Promise((resolve) => launcher!.once('exit', resolve));
    }
    if (cgroup !== undefined) await attempt(() => removeCgroup(cgroup!));
    for (const path of mounted.reverse()) await attempt(() => execFileSync('umount', ['--lazy', path]));
    await attempt(() => rmdirSync(dir));
    if (problems.length > 0) throw problems[0];
  };

  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1g,mode=0755', 'berth-systemd', dir]);
    mounted.push(dir);
    for (const sub of ['upper', 'work', 'root', 'lower']) mkdirSync(join(dir, sub), { mode: 0o755 });
    // The overlay's lower layer is /'s file system without what is mounted on it; so is a plain bind of /.
    execFileSync('mount', ['--bind', '/', lowerDir]);
    mounted.push(lowerDir);
    execFileSync('mount', ['-o', 'remount,bind,ro', lowerDir]);
    cgroup = privateCgroup();
    const binds = Object.entries(options.binds ?? {}).map(([source, target]) => `${source}=${target}`);
    // setpriv --pdeathsig and unshare --kill-child: should this test process
    // die without running stop(), the kernel SIGKILLs script(1), its pty hangs
    // up unshare, and unshare's death SIGKILLs PID 1. The shell moves itself
    // into the fresh cgroup before unshare makes it the namespace's root.
    launcher = spawn(
      'setpriv',
      [
        '--pdeathsig=KILL',
        '--',
        'bash',
        '-c',
        'echo $$ > "$0/cgroup.procs" && exec script --quiet --flush --return --command "$(printf "%q " unshare --pid --fork --kill-child=SIGKILL --mount --net --uts --ipc --cgroup --propagation private bash "${@:2}")" "$1"',
        cgroup,
        join(dir, 'console'),
        BOOT_SCRIPT,
        dir,
        systemd,
        options.target ?? 'basic.target',
        ...binds,
      ],
      // script(1) runs the command with $SHELL -c: bash, which execs unshare in its place.
      // Its stdout repeats the console file; its stderr has what went wrong before the pty existed.
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH, SHELL: '/bin/bash' } },
    );
    launcher.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const failure = (what: string): Error =>
      new Error(`${what}\n--- console (the boot script, then systemd) ---\n${consoleLog()}${stderr === '' ? '' : `\n--- stderr ---\n${stderr}`}`);

    const deadline = Date.now() + (options.bootTimeoutMs ?? 60_000);
    for (;;) {
      if (launcher.exitCode !== null || launcher.signalCode !== null) throw failure('systemd exited during boot');
      const found = findSystemd(launcher.pid!);
      if (found !== undefined) {
        pid = found;
        break;
      }
      if (Date.now() > deadline) throw failure('systemd did not start');
      await sleep(50);
    }

    const sandbox = makeSandbox(pid, join(dir, 'upper'), lowerDir, cgroup, consoleLog, stop);
    let state = '';
    for (;;) {
      if (!isSystemd(pid)) throw failure('systemd exited during boot');
      // "offline" is systemctl's word for "cannot reach PID 1": before it listens, that is "not yet",
      // like "initializing" and "starting" (a PID 1 that died is caught above).
      state = (await sandbox.exec(['systemctl', 'is-system-running'])).stdout.trim();
      if (state === 'running' || state === 'degraded') break;
      if (state === 'maintenance' || state === 'stopping') throw failure(`systemd's boot ended "${state}"`);
      if (Date.now() > deadline) throw failure(`systemd did not finish booting (last state "${state}")`);
      await sleep(200);
    }
    let bootState = state;
    if (state === 'degraded') {
      const failed = (await sandbox.exec(['systemctl', 'list-units', '--failed', '--plain', '--no-legend'])).stdout.trim();
      bootState = `degraded (failed: ${failed.split('\n').map((line) => line.split(' ')[0]).join(', ')})`;
      console.warn(`systemd sandbox booted ${bootState}`);
    }
    await stopPort80Holders(sandbox);
    return Object.assign(sandbox, { bootState });
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * Stops whatever unit listens on TCP port 80 (Debian's nginx starts inside
 * when installed and booted to multi-user.target): the tests bind that port
 * through the helper.
 */
async function stopPort80Holders(sandbox: SystemdSandbox): Promise<void> {
  const listeners = await sandbox.run(['ss', '-Hltnp', 'sport = :80']);
  const pids = [...listeners.matchAll(/pid=(\d+)/g)].map((m) => m[1]!);
  const units = new Set<string>();
  for (const pid of pids) {
    const cgroup = await sandbox.run(['cat', `/proc/${pid}/cgroup`]);
    const unit = /\/([^/]+\.service)$/m.exec(cgroup.trim())?.[1];
    if (unit !== undefined) units.add(unit);
  }
  if (units.size > 0) await sandbox.run(['systemctl', 'stop', ...units]);
  const still = await sandbox.run(['ss', '-Hltn', 'sport = :80']);
  if (still.trim() !== '') throw new Error(`something inside the systemd sandbox still listens on port 80:\n${still}`);
}

function makeSandbox(
  pid: number,
  upperDir: string,
  lowerDir: string,
  cgroup: string,
  consoleLog: () => string,
  stop: () => Promise<void>,
): SystemdSandbox {
  const spawnInside = (argv: string[], options: ExecOptions = {}): ChildProcess => {
    const user = options.asUser;
    const drop = user === undefined ? [] : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--'];
    const child = spawn('nsenter', ['--target', String(pid), '--all', '--', ...drop, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: sandboxEnv(options),
      // A process group of its own: a `kill 0` (or a signal to our group) inside never reaches the test run.
      detached: true,
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    return child;
  };
  const exec = (argv: string[], options: ExecOptions = {}): Promise<Finished> => {
    const child = spawnInside(argv, options);
    if (options.input === undefined) child.stdin!.end();
    return finished(child);
  };
  return {
    pid,
    upperDir,
    lowerDir,
    cgroup,
    bootState: '',
    exec,
    spawn: spawnInside,
    async run(argv, options) {
      const result = await exec(argv, options);
      if (result.code !== 0) {
        throw new Error(`${argv.join(' ')} exited ${result.code} in the systemd sandbox:\n${result.stdout}${result.stderr}`);
      }
      return result.stdout;
    },
    consoleLog,
    stop,
  };
}
