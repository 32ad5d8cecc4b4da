import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { HelperClient } from '../../main/helper-client';
import { REPO_ROOT } from '../../test/support/constants';
import { finished, runFixtureAs, spawnAs, spawnFixtureAs } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';

/**
 * Idle exit with real socket activation: Debian's systemd-socket-activate
 * binds the socket and execs the real helper bundle on the first
 * connection, with LISTEN_FDS, as a systemd .socket unit does. It serves one
 * helper's life; a loop of it stands in for systemd starting the helper
 * again (systemd itself keeps the socket open in between).
 */
const users = inject('users');
/** Short, so the tests wait little; the helper's default is 30 s. */
const IDLE_EXIT_MS = 300;
const IDLE_LINE = `berth-helper: idle for ${IDLE_EXIT_MS} ms: exiting; the service manager keeps the socket and starts the helper on the next connection`;
const HELPER = join(REPO_ROOT, 'dist/helper/berth-helper.js');

let root: string;
let appPath: string;
let configPath: string;
const started: ChildProcess[] = [];

beforeAll(() => {
  root = safeScratchDir('berth-idle-exit');
  appPath = join(root, 'Berth');
  mkdirSync(appPath, { mode: 0o755 });
  // A real executable inside the app, for the trace to find (as in trace.test.ts).
  copyFileSync(process.execPath, join(appPath, 'berth-app'));
  mkdirSync(join(root, 'run'), { mode: 0o755 });
  configPath = join(root, 'helper.json');
});

afterEach(() => {
  // Only what this file started, by process group.
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
});

function writeConfig(socketPath: string): void {
  const config = { socketPath, allowUid: users.test.uid, appPath, auditLogPath: join(root, 'audit.log'), limits: { idleExitMs: IDLE_EXIT_MS } };
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o644 });
}

interface Activator {
  child: ChildProcess;
  output(): string;
  count(text: string): number;
}

/** systemd-socket-activate running the helper, once or (loop) again after each exit. */
function activate(socketPath: string, loop: boolean): Activator {
  const once = 'systemd-socket-activate -l "$0" "$@"';
  const script = loop ? `while :; do ${once} || exit; done` : `exec ${once}`;
  const child = spawn('bash', ['-c', script, socketPath, process.execPath, HELPER, 'serve', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  started.push(child);
  let output = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return { child, output: () => output, count: (text) => output.split(text).length - 1 };
}

async function until(what: string, condition: () => boolean, output: () => string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}; output so far:\n${output()}`);
}

/** The tool makes the socket 0644, and cannot be told otherwise: open it to the test user (the helper still checks every peer's uid). */
function openToUsers(socketPath: string): void {
  chmodSync(socketPath, 0o666);
}

function auditEntries(): Array<Record<string, unknown>> {
  return readFileSync(join(root, 'audit.log'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('idle exit on a socket from the service manager', () => {
  it('exits 0 after limits.idleExitMs with one line, and leaves the socket where the manager made it', async () => {
    const socketPath = join(root, 'run/once.sock');
    writeConfig(socketPath);
    const manager = activate(socketPath, false);
    const done = finished(manager.child);
    await until('the socket', () => manager.output().includes('Listening on'), manager.output);
    const inode = statSync(socketPath).ino;
    const client = await HelperClient.connect(socketPath);
    expect(client.info.protocol).toBe(1);
    client.close();
    // The tool execs the helper, so its exit is the helper's.
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('berth-helper:'))).toEqual([IDLE_LINE]);
    // Not unlinked: under systemd the same socket takes the next connection.
    expect(statSync(socketPath).ino).toBe(inode);
  });

  it('stays while a client keeps its connection open, exits once it closes, and the next connection is served', async () => {
    const socketPath = join(root, 'run/open.sock');
    writeConfig(socketPath);
    const manager = activate(socketPath, true);
    await until('the socket', () => manager.count('Listening on') === 1, manager.output);
    const client = await HelperClient.connect(socketPath);
    // Several idle periods with the connection open and silent (well within limits.idleTimeoutMs).
    await sleep(IDLE_EXIT_MS * 4);
    expect(manager.count(IDLE_LINE)).toBe(0);
    // Still the same helper, on the same connection.
    expect((await client.request('hello', { protocol: [1, 1], client: 'idle-test' })).protocol).toBe(1);
    client.close();
    await until('the idle exit', () => manager.count(IDLE_LINE) === 1, manager.output);
    await until('the socket again', () => manager.count('Listening on') === 2, manager.output);
    openToUsers(socketPath);
    // A user's request after the idle exit starts a new helper, which serves it.
    const hello = await runFixtureAs(users.test, 'helper-client', ['hello', socketPath]);
    expect(hello).toMatchObject({ ok: true, uid: users.test.uid });
    expect(manager.count('serving on')).toBe(2);
  });

  it('does not exit during a trace, even after its client hung up: the trace runs to its end first', async () => {
    const socketPath = join(root, 'run/trace.sock');
    writeConfig(socketPath);
    const manager = activate(socketPath, false);
    const done = finished(manager.child);
    await until('the socket', () => manager.output().includes('Listening on'), manager.output);
    openToUsers(socketPath);
    const berth = spawnAs(users.test, [join(appPath, 'berth-app'), '-e', 'setInterval(() => {}, 1000)']);
    started.push(berth);
    await sleep(300); // let it exec; not a timing assertion
    // Keeps the helper up between the two traces (a client takes longer to start than the idle period).
    const keeper = await HelperClient.connect(socketPath);
    // A 2 s trace (eight samples), far longer than the idle period.
    const full = await runFixtureAs<{ ok: boolean; result: { samples: number } }>(users.test, 'helper-client', [
      'request',
      socketPath,
      'traceProcesses',
      '{"seconds":2}',
    ]);
    expect(full).toMatchObject({ ok: true, result: { samples: 8 } });
    // Again, but its client hangs up after the first sample, and then the keeper too: only the request is left.
    const tracer = spawnFixtureAs(users.test, 'helper-client', ['request', socketPath, 'traceProcesses', '{"seconds":2}']);
    const first = await new Promise<string>((resolve) => tracer.stdout!.setEncoding('utf8').once('data', resolve));
    expect(first).toContain('"progress"');
    tracer.kill('SIGKILL');
    keeper.close();
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(IDLE_LINE);
    // Both traces ran to their end and were recorded, the second after everyone left: had the helper
    // gone an idle period after that, the second success (folded into a "repeated" line) would be lost.
    const traces = auditEntries().filter((e) => e.op === 'traceProcesses' && e.result === 'ok');
    expect(traces).toHaveLength(2);
    expect(traces[1]).toMatchObject({ repeated: 1 });
    berth.kill('SIGKILL');
  });

  it('stays up with idleExitMs 0, and on a socket it bound itself; refuses a period below 100 ms', async () => {
    const socketPath = join(root, 'run/zero.sock');
    writeFileSync(configPath, JSON.stringify({ socketPath, allowUid: users.test.uid, limits: { idleExitMs: 0 } }), { mode: 0o644 });
    const manager = activate(socketPath, false);
    await until('the socket', () => manager.output().includes('Listening on'), manager.output);
    (await HelperClient.connect(socketPath)).close();
    await sleep(1_000);
    // The tool serves one helper's life: a second connection works only if that helper is still there.
    (await HelperClient.connect(socketPath)).close();
    expect(manager.count('berth-helper: idle')).toBe(0);

    const own = join(root, 'run/own.sock');
    const self = spawn(process.execPath, [HELPER, 'serve', '--socket', own, '--allow-uid', String(users.test.uid), '--idle-exit-ms', '100'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    started.push(self);
    let text = '';
    self.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    await until('the helper', () => text.includes('serving on'), () => text);
    (await HelperClient.connect(own)).close();
    await sleep(1_000);
    // Nothing would start it again, so it does not go.
    (await HelperClient.connect(own)).close();
    expect(text).not.toContain('berth-helper: idle');

    const bad = await finished(
      spawn(process.execPath, [HELPER, 'serve', '--socket', join(root, 'run/x.sock'), '--allow-uid', String(users.test.uid), '--idle-exit-ms', '50'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('must be 0 (stay running) or at least 100 ms');
  });
});
