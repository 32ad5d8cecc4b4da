import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inject } from 'vitest';
import { REPO_ROOT, type TestUser } from './constants';
import { finished, type Finished } from './finished';
import { safeScratchDir } from './scratch';

export { finished, type Finished };

export interface HelperProcess {
  readonly socketPath: string;
  readonly auditLogPath: string;
  readonly dir: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  /** Open fds of the helper process right now (from /proc). */
  fdCount(): number;
  /** What each open fd of the helper points at (readlink of /proc/PID/fd/N). */
  fdTargets(): string[];
  auditEntries(): Array<Record<string, unknown>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface HelperOptions {
  /** The enrolled user besides root, or several (`serve --allow-uid A,B`). */
  allowUid: number | readonly number[];
  extraArgs?: string[];
  /** Reuse a directory (to test stale sockets); default a new root-owned 0755 one. */
  dir?: string;
  /** Run this helper executable (e.g. the SEA) instead of node + dist/helper/berth-helper.js. */
  executable?: string;
  /** Variables set on top of this process's environment. */
  env?: Record<string, string>;
  /**
   * Serve as an installed helper does, from this root-owned config file
   * (`serve --config`); its socketPath and auditLogPath are used, and
   * allowUid/extraArgs/dir are ignored.
   */
  configFile?: string;
  /**
   * Run the helper in a mount namespace of its own where /etc/hosts and
   * /usr/local/bin are scratch copies: an app that carries out its settings
   * (reconcile.ts) through this helper can never reach the machine's files,
   * whatever the test's own namespace holds. On unless a test says false:
   * any `berth app` started beside a helper reconciles through it.
   */
  privateSystemPaths?: boolean;
}

/**
 * `argv` run in a mount namespace of its own where /etc/hosts and
 * /usr/local/bin are scratch copies (see HelperOptions.privateSystemPaths).
 * unshare and sh exec in turn: the helper keeps the pid the test signals.
 */
export function withPrivateSystemPaths(argv: readonly string[]): string[] {
  const scratch = safeScratchDir('berth-helper-system');
  for (const dir of ['etc-upper', 'etc-work', 'bin']) mkdirSync(join(scratch, dir), { mode: 0o755 });
  // /etc as an overlay whose writes land in scratch: the hosts file, and what
  // the helper writes beside it (its temp files, hosts.berth-backup), never
  // reach the machine's /etc. A bind of the hosts file alone would not do:
  // a bind-mounted hosts file is rewritten in place, with a backup in /etc.
  const etc = `lowerdir=/etc,upperdir=${scratch}/etc-upper,workdir=${scratch}/etc-work`;
  const mounts = `mount -t overlay berth-etc -o ${etc} /etc && mount --bind ${scratch}/bin /usr/local/bin && exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', mounts, 'sh', ...argv];
}

/** The helper records who wants the hosts block and links in its state dir: a scratch one, never the machine's /var/lib/berth. */
export function scratchStateArgs(): string[] {
  return ['--state-dir', join(safeScratchDir('berth-helper-state'), 'state')];
}

function splitArgv(argv: readonly string[]): [string, string[]] {
  return [argv[0]!, argv.slice(1)];
}

/** The real helper bundle, as root, in the foreground; resolves once it listens. */
export async function startHelper(options: HelperOptions): Promise<HelperProcess> {
  const installed =
    options.configFile === undefined
      ? undefined
      : (JSON.parse(readFileSync(options.configFile, 'utf8')) as { socketPath: string; auditLogPath: string });
  let dir = installed === undefined ? options.dir : dirname(installed.socketPath);
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
    chmodSync(dir, 0o755);
  }
  const socketPath = installed?.socketPath ?? join(dir, 'helper.sock');
  const auditLogPath = installed?.auditLogPath ?? join(dir, 'audit.log');
  const [program, ...entry] =
    options.executable !== undefined ? [options.executable] : [process.execPath, join(REPO_ROOT, 'dist/helper/berth-helper.js')];
  const extraArgs = options.extraArgs ?? [];
  const stateArgs = extraArgs.includes('--state-dir') ? [] : scratchStateArgs();
  const serveArgs =
    options.configFile !== undefined
      ? ['serve', '--config', options.configFile]
      : ['serve', '--socket', socketPath, '--allow-uid', [options.allowUid].flat().join(','), '--audit-log', auditLogPath, ...stateArgs, ...extraArgs];
  const argv = [program!, ...entry, ...serveArgs];
  const child = spawn(...splitArgv(options.privateSystemPaths !== false ? withPrivateSystemPaths(argv) : argv), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (/^berth-helper \S+: serving on /m.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`helper exited with ${code} before listening: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    socketPath,
    auditLogPath,
    dir,
    child,
    stderr: () => stderr,
    fdCount: () => readdirSync(`/proc/${child.pid}/fd`).length,
    fdTargets: () =>
      readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${child.pid}/fd/${fd}`);
        } catch {
          return '';
        }
      }),
    auditEntries: () =>
      existsSync(auditLogPath)
        ? readFileSync(auditLogPath, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (options.dir === undefined && installed === undefined) rmSync(dir!, { recursive: true, force: true });
      return code;
    },
  };
}


/** Spawns `argv` as an unprivileged user: setpriv drops every privilege (uid, gid, groups, capabilities). */
export function spawnAs(user: TestUser, argv: string[]): ChildProcess {
  return spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
  });
}

/** Spawns `node <fixture> args...` as an unprivileged user (fixtures are bundled by the global setup). */
export function spawnFixtureAs(user: TestUser, fixture: string, args: string[]): ChildProcess {
  return spawnAs(user, [process.execPath, join(inject('fixturesDir'), `${fixture}.js`), ...args]);
}


/** Runs a fixture to completion as `user` and parses the one JSON line it prints. */
export async function runFixtureAs<T = Record<string, unknown>>(
  user: TestUser,
  fixture: string,
  args: string[],
): Promise<T> {
  const result = await finished(spawnFixtureAs(user, fixture, args));
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`fixture ${fixture} printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
  }
}

/** Resolves with the first stdout line of a long-running fixture, parsed as JSON. */
export function firstLine<T = Record<string, unknown>>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(buffer.slice(0, end)) as T);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before it was ready: ${stderr}`)));
  });
}

/**
 * An impostor where a helper's socket should be: `user` (not root) listens at
 * `path`, in a fresh directory anyone may write to, and lets anyone connect.
 * A careful client refuses it before sending a byte. stop() ends it and
 * removes the directory.
 */
export async function squatHelperSocket(user: TestUser): Promise<{ path: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-squat-'));
  chmodSync(dir, 0o777);
  const path = join(dir, 'helper.sock');
  const squatter = spawnFixtureAs(user, 'helper-client', ['squat', path]);
  const stop = async (): Promise<void> => {
    squatter.kill('SIGTERM');
    await finished(squatter);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await firstLine(squatter);
    chmodSync(path, 0o777);
  } catch (error) {
    await stop();
    throw error;
  }
  return { path, stop };
}

/**
 * Leaves a socket file nobody listens on, as a crashed server does: a child
 * listens and is SIGKILLed, so nothing unlinks the path.
 */
export function makeStaleSocket(path: string): void {
  spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  if (!lstatSync(path).isSocket()) throw new Error(`no stale socket at ${path}`);
}
