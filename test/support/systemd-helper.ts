import type { TestUser } from './constants';
import type { ExecOptions, SystemdSandbox } from './systemd-sandbox';

/**
 * The Berth helper inside a systemd sandbox, as the systemd suite drives it:
 * the real installer as root, the real client as the test user, and what
 * systemd says about the units.
 */

export const UNIT = 'dev.berth.helper';
export const SOCKET = '/run/berth/helper.sock';
/** Where the sandbox shows the bundled fixtures (global setup), read-only. */
export const FIXTURES = '/opt/berth-fixtures';
/** The app as installed: root's alone, so the helper will link its CLI and find its processes. */
export const APP = '/opt/Berth';
export const INSTALLED_HELPER = '/usr/local/libexec/berth';

export class HelperInSandbox {
  constructor(
    readonly sandbox: SystemdSandbox,
    readonly user: TestUser,
  ) {}

  /** Runs as the test user, with a home in the sandbox's private /tmp (nothing of it lands in the overlay). */
  asUser(env: Record<string, string> = {}): ExecOptions {
    return { asUser: this.user, env: { HOME: '/tmp/berth-test-home', USER: this.user.name, ...env } };
  }

  /** Makes the app's layout: the CLI tool the helper links, and an executable the trace recognises as Berth. */
  async prepareApp(): Promise<void> {
    await this.sandbox.run([
      'bash',
      '-euc',
      `mkdir -p ${APP}/resources/bin
       printf '#!/bin/sh\\nexec node ${FIXTURES}/cli/berth.js "$@"\\n' > ${APP}/resources/bin/berth
       chmod 0755 ${APP}/resources/bin/berth
       cp /bin/sleep ${APP}/berth-app
       install -d -o ${this.user.uid} -g ${this.user.gid} -m 0700 /tmp/berth-test-home`,
    ]);
  }

  /** `berth-helper install` as root, from `helperDir` (the bundled helper by default); returns what it printed. */
  install(args: string[] = ['--uid', String(this.user.uid)], helperDir = `${FIXTURES}/helper`): Promise<string> {
    return this.sandbox.run(['node', `${helperDir}/berth-helper.js`, 'install', '--app', APP, ...args]);
  }

  uninstall(): Promise<string> {
    return this.sandbox.run(['node', `${FIXTURES}/helper/berth-helper.js`, 'uninstall']);
  }

  /** The helper-client fixture as the test user: its last JSON line. */
  async client<T = Record<string, unknown>>(args: string[]): Promise<T> {
    const result = await this.sandbox.exec(['node', `${FIXTURES}/helper-client.js`, ...args], this.asUser());
    const line = result.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`helper-client printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
    }
  }

  /** Properties of a unit, as `systemctl show` reports them. */
  async show(unit: string, properties: string[]): Promise<Record<string, string>> {
    const out = await this.sandbox.run(['systemctl', 'show', unit, ...properties.map((p) => `--property=${p}`)]);
    return Object.fromEntries(
      out
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }

  async mainPid(): Promise<number> {
    return Number((await this.show(`${UNIT}.service`, ['MainPID'])).MainPID);
  }

  /** Units named dev.berth.helper.* that systemd has loaded, and unit files it knows of. */
  async knownUnits(): Promise<{ loaded: string; files: string }> {
    const list = async (argv: string[]): Promise<string> => {
      const result = await this.sandbox.exec(['systemctl', ...argv, '--plain', '--no-legend', `${UNIT}.*`]);
      // list-unit-files exits 1 when nothing matches: an answer, not a failure.
      if (result.code !== 0 && !(result.code === 1 && result.stdout.trim() === '')) throw new Error(`systemctl ${argv.join(' ')}: ${result.stderr}`);
      return result.stdout.trim();
    };
    return { loaded: await list(['list-units', '--all']), files: await list(['list-unit-files']) };
  }

  /**
   * Which listening socket is at SOCKET: its socket inode (as ss reports it)
   * and the file's inode. Both change only if the socket is closed and made again.
   */
  async listeningSocket(): Promise<{ socket: string; file: string }> {
    const listener = (await this.sandbox.run(['ss', '-Hxl', 'src', SOCKET])).trim().split(/\s+/);
    const file = (await this.sandbox.run(['stat', '-c', '%i', SOCKET])).trim();
    return { socket: listener[5] ?? '', file };
  }

  /** Whether a path exists inside the sandbox (its /run is a tmpfs, outside the overlay). */
  async exists(path: string): Promise<boolean> {
    return (await this.sandbox.exec(['test', '-e', path])).code === 0;
  }

  /** Processes whose command line mentions the installed helper. */
  async helperProcesses(): Promise<string> {
    const result = await this.sandbox.exec(['pgrep', '-a', '-f', `${INSTALLED_HELPER}/`]);
    return result.stdout.trim();
  }
}

/** Capability numbers (linux/capability.h) of the names the helper keeps. */
const CAPABILITY_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
};

/** The kernel's CapBnd/CapEff mask (as /proc/PID/status prints it) for these capability names. */
export function capabilityMask(names: readonly string[]): string {
  let mask = 0n;
  for (const name of names) {
    const bit = CAPABILITY_BITS[name];
    if (bit === undefined) throw new Error(`no bit known for ${name}: add it to CAPABILITY_BITS`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}

/** One field of /proc/PID/status. */
export function statusField(status: string, field: string): string | undefined {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
}

/** The mount options of `target` in a /proc/PID/mountinfo (the last mount there wins). */
export function mountOptions(mountinfo: string, target: string): string[] | undefined {
  const lines = mountinfo.split('\n').filter((line) => line.split(' ')[4] === target);
  return lines.at(-1)?.split(' ')[5]?.split(',');
}

/** The file system's own options (after the " - " in mountinfo: hidepid=, subset=, …) of `target`. */
export function superOptions(mountinfo: string, target: string): string[] | undefined {
  const line = mountinfo.split('\n').filter((l) => l.split(' ')[4] === target).at(-1);
  return line?.split(' - ')[1]?.split(' ')[2]?.split(',');
}

/**
 * What may differ in the overlay after an uninstall, and why. Besides this,
 * upperChanges passes over pure overlayfs copy-ups: an entry now identical to
 * the machine's own (/etc/hosts rewritten back to its very bytes; /usr/local/bin,
 * /etc/systemd/system and /var/tmp, copied up while something of ours was in
 * them). Every other difference is something the install left behind or deleted.
 */
export function allowedChurn(path: string): boolean {
  // journald appends every log line of the suite (the installer's systemctl calls, the helper's stderr).
  if (path.startsWith('/var/log/journal/')) return true;
  return false;
}
