import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pkg from '../../package.json';
import { runCliAs } from '../../test/support/cli';
import { freshHome, spawnInHome } from '../../test/support/user-home';
import { spawn } from 'node:child_process';
import { diagnoseHelper } from '../../common/helper/diagnosis';
import { HelperClient } from '../helper-client';
import { finished, firstLine, makeStaleSocket, spawnFixtureAs, squatHelperSocket, startHelper, type HelperProcess } from '../../test/support/processes';
import { runCli } from './cli';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';

const users = inject('users');
/** The bundled CLI, run in a user's own home (`berth run` reads the user's settings). */
const CLI_BUNDLE = (): string => join(inject('fixturesDir'), 'cli/berth.js');

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
    expect(table.stdout).toMatch(new RegExp(`^Helper\\s+The helper, version ${pkg.version.replace(/\./g, '\\.')}, is running\\.$`, 'm'));
    expect(table.stdout).not.toMatch(/^Fix/m);
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
    // No config names this socket: nothing says how it was installed, so the advice is the install, which starts it.
    expect(result.stdout).toContain(`Helper           ${diagnoseHelper('not-running').sentence}\nFix              ${diagnoseHelper('not-running').fix}\n`);
    expect(diagnoseHelper('not-running').sentence).toBe('The helper is not running.');
  });

  it('exits 3 for a user the helper was not installed for, saying so and how to enrol', async () => {
    const result = await runCliAs(users.other, ['helper', 'status', '--socket', helper.socketPath, '--json']);
    expect(result.code).toBe(EXIT.helperUnavailable);
    const notEnrolled = diagnoseHelper('not-enrolled');
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'not-enrolled', message: notEnrolled.sentence, diagnosis: { condition: 'not-enrolled', prompt: 'install' } });
    const table = await runCliAs(users.other, ['helper', 'status', '--socket', helper.socketPath]);
    expect(table.code).toBe(EXIT.helperUnavailable);
    expect(table.stdout).toContain(`Helper           ${notEnrolled.sentence}\nFix              ${notEnrolled.fix}\n`);
    expect(table.stdout).toContain("(it asks for an administrator's password)");
  });

  it("exits 3 with no-permission for an older helper whose socket is one other account's (0600)", async () => {
    const old = await startHelper({ allowUid: users.test.uid });
    // What installs before several users could enrol made: the socket owned by the one user, mode 0600.
    chownSync(old.socketPath, users.test.uid, users.test.gid);
    chmodSync(old.socketPath, 0o600);
    try {
      const result = await runCliAs(users.other, ['helper', 'status', '--socket', old.socketPath, '--json']);
      expect(result.code).toBe(EXIT.helperUnavailable);
      const said = diagnoseHelper('no-permission');
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'no-permission', diagnosis: { condition: 'no-permission', sentence: said.sentence, fix: said.fix, prompt: 'install' } });
      const table = await runCliAs(users.other, ['helper', 'status', '--socket', old.socketPath]);
      expect(table.stdout).toContain(`Helper           ${diagnoseHelper('no-permission').sentence}\nFix              ${diagnoseHelper('no-permission').fix}\n`);
    } finally {
      await old.stop();
    }
  });

  it('an impostor (a socket served by another account, not root): says so, and that installing would not help', async () => {
    const squatter = await squatHelperSocket(users.other);
    const squatPath = squatter.path;
    try {
      const json = await runCliAs(users.test, ['helper', 'status', '--socket', squatPath, '--json']);
      expect(json.code).toBe(EXIT.error);
      const impostor = diagnoseHelper('impostor', { impostorUid: users.other.uid });
      expect(JSON.parse(json.stdout)).toMatchObject({ state: 'error', message: impostor.sentence, diagnosis: { ...impostor, detail: expect.stringContaining(`uid ${users.other.uid}`) } });
      const table = await runCliAs(users.test, ['helper', 'status', '--socket', squatPath]);
      expect(table.stdout).toContain(`Helper           ${impostor.sentence}\nFix              ${impostor.fix}\n`);
      expect(table.stdout).not.toContain('berth helper install');
      // A privileged port through it: refused with the same words, and nothing was asked of the squatter.
      const run = await finished(spawnInHome(users.test, freshHome(users.test), [process.execPath, CLI_BUNDLE(), 'run', '--helper-socket', squatPath, '-p', '127.0.0.1:80', '--', 'true']));
      expect(run.code).toBe(EXIT.helperUnavailable);
      expect(run.stderr).toBe(`berth run: Port 80 needs the privileged helper. ${impostor.sentence} ${impostor.fix}\n`);
    } finally {
      await squatter.stop();
    }
  });

  it('a busy helper (its connection cap is reached): "try again in a moment", not "install it"', async () => {
    const busy = await startHelper({ allowUid: users.test.uid, extraArgs: ['--max-connections', '1'] });
    // Root holds the one connection the helper takes.
    const holder = await HelperClient.connect(busy.socketPath);
    try {
      const json = await runCliAs(users.test, ['helper', 'status', '--socket', busy.socketPath, '--json']);
      const said = diagnoseHelper('busy');
      expect(JSON.parse(json.stdout)).toMatchObject({ state: 'error', diagnosis: { condition: 'busy', sentence: said.sentence, fix: said.fix, prompt: null } });
      const table = await runCliAs(users.test, ['helper', 'status', '--socket', busy.socketPath]);
      expect(table.stdout).toContain(`Helper           ${said.sentence}\nFix              ${said.fix}\n`);
      const run = await finished(spawnInHome(users.test, freshHome(users.test), [process.execPath, CLI_BUNDLE(), 'run', '--helper-socket', busy.socketPath, '-p', '127.0.0.1:80', '--', 'true']));
      expect(run.stderr).toBe(`berth run: Port 80 needs the privileged helper. ${said.sentence} ${said.fix}\n`);
      expect(run.code).toBe(EXIT.helperUnavailable);
    } finally {
      holder.close();
      await busy.stop();
    }
  });

  it('a helper that hangs up before answering (this account is at its connection cap): busy, not "install it"', async () => {
    const capped = await startHelper({ allowUid: users.test.uid, extraArgs: ['--max-connections-per-uid', '1'] });
    const go = join(dir, 'go-capped');
    // berth-test holds the one connection its account may have.
    const holder = spawnFixtureAs(users.test, 'helper-client', ['pause', capped.socketPath, go]);
    try {
      await firstLine(holder);
      const json = await runCliAs(users.test, ['helper', 'status', '--socket', capped.socketPath, '--json']);
      const said = diagnoseHelper('busy');
      expect(JSON.parse(json.stdout)).toMatchObject({
        state: 'error',
        message: said.sentence,
        diagnosis: { condition: 'busy', fix: said.fix, prompt: null, detail: expect.stringContaining('closed the connection') },
      });
    } finally {
      writeFileSync(go, '');
      await finished(holder);
      await capped.stop();
    }
  });

  it('a helper that answers garbage: an error in words, the cause kept in --json only', async () => {
    const garbageDir = mkdtempSync(join(tmpdir(), 'berth-garbage-'));
    chmodSync(garbageDir, 0o755);
    const path = join(garbageDir, 'helper.sock');
    // Root's (this test runs as root), so the peer check passes; its reply is not a frame of the protocol.
    const script = `const s = require('net').createServer((c) => c.end(Buffer.from([0, 0, 0, 5, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b])));
      s.listen(${JSON.stringify(path)}, () => { require('fs').chmodSync(${JSON.stringify(path)}, 0o777); console.log('{"ready":true}'); });`;
    const server = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    await firstLine(server);
    try {
      const json = await runCliAs(users.test, ['helper', 'status', '--socket', path, '--json']);
      expect(json.code).toBe(EXIT.error);
      const said = diagnoseHelper('error');
      expect(JSON.parse(json.stdout)).toMatchObject({ state: 'error', message: said.sentence, diagnosis: { condition: 'error', fix: said.fix, detail: 'the helper sent a malformed reply' } });
      const table = await runCliAs(users.test, ['helper', 'status', '--socket', path]);
      expect(table.stdout).toContain(`Helper           ${said.sentence}\nFix              ${said.fix}\n`);
      expect(table.stdout).not.toContain('malformed');
    } finally {
      server.kill('SIGTERM');
      await finished(server);
      rmSync(garbageDir, { recursive: true, force: true });
    }
  });
});
