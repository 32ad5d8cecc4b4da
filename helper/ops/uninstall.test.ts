import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { INSTALL_RECORD_NAME, type InstallRecord } from '../../common/install-record';
import { opContext } from '../../test/support/op-context';
import { finished, runFixtureAs, spawnFixtureAs, startHelper } from '../../test/support/processes';
import { bindMount } from '../../test/support/namespace';
import { safeScratchDir } from '../../test/support/scratch';
import { generateKeyPair, signPolicy } from '../../common/policy';
import { HelperClient } from '../../main/helper-client';
import { ensureHostsBlock } from './hosts';
import { installSymlinks } from './symlinks';
import { HANDED_OVER_REASON, uninstall, uninstallEverything } from './uninstall';
import { readRemovalRequest, REMOVAL_REQUEST_NAME } from '../daemon/removal-request';

const users = inject('users');
const USER_HOSTS = '127.0.0.1\tlocalhost\r\n# my own line\r\n10.1.2.3  build.lan';

let root: string;
let config: ReturnType<typeof opContext>['config'];
let hostsPath: string;
let installed: string[];

/** Lays out what an install leaves: helper binary, its directory, a service file, the record. */
function fakeInstall(): void {
  mkdirSync(join(root, 'libexec/berth'), { recursive: true, mode: 0o755 });
  mkdirSync(join(root, 'units'), { mode: 0o755 });
  writeFileSync(join(root, 'libexec/berth/berth-helper'), 'binary', { mode: 0o755 });
  writeFileSync(join(root, 'units/berth-helper.service'), '[Service]\n', { mode: 0o644 });
  installed = [join(root, 'libexec/berth/berth-helper'), join(root, 'units/berth-helper.service'), join(root, 'libexec/berth')];
  const record: InstallRecord = {
    version: 1,
    paths: [
      { path: installed[0]!, kind: 'file' },
      { path: installed[1]!, kind: 'file' },
      { path: installed[2]!, kind: 'directory' },
    ],
  };
  mkdirSync(config.stateDir, { mode: 0o755, recursive: true });
  writeFileSync(join(config.stateDir, INSTALL_RECORD_NAME), JSON.stringify(record), { mode: 0o644 });
  writeFileSync(join(config.stateDir, 'policy.json'), '{}', { mode: 0o644 });
}

beforeEach(async () => {
  root = safeScratchDir('berth-uninstall');
  mkdirSync(join(root, 'bin'), { mode: 0o755 });
  // The program the link runs, root's alone (installSymlinks checks it).
  mkdirSync(join(root, 'Berth/resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'Berth/resources/bin/berth'), '#!/bin/sh\n', { mode: 0o755 });
  const context = opContext({ appPath: join(root, 'Berth'), linkDir: join(root, 'bin'), stateDir: join(root, 'state') });
  config = context.config;
  hostsPath = join(root, 'hosts');
  writeFileSync(hostsPath, USER_HOSTS, { mode: 0o644 });
  fakeInstall();
  await installSymlinks({ names: ['berth'] }, context);
  ensureHostsBlock(hostsPath);
});

describe('uninstall', () => {
  it('removes exactly what Berth made, restores the hosts file byte for byte, and is safe twice', () => {
    writeFileSync(join(root, 'bin/someone-elses'), 'keep');
    const first = uninstallEverything(config, { hostsPath, removePolicy: true });
    expect(first.kept).toEqual([]);
    expect(first.removed).toEqual(
      expect.arrayContaining([join(root, 'bin/berth'), `${hostsPath}: the berth block`, ...installed, config.stateDir]),
    );
    for (const path of installed) expect(existsSync(path)).toBe(false);
    expect(existsSync(config.stateDir)).toBe(false);
    expect(readFileSync(hostsPath, 'utf8')).toBe(USER_HOSTS);
    expect(readdirSync(join(root, 'bin'))).toEqual(['someone-elses']);
    expect(readdirSync(join(root, 'units'))).toEqual([]);

    const second = uninstallEverything(config, { hostsPath, removePolicy: true });
    expect(second).toEqual({ scope: 'machine', removed: [], kept: [] });
  });

  it("removes the audit log's rotated files too, and nothing beside them", () => {
    const logDir = join(root, 'log');
    mkdirSync(logDir, { mode: 0o755 });
    for (const name of ['audit.log', 'audit.log.1', 'audit.log.3', 'audit.log.bak', 'helper.log']) writeFileSync(join(logDir, name), 'x\n');
    const withLog = { ...config, auditLogPath: join(logDir, 'audit.log') };
    const outcome = uninstallEverything(withLog, { hostsPath, removePolicy: true });
    expect(outcome.removed).toEqual(expect.arrayContaining([join(logDir, 'audit.log.1'), join(logDir, 'audit.log.3')]));
    // The current file and the helper log go by the install record (not written by this fake install); others' files stay.
    expect(readdirSync(logDir).sort()).toEqual(['audit.log', 'audit.log.bak', 'helper.log']);
  });

  it('leaves foreign files alone and says why', () => {
    // The user replaced our link with their own file, and dropped a file in our directory.
    const link = join(root, 'bin/berth');
    unlinkSync(link);
    writeFileSync(link, 'my berth wrapper');
    writeFileSync(join(root, 'libexec/berth/notes.txt'), 'mine');
    // Our service file was swapped for a symlink owned by a user.
    unlinkSync(installed[1]!);
    symlinkSync('/etc/passwd', installed[1]!);
    lchownSync(installed[1]!, users.test.uid, users.test.gid);

    const outcome = uninstallEverything(config, { hostsPath, removePolicy: true });
    expect(readFileSync(link, 'utf8')).toBe('my berth wrapper');
    expect(readFileSync(join(root, 'libexec/berth/notes.txt'), 'utf8')).toBe('mine');
    expect(outcome.kept).toEqual(
      expect.arrayContaining([
        { path: link, reason: expect.stringContaining("not Berth's") },
        { path: installed[1], reason: expect.stringContaining(`owned by uid ${users.test.uid}`) },
        { path: installed[2], reason: 'holds files Berth did not put there' },
      ]),
    );
    expect(outcome.removed).toContain(installed[0]);
    expect(readFileSync(hostsPath, 'utf8')).toBe(USER_HOSTS);
  });
});

describe("uninstall and the helper's socket", () => {
  /** The socket's folder as the installer records it; the config names the socket in it. */
  function withSocketFolder(): { socketPath: string; folder: string; withSocket: typeof config } {
    const folder = join(root, 'run');
    mkdirSync(folder, { mode: 0o755 });
    const recordPath = join(config.stateDir, INSTALL_RECORD_NAME);
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as InstallRecord;
    record.paths.push({ path: folder, kind: 'directory' });
    writeFileSync(recordPath, JSON.stringify(record), { mode: 0o644 });
    const socketPath = join(folder, 'helper.sock');
    return { socketPath, folder, withSocket: { ...config, socketPath } };
  }

  it('removes the socket a supervisor or launchd still holds, so that its folder goes too', async () => {
    const { socketPath, folder, withSocket } = withSocketFolder();
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
    try {
      const outcome = uninstallEverything(withSocket, { hostsPath, removePolicy: true });
      expect(outcome.removed).toEqual(expect.arrayContaining([socketPath, folder]));
      expect(outcome.kept).toEqual([]);
      expect(existsSync(folder)).toBe(false);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('keeps anything else at the socket\'s name, and so its folder, saying why', () => {
    const { socketPath, folder, withSocket } = withSocketFolder();
    writeFileSync(socketPath, 'not a socket');
    lchownSync(socketPath, users.test.uid, users.test.gid);
    const outcome = uninstallEverything(withSocket, { hostsPath, removePolicy: true });
    expect(outcome.kept).toEqual([
      { path: socketPath, reason: `is now a file owned by uid ${users.test.uid}, not what the installer made` },
      { path: folder, reason: 'holds files Berth did not put there' },
    ]);
    expect(readFileSync(socketPath, 'utf8')).toBe('not a socket');
  });
});

describe('uninstall and the organization policy', () => {
  it('keeps the policy when the user asks, so it cannot be rolled back by deleting it', () => {
    const outcome = uninstallEverything(config, { hostsPath, removePolicy: false });
    expect(readFileSync(join(config.stateDir, 'policy.json'), 'utf8')).toBe('{}');
    expect(outcome.kept).toEqual(
      expect.arrayContaining([
        { path: join(config.stateDir, 'policy.json'), reason: 'the organization policy stays: only root may remove it' },
        { path: config.stateDir, reason: 'holds files Berth did not put there' },
      ]),
    );
    // Everything else is gone all the same.
    for (const path of installed) expect(existsSync(path)).toBe(false);
  });

  it('removes the backup an in-place hosts edit left, with the block', () => {
    writeFileSync(`${hostsPath}.berth-backup`, USER_HOSTS, { mode: 0o644 });
    const outcome = uninstallEverything(config, { hostsPath, removePolicy: true });
    expect(outcome.removed).toContain(`${hostsPath}.berth-backup`);
    expect(existsSync(`${hostsPath}.berth-backup`)).toBe(false);
  });
});

describe('under systemd: the operation hands the removal over', () => {
  /** The context the installed systemd service gives an operation: with the hand-over. */
  function systemdContext(peerUid: number, extra: Partial<typeof config> = {}) {
    let handedOver = 0;
    const context = opContext({ ...config, ...extra }, peerUid);
    return { context: { ...context, handOverRemoval: () => handedOver++ }, handedOver: () => handedOver, after: context.afterReplyActions };
  }
  /** Every path the fake install made, the link and the hosts file, as they are now. */
  const machine = (): Record<string, string | null> =>
    Object.fromEntries(
      [...installed, join(root, 'bin/berth'), hostsPath, join(config.stateDir, 'policy.json')].map((p) => [p, existsSync(p) ? lstatSync(p).mode.toString(8) : null]),
    );

  it("the last account's uninstall records who asked, removes nothing itself, says so, and leaves after its answer", async () => {
    const before = { machine: machine(), hosts: readFileSync(hostsPath, 'utf8') };
    const { context, handedOver, after } = systemdContext(1000);
    const outcome = await uninstall({}, context);
    expect(outcome.result).toEqual({ scope: 'machine', removed: [], kept: [{ path: context.config.socketPath, reason: HANDED_OVER_REASON }] });
    expect(readRemovalRequest(config.stateDir)).toEqual({ request: { version: 1, uid: 1000, requestedAt: expect.any(String) } });
    expect({ machine: machine(), hosts: readFileSync(hostsPath, 'utf8') }).toEqual(before);
    // Not before the answer is out: the server runs this once the reply reached the kernel.
    expect(handedOver()).toBe(0);
    expect(after).toHaveLength(1);
    after[0]!();
    expect(handedOver()).toBe(1);
  });

  it("root's uninstall is recorded as root's", async () => {
    const { context } = systemdContext(0);
    await uninstall({}, context);
    expect(readRemovalRequest(config.stateDir)).toEqual({ request: expect.objectContaining({ uid: 0 }) });
  });

  it('an account that leaves while others stay hands nothing over: the helper stays for them', async () => {
    const { context, after } = systemdContext(1000, { allowUids: [1000, 1001] });
    const outcome = await uninstall({}, context);
    expect(outcome.result.scope).toBe('account');
    expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
    expect(after).toEqual([]);
  });

  it("a managed helper refuses the user's uninstall before recording anything", async () => {
    const before = machine();
    const { context, after } = systemdContext(1000, { orgPublicKey: generateKeyPair().publicKeyPem });
    await expect(Promise.resolve().then(() => uninstall({}, context))).rejects.toMatchObject({ code: 'LOCKED_BY_POLICY' });
    expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
    expect(machine()).toEqual(before);
    expect(after).toEqual([]);
  });

  it('a state dir it must not write in refuses the request: nothing is recorded, nothing handed over', async () => {
    chmodSync(config.stateDir, 0o777);
    try {
      const { context, after } = systemdContext(1000);
      await expect(Promise.resolve().then(() => uninstall({}, context))).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
      expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
      expect(after).toEqual([]);
    } finally {
      chmodSync(config.stateDir, 0o755);
    }
  });
});

describe('uninstall through the real helper', () => {
  it('answers, then exits and takes its socket with it', async () => {
    // The helper edits the constant /etc/hosts: give it this namespace's own copy.
    writeFileSync(join(root, 'etc-hosts'), USER_HOSTS);
    const undo = bindMount(join(root, 'etc-hosts'), '/etc/hosts');
    const helper = await startHelper({
      allowUid: users.test.uid,
      extraArgs: ['--app', join(root, 'Berth'), '--link-dir', join(root, 'bin'), '--state-dir', config.stateDir],
    });
    const reply = await runFixtureAs<{ ok: boolean; result: { scope: string; removed: string[] } }>(users.test, 'helper-client', [
      'request',
      helper.socketPath,
      'uninstall',
      '{}',
    ]);
    expect(reply.ok).toBe(true);
    // The only enrolled account: its uninstall is the machine's.
    expect(reply.result).toMatchObject({ scope: 'machine' });
    expect(reply.result.removed).toEqual(expect.arrayContaining([join(root, 'bin/berth'), ...installed, helper.socketPath]));
    await expect.poll(() => helper.child.exitCode).toBe(0);
    expect(existsSync(helper.socketPath)).toBe(false);
    expect(helper.auditEntries()).toContainEqual(
      expect.objectContaining({ op: 'uninstall', result: 'ok', peer: expect.objectContaining({ uid: users.test.uid }) }),
    );
    undo();
    await helper.stop();
  });
});

describe('a managed install (an organization key recorded)', () => {
  it("refuses the allowed user's uninstall and keeps the policy, its locks, the audit log, links and hosts entries", async () => {
    const org = generateKeyPair();
    const policy = signPolicy(
      {
        organization: 'Example Corp',
        version: 4,
        issued: new Date(Date.now() - 86_400_000).toISOString(),
        expires: new Date(Date.now() + 86_400_000).toISOString(),
        allowedRegistries: ['registry.example.com'],
        lockedSettings: { hostsEntries: true, cliToolsLocation: 'system' },
      },
      org.privateKeyPem,
    );
    for (const dir of ['etc', 'run', 'log']) mkdirSync(join(root, dir), { mode: 0o755 });
    const configPath = join(root, 'etc/helper.json');
    const auditLogPath = join(root, 'log/audit.log');
    const managed = { ...config, orgPublicKey: org.publicKeyPem, socketPath: join(root, 'run/helper.sock'), auditLogPath, allowUids: [users.test.uid] };
    writeFileSync(configPath, JSON.stringify(managed), { mode: 0o644 });
    writeFileSync(join(config.stateDir, 'policy.json'), policy, { mode: 0o644 });
    // The install record lists the config and the audit log, as a real install's does.
    const record = JSON.parse(readFileSync(join(config.stateDir, INSTALL_RECORD_NAME), 'utf8')) as InstallRecord;
    record.paths.unshift({ path: configPath, kind: 'file' }, { path: auditLogPath, kind: 'file' });
    writeFileSync(join(config.stateDir, INSTALL_RECORD_NAME), JSON.stringify(record), { mode: 0o644 });
    // The helper edits the constant /etc/hosts: this namespace's own copy, with Berth's block in it.
    writeFileSync(join(root, 'etc-hosts'), USER_HOSTS);
    ensureHostsBlock(join(root, 'etc-hosts'));
    const undo = bindMount(join(root, 'etc-hosts'), '/etc/hosts');
    // The hosts file and link folder this test set up are the ones the helper must see.
    const helper = await startHelper({ allowUid: users.test.uid, configFile: configPath, privateSystemPaths: false });
    try {
      const registry = async (): Promise<Record<string, unknown>> => {
        const run = await finished(spawnFixtureAs(users.test, 'policy-settings', ['registry', configPath, 'check', 'docker.io/library/nginx', '--json']));
        return { exit: run.code, ...(JSON.parse(run.stdout) as Record<string, unknown>) };
      };
      const before = { registry: await registry(), files: snapshot([configPath, join(config.stateDir, 'policy.json'), '/etc/hosts']) };
      expect(before.registry).toMatchObject({ exit: 1, allowed: false });

      const reply = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'uninstall', '{}']);
      expect(reply).toMatchObject({ ok: false, code: 'LOCKED_BY_POLICY', message: expect.stringContaining('managed by Example Corp') });
      expect(reply.message).toContain('only an administrator can remove it');

      // Nothing was touched: key, cache, hosts, link, audit log; the locks and the allowlist answer as before.
      expect(snapshot([configPath, join(config.stateDir, 'policy.json'), '/etc/hosts'])).toEqual(before.files);
      expect(lstatSync(join(root, 'bin/berth')).isSymbolicLink()).toBe(true);
      expect(await registry()).toEqual(before.registry);
      const removeHosts = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'removeHosts', '{}']);
      expect(removeHosts).toMatchObject({ ok: false, code: 'LOCKED_BY_POLICY' });
      expect(helper.auditEntries()).toContainEqual(
        expect.objectContaining({ op: 'uninstall', result: 'LOCKED_BY_POLICY', peer: expect.objectContaining({ uid: users.test.uid }) }),
      );
      expect(helper.child.exitCode).toBeNull();

      // Root (the admin, MDM, the app's password prompt) still removes it all.
      const client = await HelperClient.connect(helper.socketPath);
      const removed = await client.request('uninstall', {});
      client.close();
      expect(removed.removed).toEqual(expect.arrayContaining([configPath, join(config.stateDir, 'policy.json'), join(root, 'bin/berth')]));
      await expect.poll(() => helper.child.exitCode).toBe(0);
      expect(readFileSync('/etc/hosts', 'utf8')).toBe(USER_HOSTS);
    } finally {
      undo();
      await helper.stop();
    }
  });
});

/** Each file's bytes, to show nothing changed. */
function snapshot(paths: string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [p, readFileSync(p, 'utf8')]));
}
