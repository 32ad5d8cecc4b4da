import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TestUser } from '../../../test/support/constants';
import { berthIn, freshHome, startApp } from '../../../test/support/app';
import { startHelper, type HelperProcess } from '../../../test/support/processes';
import { userPaths } from '../../../common/user-paths';
import { helperInNamespace, PublisherFixture, spawnFixture, userScratch, type JsonLines, type NetNamespace } from './test-support';

/**
 * A port held by the user's own `berth run`, asked for again, with the real
 * parts: berth run as the unprivileged test user in a home of its own (so
 * its records land where the user's app looks), the real root helper, the
 * backend's publisher, a second berth run, and the running app with the CLI.
 */

const users = inject('users');
const fdServer = (): string[] => [process.execPath, join(inject('fixturesDir'), 'ports-fd-server.js')];
/** What the message calls the fd server: CMD's file name. */
const NODE = basename(process.execPath);

/** berth run's exit code for a failure before CMD starts (main/cli/exit-codes.ts). */
const RUN_FAILED = 1;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const runsDirOf = (home: string, user: TestUser): string => userPaths({ home, uid: user.uid, env: {}, platform: 'linux' }).runsDir;

/** `berth run ARGS` as `user` in their session in `home` (inside `ns` if given); stopped as a terminal would (SIGTERM) after the test. */
function berthRun(user: TestUser, home: string, args: string[], ns?: NetNamespace): JsonLines {
  const run = spawnFixture('ports-run', args, { user, home, ...(ns ? { ns } : {}) });
  cleanups.push(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
    await run.exited;
  });
  return run;
}

/** A berth run that should fail before CMD starts: its exit code and its whole stderr. */
async function refused(run: JsonLines): Promise<{ code: number | null; stderr: string; cmdRan: boolean }> {
  const { code } = await run.exited;
  const stderr = run.child.stderr!;
  await new Promise<void>((resolve) => (stderr.readableEnded ? resolve() : stderr.once('end', () => resolve())));
  return { code, stderr: run.stderr, cmdRan: run.lines.length > 0 };
}

/** Until process `pid` has exited (its sockets closed): a zombie counts as gone. */
async function processGone(pid: number): Promise<void> {
  for (;;) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    if (/^\d+ \(.*\) Z /s.test(stat)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A process of `user`'s that holds no port: alive, theirs (once setpriv has exec'd sleep), and nothing else. */
async function sleeperOf(user: TestUser): Promise<number> {
  const sleeper = spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', 'sleep', '600'], { stdio: 'ignore' });
  cleanups.push(() => sleeper.kill('SIGKILL'));
  const pid = sleeper.pid!;
  while (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sleep') await new Promise((resolve) => setTimeout(resolve, 20));
  expect(statSync(`/proc/${pid}`).uid).toBe(user.uid);
  return pid;
}

/** A record in `user`'s runs folder as their berth run would write it (for the cases no real run can leave). */
function plantRecord(dir: string, user: TestUser, name: string, content: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  chownSync(path, user.uid, user.gid);
  return path;
}

const inUseByRun = (where: string, pid: unknown, on = ''): string => `${where} is in use by "berth run"${on} (${NODE}, pid ${String(pid)}): stop it, or choose another port`;

describe("a port held by the user's own berth run, through the real helper in a private namespace", () => {
  const machine = helperInNamespace(users.test.uid);
  let home: string;
  let runsDir: string;
  beforeAll(() => {
    home = freshHome(users.test);
    runsDir = runsDirOf(home, users.test);
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const runArgs = (listen: string, cmd: string[] = fdServer()): string[] => ['-p', listen, '--helper-socket', machine.helper.socketPath, '--', ...cmd];

  async function publisher(): Promise<PublisherFixture> {
    const scratch = userScratch(users.test);
    const fixture = PublisherFixture.start(users.test, machine.ns);
    cleanups.push(async () => {
      await fixture.stop();
      scratch.remove();
    });
    expect(await fixture.call('open', { mappingsPath: join(scratch.dir, 'mappings.json'), helperSocket: machine.helper.socketPath, runsDir })).toMatchObject({ ok: true });
    return fixture;
  }

  it('is named, with its pid, to a second berth run and to the backend; once it stops, the port is theirs', async () => {
    const first = berthRun(users.test, home, runArgs('127.0.0.1:80'), machine.ns);
    const ready = await first.next((line) => 'ready' in line);
    expect(ready).toMatchObject({ ready: true, uid: users.test.uid });
    // The record is the run's own, in the user's runtime folder, naming CMD (not berth run) as the holder.
    const recordPath = join(runsDir, `${first.child.pid!}.json`);
    expect(JSON.parse(readFileSync(recordPath, 'utf8'))).toEqual({
      version: 1,
      runPid: first.child.pid,
      pid: ready.pid,
      command: NODE,
      listen: [{ address: '127.0.0.1', port: 80 }],
    });

    const second = await refused(berthRun(users.test, home, runArgs('127.0.0.1:80', ['sh', '-c', 'echo CMD-RAN']), machine.ns));
    expect(second).toEqual({ code: RUN_FAILED, stderr: `berth run: ${inUseByRun('127.0.0.1:80', ready.pid)}\n`, cmdRan: false });
    // The any-address is held by it too (Linux refuses 0.0.0.0:80 beside a listener on 127.0.0.1:80): said with where it listens.
    const wildcard = await refused(berthRun(users.test, home, runArgs('0.0.0.0:80', ['sh', '-c', 'echo CMD-RAN']), machine.ns));
    expect(wildcard.stderr).toBe(`berth run: ${inUseByRun('0.0.0.0:80', ready.pid, ' on 127.0.0.1:80')}\n`);

    const backend = await publisher();
    const spec = { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: 8080 } };
    expect(await backend.call('add', { spec })).toMatchObject({ ok: false, code: 'PORT_IN_USE', message: inUseByRun('127.0.0.1:80', ready.pid) });
    expect(await backend.call('list')).toMatchObject({ ok: true, list: [] });

    // The fix works: stopped as a terminal would, it takes its record with it and the port is free.
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 128 + 15, signal: null });
    expect(existsSync(recordPath)).toBe(false);
    expect(await backend.call('add', { spec })).toMatchObject({ ok: true, status: { state: 'listening', via: 'helper' } });
  });

  it('is still named when berth run was killed but CMD serves on; once CMD is gone too, the record left behind names nobody', async () => {
    const first = berthRun(users.test, home, runArgs('127.0.0.1:80'), machine.ns);
    const ready = await first.next((line) => 'ready' in line);
    const cmd = ready.pid as number;
    cleanups.push(() => (existsSync(`/proc/${cmd}`) ? process.kill(cmd, 'SIGKILL') : undefined));
    first.child.kill('SIGKILL');
    await first.exited;
    const recordPath = join(runsDir, `${first.child.pid!}.json`);
    expect(existsSync(recordPath)).toBe(true); // a killed run cannot take its record back

    const whileServing = await refused(berthRun(users.test, home, runArgs('127.0.0.1:80'), machine.ns));
    expect(whileServing.stderr).toBe(`berth run: ${inUseByRun('127.0.0.1:80', cmd)}\n`);

    // CMD gone, and another program (root's) takes the port: the stale record must not name anyone.
    process.kill(cmd, 'SIGKILL');
    await processGone(cmd);
    const squatter = spawnFixture('ports-http', ['serve', '127.0.0.1', '80'], { ns: machine.ns });
    cleanups.push(async () => {
      squatter.child.kill('SIGTERM');
      await squatter.exited;
    });
    await squatter.next((line) => line.ready === true);
    // And a record naming a live process of the user's that holds no socket on the port (a reused pid) names nobody either.
    const sleeper = await sleeperOf(users.test);
    plantRecord(runsDir, users.test, `${sleeper}.json`, JSON.stringify({ version: 1, runPid: sleeper, pid: sleeper, command: 'nginx', listen: [{ address: '127.0.0.1', port: 80 }] }));

    const stale = await refused(berthRun(users.test, home, runArgs('127.0.0.1:80'), machine.ns));
    expect(stale).toEqual({ code: RUN_FAILED, stderr: 'berth run: 127.0.0.1:80 is already in use by another program\n', cmdRan: false });
    expect(existsSync(recordPath)).toBe(true); // it was there to be read, and was not believed
    const backend = await publisher();
    expect(await backend.call('add', { spec: { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: 8080 } } })).toMatchObject({
      ok: false,
      code: 'PORT_IN_USE',
      message: '127.0.0.1:80 is already in use by another program',
    });
  });

  it("never names another user's berth run, even from a copy of its record in the user's own folder", async () => {
    const otherHome = freshHome(users.other);
    cleanups.push(() => rmSync(otherHome, { recursive: true, force: true }));
    // A port the other user binds alone (no helper): 127.0.0.1:18081 in this namespace.
    const theirs = berthRun(users.other, otherHome, ['-p', '127.0.0.1:18081', '--', ...fdServer()], machine.ns);
    const ready = await theirs.next((line) => 'ready' in line);
    expect(ready).toMatchObject({ ready: true, uid: users.other.uid });
    const theirRecord = join(runsDirOf(otherHome, users.other), `${theirs.child.pid!}.json`);
    expect(existsSync(theirRecord)).toBe(true);

    const generic = 'berth run: 127.0.0.1:18081 is already in use by another program\n';
    expect((await refused(berthRun(users.test, home, ['-p', '127.0.0.1:18081', '--', ...fdServer()], machine.ns))).stderr).toBe(generic);
    const copy = plantRecord(runsDir, users.test, basename(theirRecord), readFileSync(theirRecord, 'utf8'));
    cleanups.push(() => rmSync(copy, { force: true }));
    expect((await refused(berthRun(users.test, home, ['-p', '127.0.0.1:18081', '--', ...fdServer()], machine.ns))).stderr).toBe(generic);
    const backend = await publisher();
    expect(await backend.call('add', { spec: { address: '127.0.0.1', port: 18081, target: { host: '127.0.0.1', port: 8080 } } })).toMatchObject({
      ok: false,
      message: '127.0.0.1:18081 is already in use by another program',
    });
  });
});

/** A port below 1024 no other test file uses in the suite's shared namespace. */
const LOW_PORT = 471;

describe("a port held by the user's own berth run, asked for in the running app and with berth ports add", () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
  });
  afterAll(async () => {
    await helper.stop();
  });

  it('gets the same sentence in the CLI and in the app, and the port once the run stops', async () => {
    const home = freshHome(users.test);
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const app = await startApp(users.test, home, ['--helper-socket', helper.socketPath]);
    cleanups.push(() => app.stop());
    const run = berthRun(users.test, home, ['-p', `127.0.0.1:${LOW_PORT}`, '--helper-socket', helper.socketPath, '--', ...fdServer()]);
    const ready = await run.next((line) => 'ready' in line);
    const said = inUseByRun(`127.0.0.1:${LOW_PORT}`, ready.pid);

    const cli = await berthIn(users.test, home, ['ports', 'add', `${LOW_PORT}:8080`]);
    expect(cli).toMatchObject({ code: 1, stderr: `berth ports: ${said}\n` });
    const json = await berthIn(users.test, home, ['ports', 'add', `${LOW_PORT}:8080`, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'PORT_IN_USE', message: said } });
    // The port panel's add calls this same method.
    expect(await app.call('ports.add', { address: '127.0.0.1', port: LOW_PORT, target: { host: '127.0.0.1', port: 8080 } })).toEqual({
      ok: false,
      error: { code: 'PORT_IN_USE', message: said },
    });

    run.child.kill('SIGTERM');
    await run.exited;
    const added = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:8080`]);
    expect(added).toMatchObject({ code: 0, stdout: `Published 127.0.0.1:${LOW_PORT} -> 127.0.0.1:8080 (bound by the helper).\n` });
  });
});
