import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { validateRequest } from '../../common/protocol';
import { runFixtureAs, spawnAs, spawnFixtureAs, startHelper, type HelperProcess } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';
import type { TestUser } from '../../test/support/constants';

const users = inject('users');

/** Starts `exe` (a Node) as `user`, idling until killed. */
function idleAs(user: TestUser, exe: string): ChildProcess {
  return spawnAs(user, [exe, '-e', 'setInterval(() => {}, 1000)']);
}

describe('traceProcesses through the real helper', () => {
  let helper: HelperProcess;
  let appPath: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const root = safeScratchDir('berth-trace');
    appPath = join(root, 'Berth');
    mkdirSync(appPath, { mode: 0o755 });
    // A real executable inside the app: what the helper must recognise as Berth.
    copyFileSync(process.execPath, join(appPath, 'berth-app'));
    // Both users enrolled: each may trace, and each sees only their own Berth.
    helper = await startHelper({ allowUid: [users.test.uid, users.other.uid], extraArgs: ['--app', appPath] });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await helper.stop();
  });

  it('says NOT_FOUND when the caller runs no Berth process', async () => {
    const result = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'traceProcesses', '{"seconds":1}']);
    expect(result).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it("samples only the caller's own Berth processes and streams the samples", async () => {
    const mine = idleAs(users.test, join(appPath, 'berth-app'));
    const notBerth = idleAs(users.test, process.execPath);
    const othersBerth = idleAs(users.other, join(appPath, 'berth-app'));
    children.push(mine, notBerth, othersBerth);
    await new Promise((resolve) => setTimeout(resolve, 300)); // let them exec; not a timing assertion
    const result = await runFixtureAs<{
      ok: boolean;
      progress: number;
      result: { processes: Array<{ pid: number; exe: string; threads: number }>; samples: number };
    }>(users.test, 'helper-client', ['request', helper.socketPath, 'traceProcesses', '{"seconds":1}']);
    expect(result.ok).toBe(true);
    expect(result.result.processes.map((p) => p.pid)).toEqual([mine.pid]);
    expect(result.result.processes[0]!.exe).toBe(join(appPath, 'berth-app'));
    expect(result.result.processes[0]!.threads).toBeGreaterThan(0);
    expect(result.result.samples).toBeGreaterThan(0);
    expect(result.progress).toBe(result.result.samples);
    expect(helper.auditEntries()).toContainEqual(expect.objectContaining({ op: 'traceProcesses', result: 'ok', args: { seconds: 1 } }));
    // The other enrolled user, through the same helper, sees its own Berth and not the first user's.
    const theirs = await runFixtureAs<{ ok: boolean; result: { processes: Array<{ pid: number }> } }>(users.other, 'helper-client', [
      'request',
      helper.socketPath,
      'traceProcesses',
      '{"seconds":1}',
    ]);
    expect(theirs.ok).toBe(true);
    expect(theirs.result.processes.map((p) => p.pid)).toEqual([othersBerth.pid]);
  });

  it('drops a process that execs into something else mid-trace (a setuid program, say)', async () => {
    const shell = join(appPath, 'berth-shell');
    copyFileSync('/bin/bash', shell);
    const go = join(appPath, 'go');
    // A Berth process that, once told, execs out of the app: same pid, different program.
    const switcher = spawnAs(users.test, [shell, '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exec /bin/sleep 60`]);
    children.push(switcher);
    const tracer = spawnFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'traceProcesses', '{"seconds":3}']);
    const lines: Array<Record<string, unknown>> = [];
    let buffered = '';
    tracer.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>;
        buffered = buffered.slice(end + 1);
        lines.push(line);
        if (lines.length === 1) writeFileSync(go, ''); // after the first sample: exec now
      }
    });
    await new Promise((resolve) => tracer.once('close', resolve));
    const frames = lines.filter((l) => typeof l.progress === 'object').map((l) => (l.progress as { threads: Array<{ pid: number }> }).threads);
    const outcome = lines[lines.length - 1] as { ok: boolean; result: { processes: Array<{ pid: number }> } };
    expect(outcome.ok).toBe(true);
    expect(outcome.result.processes.map((p) => p.pid)).toContain(switcher.pid);
    expect(frames[0]!.some((t) => t.pid === switcher.pid)).toBe(true);
    expect(frames[frames.length - 1]!.some((t) => t.pid === switcher.pid)).toBe(false);
  });

  it.each([[0], [31], [1.5], ['5'], [-1]])('refuses a duration of %j', (seconds) => {
    expect(() => validateRequest({ id: 1, op: 'traceProcesses', args: { seconds } })).toThrow(/seconds/);
  });

  it('takes no pid from the request', () => {
    expect(() => validateRequest({ id: 1, op: 'traceProcesses', args: { seconds: 1, pid: 1 } })).toThrow(/Unrecognized key/);
  });
});
