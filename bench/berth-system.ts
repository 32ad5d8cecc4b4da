// Berth as a user has it, for the forwarding benchmark: the built app laid
// out where an unprivileged user can read it, the real helper as root,
// `berth app` (browser mode) as the test user berth-test, and the CLI
// (`berth ports add|rm`, `berth run`) as that user in the same home, as
// e2e/run.sh and the tests' startApp (test/support/app.ts) run them.
// Run as root, in a private network namespace (port 80 is then free and
// ip_unprivileged_port_start is the kernel's 1024).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeMetrics } from '../common/api/backend-api';
import type { MappingStatus } from '../common/ports/mapping';
import { TEST_USERS, type TestUser } from '../test/support/constants';
import { asUserPrefix } from '../test/support/user-home';
import { ensureUser } from '../test/support/users';
import { alias, recordLine, start, stop } from './forwarder-tools';

type Started = ReturnType<typeof start>;

/** A line-oriented child (the metrics probe): write a line, read the answer. */
class LineChild {
  private buffer = '';
  private readonly waiting: Array<(line: string) => void> = [];
  constructor(readonly child: Started) {
    child.stdout!.on('data', (c: string) => {
      this.buffer += c;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }
  next(timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s: ${this.child.output().slice(-500)}`)), timeoutMs);
      this.waiting.push((line) => (clearTimeout(timer), resolve(line)));
    });
  }
  async ask(line: string): Promise<string> {
    const answer = this.next();
    this.child.stdin!.write(`${line}\n`);
    return answer;
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One `berth app` as berth-test, in a home of its own, with the data plane `plane` (BERTH_DATA_PLANE) if given. */
export interface BerthApp {
  plane: string | undefined;
  /** The `berth app` process itself (setpriv and env exec it). */
  pid: number;
  /** `berth ARGS` as berth-test in this app's home, to completion. */
  cli(args: string[]): Promise<CliResult>;
  /** Publishes LISTEN → TARGET (`berth ports add --json`); throws with the CLI's words if it fails. */
  publish(mapping: string): Promise<MappingStatus>;
  /** The app's memory, and event-loop delay since the last reset (`app.metrics`); `reset` starts it afresh. */
  metrics(reset?: boolean): Promise<RuntimeMetrics>;
  close(): Promise<void>;
}

export interface BerthSystem {
  user: TestUser;
  helperSocket: string;
  /** Whether the built app knows BERTH_DATA_PLANE (else every plane runs the build's one). */
  knowsDataPlane: boolean;
  startApp(plane: string | undefined): Promise<BerthApp>;
  /** `berth run -p PUBLISH -- ARGV` as berth-test (a home of its own), with `env` for CMD. */
  run(publish: string, argv: string[], env: Record<string, string>, shown: string): Started;
  /** Stops every app started so far (before the memory figures, which start fresh ones). */
  closeApps(): Promise<void>;
  /** A directory berth-test owns (for what a process run as that user writes). */
  userDir(name: string): string;
  close(): Promise<void>;
}

/** Resolves with the first stdout line of `child` that parses as JSON; rejects if it exits first. */
function firstJsonLine<T>(child: Started): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: string): void => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as T);
      } catch {
        reject(new Error(`not JSON: ${out.slice(0, 300)}`));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code}: ${child.output().slice(-1000)}`)));
  });
}

function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Sets up the app folder, berth-test and the root helper under `dir` (root's, 0755). */
export async function startBerthSystem(dir: string, distDir: string): Promise<BerthSystem> {
  const user = ensureUser(TEST_USERS.test);
  // The app as installed: readable by the user whatever the checkout's parent folders allow (as the tests' global setup).
  const app = join(dir, 'app');
  for (const part of ['cli', 'helper', 'renderer']) cpSync(join(distDir, part), join(app, 'dist', part), { recursive: true });
  mkdirSync(join(app, 'dist/bench'), { recursive: true });
  cpSync(join(distDir, 'bench/app-probe.js'), join(app, 'dist/bench/app-probe.js'));
  chmodRecursive(app);
  const berth = join(app, 'dist/cli/berth.js');
  alias(berth, 'berth');
  alias(`${process.execPath} berth`, 'berth');
  const knowsDataPlane = readFileSync(berth, 'utf8').includes('BERTH_DATA_PLANE');

  // The helper's socket directory is root's alone but for the socket (the helper refuses anything else).
  const helperDir = join(dir, 'helper');
  mkdirSync(helperDir, { mode: 0o755 });
  const helperSocket = join(helperDir, 'helper.sock');
  alias(helperSocket, '$HELPER_SOCKET');
  alias(join(app, 'dist/helper/berth-helper.js'), 'dist/helper/berth-helper.js');
  const helper = start([
    process.execPath,
    join(app, 'dist/helper/berth-helper.js'),
    'serve',
    '--socket',
    helperSocket,
    '--allow-uid',
    String(user.uid),
    '--audit-log',
    join(helperDir, 'audit.log'),
    '--state-dir',
    join(helperDir, 'state'),
  ]);
  for (let i = 0; i < 400 && !/serving on/.test(helper.output()); i++) {
    if (helper.exitCode !== null) throw new Error(`the helper exited: ${helper.output().slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!/serving on/.test(helper.output())) throw new Error(`the helper did not start: ${helper.output().slice(-1000)}`);

  const userDir = (name: string): string => {
    const path = join(dir, name);
    if (!existsSync(path)) mkdirSync(path, { mode: 0o755 });
    chownSync(path, user.uid, user.gid);
    return path;
  };
  const apps: BerthApp[] = [];
  let homes = 0;

  const startApp = async (plane: string | undefined): Promise<BerthApp> => {
    const home = mkdtempSync(join(dir, `home-${homes++}-`));
    chownSync(home, user.uid, user.gid);
    const env = ['BERTH_LOOP_DELAY=1', ...(plane === undefined ? [] : [`BERTH_DATA_PLANE=${plane}`])];
    const asUser = (extra: string[] = []): string[] => [...asUserPrefix(user, home), ...extra];
    const child = start(
      [...asUser(env), process.execPath, berth, 'app', '--json', '--helper-socket', helperSocket],
      undefined,
      `${env.join(' ')} berth app --json --helper-socket ${helperSocket}   # as ${user.name}`,
    );
    await firstJsonLine<{ url: string }>(child);
    const probe = new LineChild(start([...asUser(), process.execPath, join(app, 'dist/bench/app-probe.js')], undefined, `node dist/bench/app-probe.js   # as ${user.name}: app.metrics over the control socket`));
    await probe.next();
    const cli = (args: string[]): Promise<CliResult> => {
      recordLine(`berth ${args.join(' ')}   # as ${user.name}`);
      const [file, ...rest] = asUser([process.execPath, berth, ...args]);
      return finished(spawn(file!, rest, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' }));
    };
    const one: BerthApp = {
      plane,
      pid: child.pid!,
      cli,
      async publish(mapping) {
        const added = await cli(['ports', 'add', mapping, '--json']);
        if (added.code !== 0) throw new Error(`berth ports add ${mapping} failed (${added.code}): ${added.stderr.trim() || added.stdout.trim()}`);
        return JSON.parse(added.stdout) as MappingStatus;
      },
      async metrics(reset = false) {
        const answer = JSON.parse(await probe.ask(reset ? 'reset' : 'read')) as RuntimeMetrics | { error: string };
        if ('error' in answer) throw new Error(`app.metrics: ${answer.error}`);
        return answer;
      },
      async close() {
        probe.child.stdin!.end();
        await stop(probe.child);
        await stop(child);
      },
    };
    apps.push(one);
    return one;
  };

  return {
    user,
    helperSocket,
    knowsDataPlane,
    startApp,
    userDir,
    run(publish, argv, env, shown) {
      const home = mkdtempSync(join(dir, `home-${homes++}-`));
      chownSync(home, user.uid, user.gid);
      const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      return start([...asUserPrefix(user, home), ...vars, process.execPath, berth, 'run', '-p', publish, '--helper-socket', helperSocket, '--', ...argv], undefined, shown);
    },
    async closeApps() {
      for (const one of apps.splice(0)) await one.close();
    },
    async close() {
      for (const one of apps.splice(0)) await one.close();
      await stop(helper);
    },
  };
}

function chmodRecursive(path: string): void {
  // a+rX: the user reads every file and enters every folder; nothing becomes writable.
  spawnSyncChecked('chmod', ['-R', 'a+rX', path]);
  chmodSync(path, 0o755);
}

function spawnSyncChecked(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
}
