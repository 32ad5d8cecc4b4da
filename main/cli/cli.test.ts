import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pkg from '../../package.json';
import { runCliAs } from '../../test/support/cli';
import { makeStaleSocket, startHelper, type HelperProcess } from '../../test/support/processes';
import { runCli } from './cli';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';

const users = inject('users');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await runCli(args, io);
  return { code, out, err };
}

describe('berth CLI: usage', () => {
  it('prints help and the version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const command of ['status', 'ports', 'run', 'app', 'settings', 'helper', 'diagnose', 'registry check', 'policy']) expect(help.out).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect((await run(['--version'])).out).toBe(`berth ${pkg.version} (Node ${process.versions.node})\n`);
    const helperHelp = await run(['helper', 'status', '--help']);
    expect(helperHelp.code).toBe(EXIT.ok);
    expect(helperHelp.out).toContain('--json');
  });

  it.each([
    [[], /Usage: berth/],
    [['launch'], /unknown command "launch"/],
    [['helper', 'start'], /unknown helper command "start"/],
    [['helper', 'status', '--sockt', '/x'], /Unknown option '--sockt'/],
  ])('refuses %j with exit 64 and a pointer to --help', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toMatch(message);
  });
});

describe('berth helper status, as an unprivileged user', () => {
  let helper: HelperProcess;
  let dir: string;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
    dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    chmodSync(dir, 0o755);
  });
  afterAll(async () => {
    await helper.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a running helper, as a table and as JSON', async () => {
    const table = await runCliAs(users.test, ['helper', 'status', '--socket', helper.socketPath]);
    expect(table.code).toBe(EXIT.ok);
    expect(table.stdout).toMatch(/^State\s+running$/m);
    expect(table.stdout).toMatch(new RegExp(`^Helper version\\s+${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    const json = await runCliAs(users.test, ['helper', 'status', '--socket', helper.socketPath, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      state: 'running',
      helper: { protocol: 1, helperVersion: pkg.version, capabilities: expect.arrayContaining(['bindPort', 'uninstall']) },
    });
  });

  it('exits 3 when the helper is not installed', async () => {
    const result = await runCliAs(users.test, ['helper', 'status', '--socket', join(dir, 'none.sock'), '--json']);
    expect(result.code).toBe(EXIT.helperUnavailable);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'not-installed' });
  });

  it('exits 3 when the helper is not running (a stale socket)', async () => {
    makeStaleSocket(join(dir, 'stale.sock'));
    chmodSync(join(dir, 'stale.sock'), 0o777);
    const result = await runCliAs(users.test, ['helper', 'status', '--socket', join(dir, 'stale.sock')]);
    expect(result.code).toBe(EXIT.helperUnavailable);
    expect(result.stdout).toMatch(/^State\s+not-running$/m);
  });

  it('exits 3 for a user the helper was not installed for, saying so and how to enrol', async () => {
    const result = await runCliAs(users.other, ['helper', 'status', '--socket', helper.socketPath, '--json']);
    expect(result.code).toBe(EXIT.helperUnavailable);
    expect(JSON.parse(result.stdout)).toMatchObject({
      state: 'not-enrolled',
      message: "Berth's helper is installed on this machine, but not for your account",
    });
    const table = await runCliAs(users.other, ['helper', 'status', '--socket', helper.socketPath]);
    expect(table.code).toBe(EXIT.helperUnavailable);
    expect(table.stdout).toMatch(/^State\s+not-enrolled$/m);
    expect(table.stdout).toMatch(/^To use it\s+berth helper install \(enrols your account; asks for an administrator's password\)$/m);
  });

  it("exits 3 with no-permission for an older helper whose socket is one other account's (0600)", async () => {
    const old = await startHelper({ allowUid: users.test.uid });
    // What installs before several users could enrol made: the socket owned by the one user, mode 0600.
    chownSync(old.socketPath, users.test.uid, users.test.gid);
    chmodSync(old.socketPath, 0o600);
    try {
      const result = await runCliAs(users.other, ['helper', 'status', '--socket', old.socketPath, '--json']);
      expect(result.code).toBe(EXIT.helperUnavailable);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'no-permission' });
    } finally {
      await old.stop();
    }
  });
});
