import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/constants';
import { freshHome } from '../../../test/support/user-home';
import { safeScratchDir } from '../../../test/support/scratch';
import { startActivator } from '../../../test/support/socket-activator';
import { JsonLines, spawnFixture } from '../ports/test-support';
import type { HelperStatus } from '../helper-status';
import { diagnoseHelper } from '../../../common/helper/diagnosis';
import { HelperProbeCache, listensAt } from './helper-probe-cache';

/**
 * The backend's periodic refresh against a socket-activated helper that
 * exits when idle: the real Backend as the test user, the real helper as
 * root, and an activator that holds the socket between helper lives as
 * systemd does. Every helper start is a connection someone made, so the
 * activator's count of starts is the count of wake-ups.
 */
const users = inject('users');
const IDLE_EXIT_MS = 200;
const REFRESH_MS = 100;
/** Refresh periods watched for a wake-up that must not come. */
const PERIODS = 15;

let root: string;
let socketPath: string;
let configPath: string;
let stateDir: string;
const running: ChildProcess[] = [];

beforeAll(() => {
  root = safeScratchDir('berth-wakeups');
  mkdirSync(join(root, 'run'), { mode: 0o755 });
  stateDir = join(root, 'state');
  mkdirSync(stateDir, { mode: 0o755 });
  socketPath = join(root, 'run/helper.sock');
  configPath = join(root, 'helper.json');
  writeFileSync(configPath, JSON.stringify({ socketPath, allowUid: users.test.uid, limits: { idleExitMs: IDLE_EXIT_MS } }), { mode: 0o644 });
});

afterEach(() => {
  for (const child of running.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
});

async function activate(at = socketPath): Promise<JsonLines> {
  const child = await startActivator(
    at,
    [process.execPath, join(inject('fixturesDir'), 'socket-activator.js')],
    [process.execPath, join(REPO_ROOT, 'dist/helper/berth-helper.js'), 'serve', '--config', configPath],
  );
  running.push(child);
  return new JsonLines(child);
}

const starts = (activator: JsonLines): number => activator.lines.filter((line) => line.event === 'start').length;

/** Resolves after `count` more refreshes of the backend, with the last one's line. */
function refreshesLater(backend: JsonLines, count: number): Promise<Record<string, unknown>> {
  const from = backend.lines.length;
  return backend.next((line) => line.event === 'refreshed' && backend.lines.slice(from).filter((l) => l.event === 'refreshed').length >= count, from);
}

describe('the periodic refresh does not wake an idle helper', () => {
  it('makes no connection while nothing changes, yet sees a stop, a start, an install and the user\u2019s Refresh', async () => {
    let activator = await activate();
    const backend = spawnFixture(
      'idle-backend',
      [JSON.stringify({ home: freshHome(users.test), socketPath, configPath, userModePath: join(root, 'user-mode.json'), stateDir, refreshMs: REFRESH_MS })],
      { user: users.test, stdin: true },
    );
    running.push(backend.child);
    // The first look asks the helper: that starts it once; then it exits, idle.
    expect(await backend.next((line) => line.event === 'ready')).toMatchObject({ helper: 'running' });
    await activator.next((line) => line.event === 'exit');
    expect(starts(activator)).toBe(1);

    // Idle: the refresh keeps running and keeps saying "running", and the helper is not started again.
    const idle = await refreshesLater(backend, PERIODS);
    expect(idle).toMatchObject({ helper: 'running' });
    expect(starts(activator)).toBe(1);

    // Stopped (the socket closed and removed, as systemctl stop does): seen at the next refresh.
    process.kill(-activator.child.pid!, 'SIGKILL');
    await activator.exited;
    rmSync(socketPath);
    const stopped = await backend.next((line) => line.event === 'refreshed' && line.helper !== 'running', backend.lines.length);
    expect(stopped).toMatchObject({ helper: 'not-running', message: expect.stringContaining('The helper is installed but') });

    // Started again: seen, by one connection (which starts the helper), and then quiet again.
    activator = await activate();
    await backend.next((line) => line.event === 'refreshed' && line.helper === 'running', backend.lines.length);
    await activator.next((line) => line.event === 'exit');
    expect(starts(activator)).toBe(1);
    await refreshesLater(backend, PERIODS);
    expect(starts(activator)).toBe(1);

    // Installed (or upgraded): the install record is rewritten, and the helper is asked once.
    writeFileSync(join(stateDir, 'install.json'), JSON.stringify({ version: 1, paths: [] }), { mode: 0o644 });
    await activator.next((line) => line.event === 'start' && line.starts === 2);
    await activator.next((line) => line.event === 'exit' && line.starts === 2);
    await refreshesLater(backend, PERIODS);
    expect(starts(activator)).toBe(2);

    // The user's Refresh always asks.
    backend.child.stdin!.write('{"id":1,"cmd":"refresh"}\n');
    expect(await backend.next((line) => line.id === 1)).toMatchObject({ helper: 'running' });
    expect(starts(activator)).toBe(3);
    backend.child.stdin!.write('{"id":2,"cmd":"close"}\n');
    expect((await backend.exited).code).toBe(0);
  });
});

describe('listensAt', () => {
  it('reads /proc/net/unix: a listening socket, one nobody listens on, and an unreadable table', async () => {
    const path = join(root, 'run/listens.sock');
    const activator = await activate(path);
    expect(listensAt(path, '/proc/net/unix')).toBe(true);
    process.kill(-activator.child.pid!, 'SIGKILL');
    await activator.exited;
    // The file stays, nobody listens.
    expect(listensAt(path, '/proc/net/unix')).toBe(false);
    expect(listensAt(path, join(root, 'no-such-table'))).toBeUndefined();
  });
});

describe('a probe begun before invalidate()', () => {
  /** A status as the probe would answer it. */
  const status = (state: 'running' | 'not-running'): HelperStatus => ({
    state,
    message: state,
    diagnosis: diagnoseHelper(state),
    socketPath: join(root, 'none.sock'),
    bundledVersion: '0.0.0',
  });

  it('is not shared with a later status() (the helper may have come since), and its late answer is not the one kept', async () => {
    const answers: Array<(answer: HelperStatus) => void> = [];
    const cache = new HelperProbeCache({
      probe: () => new Promise<HelperStatus>((resolve) => answers.push(resolve)),
      socketPath: join(root, 'none.sock'),
      installFiles: [],
      unixSocketTable: undefined,
    });
    const before = cache.status();
    // A request just reached the helper: what the running probe will say may be out of date.
    cache.invalidate();
    const after = cache.status();
    expect(answers).toHaveLength(2);
    answers[1]!(status('running'));
    answers[0]!(status('not-running'));
    expect((await after).state).toBe('running');
    expect((await before).state).toBe('not-running');
    expect((await cache.status()).state).toBe('running');
    expect(cache.probes).toBe(2);
  });
});
