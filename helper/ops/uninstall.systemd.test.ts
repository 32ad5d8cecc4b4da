import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installLayout } from '../../common/paths';
import { snapshotUpper, upperChanges, type UpperSnapshot } from '../../test/support/overlay-diff';
import { bootSystemdSandbox, type SystemdSandbox } from '../../test/support/systemd-sandbox';
import { allowedChurn, FIXTURES, HelperInSandbox, SOCKET, UNIT } from '../../test/support/systemd-helper';

/**
 * A user's own `uninstall`, asked over the socket as the enrolled account,
 * while the helper runs as the systemd service: inside the unit it wants to
 * remove, and inside that unit's sandbox. The helper records the request and
 * exits; the unit's finisher (ExecStopPost=+, outside the sandbox) completes
 * the removal. Debian's systemd as PID 1 in a sandbox
 * (test/support/systemd-sandbox.ts); one sandbox, the cases in order.
 */

const users = inject('users');
const layout = installLayout('linux');
const REMOVAL_REQUEST = `${layout.stateDir}/removal.json`;

interface UninstallReply {
  ok: boolean;
  code?: string;
  message?: string;
  result?: { scope?: string; removed: string[]; kept: Array<{ path: string; reason: string }> };
}

describe("a user's uninstall under systemd (PID 1 in a sandbox)", () => {
  let sandbox: SystemdSandbox;
  let helper: HelperInSandbox;
  let other: HelperInSandbox;
  let baseline: UpperSnapshot;

  /** What the overlay shows changed since `since`, but the journal. */
  const changedSince = (since: UpperSnapshot): string[] => upperChanges(since, snapshotUpper(sandbox.upperDir), sandbox.lowerDir, allowedChurn);

  /**
   * The finisher runs after the helper's exit, in a transient unit of systemd's: waits until it
   * has started (the state dir is its work) and ended. Not a timing assertion: states are checked after.
   */
  const removalFinished = async (): Promise<void> => {
    const running = async (): Promise<boolean> =>
      ['active', 'activating', 'deactivating'].includes((await helper.show(`${UNIT}-removal.service`, ['ActiveState'])).ActiveState ?? '');
    for (let i = 0; i < 600 && ((await helper.exists(layout.stateDir)) || (await running())); i++) await new Promise((r) => setTimeout(r, 50));
  };

  beforeAll(async () => {
    sandbox = await bootSystemdSandbox({ binds: { [inject('fixturesDir')]: FIXTURES } });
    helper = new HelperInSandbox(sandbox, users.test);
    other = new HelperInSandbox(sandbox, users.other);
    await helper.prepareApp();
    baseline = snapshotUpper(sandbox.upperDir);
    await helper.install();
    // What the user set up through the helper, for the uninstall to take away.
    expect(await helper.client(['request', SOCKET, 'ensureHosts', '{}'])).toMatchObject({ ok: true });
    expect(await helper.client(['request', SOCKET, 'installSymlinks', '{"names":["berth"]}'])).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('refuses an account that is not enrolled, and a malformed uninstall, changing nothing but the audit log', async () => {
    const before = snapshotUpper(sandbox.upperDir);
    const auditLines = (await sandbox.run(['cat', layout.auditLogPath])).trim().split('\n').length;
    const pid = await helper.mainPid();
    expect(pid).toBeGreaterThan(1);

    const stranger = await other.client<UninstallReply>(['request', SOCKET, 'uninstall', '{}']);
    expect(stranger).toMatchObject({ ok: false, code: 'UNAUTHORIZED', message: expect.stringContaining(`not set up for your account (uid ${users.other.uid})`) });
    const malformed = await helper.client<UninstallReply>(['request', SOCKET, 'uninstall', '{"everything":true}']);
    expect(malformed).toMatchObject({ ok: false, code: 'BAD_REQUEST', message: expect.stringContaining('Unrecognized key: "everything"') });

    // The same helper still serves, the units are as installed, and no removal was recorded.
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: true, uid: users.test.uid });
    expect(await helper.mainPid()).toBe(pid);
    expect(await helper.show(`${UNIT}.socket`, ['ActiveState', 'UnitFileState'])).toEqual({ ActiveState: 'active', UnitFileState: 'enabled' });
    expect(await helper.exists(REMOVAL_REQUEST)).toBe(false);
    // The refusals are on record (that is the audit log's job), and nothing else changed.
    const added = (await sandbox.run(['cat', layout.auditLogPath])).trim().split('\n').slice(auditLines).map((line) => JSON.parse(line) as unknown);
    expect(added).toEqual([
      expect.objectContaining({ op: 'connect', result: 'UNAUTHORIZED', peer: expect.objectContaining({ uid: users.other.uid }) }),
      expect.objectContaining({ op: 'invalid', result: 'BAD_REQUEST', message: expect.stringContaining('"everything"'), peer: expect.objectContaining({ uid: users.test.uid }) }),
    ]);
    expect(changedSince(before)).toEqual([`${layout.auditLogPath}: changed (file)`]);
  });

  it('while another account is enrolled, that account leaves alone: the helper stays, and nothing is handed over', async () => {
    await helper.install(['--uid', String(users.other.uid)]);
    const reply = await other.client<UninstallReply>(['request', SOCKET, 'uninstall', '{}']);
    expect(reply).toMatchObject({ ok: true, result: { scope: 'account' } });
    expect(await helper.exists(REMOVAL_REQUEST)).toBe(false);
    expect(await helper.show(`${UNIT}.socket`, ['ActiveState', 'UnitFileState'])).toEqual({ ActiveState: 'active', UnitFileState: 'enabled' });
    expect(await helper.show(`${UNIT}.service`, ['ActiveState'])).toEqual({ ActiveState: 'active' });
    expect(JSON.parse(await sandbox.run(['cat', layout.configPath]))).toMatchObject({ allowUids: [users.test.uid] });
    expect(await other.client(['hello', SOCKET])).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
  });

  it("the last account's uninstall: the answer says systemd finishes it, and then nothing of Berth is left", async () => {
    const reply = await helper.client<UninstallReply>(['request', SOCKET, 'uninstall', '{}']);
    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    // Nothing was removed by the time it answered, and it says so: the rest happens once it has stopped.
    expect(reply.result).toEqual({
      scope: 'machine',
      removed: [],
      kept: [{ path: SOCKET, reason: expect.stringContaining('removal will finish when the helper stops') }],
    });

    await removalFinished();
    expect(await helper.knownUnits()).toEqual({ loaded: '', files: '' });
    expect((await helper.show('sockets.target', ['Wants'])).Wants).not.toContain(UNIT);
    expect(await helper.show(`${UNIT}.socket`, ['LoadState', 'NeedDaemonReload'])).toEqual({ LoadState: 'not-found', NeedDaemonReload: 'no' });
    expect(await helper.show(`${UNIT}-removal.service`, ['LoadState'])).toEqual({ LoadState: 'not-found' });
    expect(await helper.exists(SOCKET)).toBe(false);
    expect(await helper.exists(layout.socketDir)).toBe(false);
    expect(await helper.exists(layout.helperDir)).toBe(false);
    expect(await helper.exists(layout.configPath)).toBe(false);
    expect(await helper.exists(layout.stateDir)).toBe(false);
    expect(await helper.exists(layout.logDir)).toBe(false);
    expect(await helper.exists('/usr/local/bin/berth')).toBe(false);
    expect(await sandbox.run(['cat', '/etc/hosts'])).not.toContain('berth.internal');
    expect(await helper.helperProcesses()).toBe('');
    // Nothing else changed on the machine: the overlay's upper layer holds nothing but the journal's growth.
    expect(changedSince(baseline)).toEqual([]);
    expect(await sandbox.run(['find', '/run', '/tmp', '-name', '*berth*', '-not', '-path', '/tmp/berth-test-home*'])).toBe('');
    // And the socket is gone for good: nothing starts a helper on the next connection.
    expect(await helper.client(['hello', SOCKET])).toMatchObject({ ok: false, kind: 'unavailable' });
    // The finisher said what it did, and for whom (systemd's journal).
    const journal = await sandbox.run(['journalctl', '--no-pager', '-o', 'cat', '-u', `${UNIT}-removal.service`]);
    expect(journal).toContain(`uninstalled: nothing of Berth is left (uninstall asked by uid ${users.test.uid}`);
  });

  it("root's uninstall over the socket is handed over the same way", async () => {
    await helper.install();
    expect(await helper.client(['request', SOCKET, 'ensureHosts', '{}'])).toMatchObject({ ok: true });
    // As root (the admin's own client): no account to unenrol, the whole helper goes.
    const asRoot = await sandbox.exec(['node', `${FIXTURES}/helper-client.js`, 'request', SOCKET, 'uninstall', '{}']);
    expect(JSON.parse(asRoot.stdout.trim().split('\n').pop()!)).toMatchObject({
      ok: true,
      result: { scope: 'machine', removed: [], kept: [{ path: SOCKET }] },
    });
    await removalFinished();
    expect(await helper.knownUnits()).toEqual({ loaded: '', files: '' });
    expect(await helper.helperProcesses()).toBe('');
    expect(await sandbox.run(['cat', '/etc/hosts'])).not.toContain('berth.internal');
    expect(changedSince(baseline)).toEqual([]);
  });
});
