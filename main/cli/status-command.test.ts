import { diagnoseHelper } from '../../common/helper/diagnosis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pkg from '../../package.json';
import type { Capabilities } from '../../common/api/capabilities';
import { DEFAULT_SETTINGS } from '../../common/settings/schema';
import { USER_MODE_LIMITS } from '../../common/user-mode';
import { startHelper, type HelperProcess } from '../../test/support/processes';
import { gatherCapabilities } from '../core/capabilities/gather';
import { NO_POLICY, sampleReport } from '../core/capabilities/sample-reports';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';
import { statusCommand } from './status-command';

const users = inject('users');

async function run(args: string[], report: () => Promise<Capabilities>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await statusCommand(args, io, { capabilities: report });
  return { code, out, err };
}

describe('berth status against the real helper', () => {
  let helper: HelperProcess;
  let dir: string;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
    dir = mkdtempSync(join(tmpdir(), 'berth-status-'));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
  });
  afterAll(async () => {
    await helper.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const gather = (socket: string) => () =>
    gatherCapabilities({
      settings: DEFAULT_SETTINGS,
      helperSocketPath: socket,
      userModePath: join(dir, 'no-user-mode.json'),
      hostsPath: join(dir, 'hosts'),
      userBinDir: join(dir, 'bin'),
      systemBinDir: join(dir, 'bin'),
      appPath: '/opt/Berth',
      policy: NO_POLICY,
    });

  it('a running helper: a table, exit 0; --json is exactly the report', async () => {
    const table = await run([], gather(helper.socketPath));
    expect(table.code).toBe(EXIT.ok);
    expect(table.out).toMatch(/^Helper {2,}The helper, version .*, is running\.$/m);
    expect(table.out).toMatch(new RegExp(`^Helper version {2,}${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    expect(table.out).toMatch(/^Needs update {2,}no$/m);
    expect(table.out).toMatch(/^Operations {2,}.*bindPort.*traceProcesses/m);
    expect(table.out).toMatch(/^CLI tools missing {2,}berth$/m);
    expect(table.out).toMatch(/^Hosts entries {2,}absent$/m);
    expect(table.out).toMatch(/^Policy {2,}none$/m);
    const json = await run(['--json'], gather(helper.socketPath));
    expect(json.code).toBe(EXIT.ok);
    expect(JSON.parse(json.out)).toEqual(await gather(helper.socketPath)());
  });

  it('no helper installed: exit 3, as "berth helper status"', async () => {
    const result = await run([], gather(join(dir, 'none.sock')));
    expect(result.code).toBe(EXIT.helperUnavailable);
    expect(result.out).toMatch(/^Helper {2,}The helper is not installed\.\nFix {2,}Install it: .*"berth helper install"/m);
    expect(result.out).toMatch(/^Helper version {2,}-$/m);
  });
});

describe('berth status: exit codes and the table', () => {
  it.each([
    ['running', EXIT.ok],
    ['user-mode', EXIT.ok],
    ['needs-update', EXIT.helperNeedsUpdate],
    ['not-installed', EXIT.helperUnavailable],
    ['not-running', EXIT.helperUnavailable],
    ['no-permission', EXIT.helperUnavailable],
    ['not-enrolled', EXIT.helperUnavailable],
    ['error', EXIT.error],
  ] as const)('helper %s exits %i (the same codes as berth helper status)', async (state, code) => {
    const result = await run(['--json'], async () => sampleReport(state));
    expect(result.code).toBe(code);
    expect(JSON.parse(result.out)).toEqual(sampleReport(state));
  });

  it("prints the diagnosis's sentence and its one fix, and no internal state name", async () => {
    const { out } = await run([], async () => sampleReport('not-enrolled'));
    const said = diagnoseHelper('not-enrolled');
    expect(out).toContain(`Helper                  ${said.sentence}\nFix                     ${said.fix}\n`);
    expect(out).not.toMatch(/not-enrolled|HELPER_/);
    expect((await run([], async () => sampleReport('running'))).out).not.toMatch(/^Fix/m);
  });

  it('shows an update is needed, user mode and its limits, a policy with its locks, a hosts error', async () => {
    const report = sampleReport('needs-update', {
      userMode: { user: 'alice', uid: 1001, limits: [...USER_MODE_LIMITS] },
      hostsEntries: { present: false, entries: [], error: 'cannot read /etc/hosts: not readable: EACCES' },
      policy: {
        state: 'valid',
        reason: null,
        organization: 'Acme',
        version: 3,
        expires: '2030-01-01T00:00:00Z',
        lockedSettings: { hostsEntries: false, cliToolsLocation: 'user' },
        allowedRegistries: ['registry.acme.example', 'ghcr.io/acme'],
        portRules: { allow: [80, '8000-8999'], deny: [8081], wildcardAddresses: false },
      },
    });
    const { out } = await run([], async () => report);
    expect(out).toMatch(/^Needs update {2,}yes$/m);
    expect(out).toMatch(/^Helper version {2,}0\.0\.1$/m);
    expect(out).toMatch(/^User mode {2,}yes, for alice \(uid 1001\)\n {2,}- only the account it was set up for can use Berth$/m);
    expect(out).toMatch(/^Hosts entries {2,}error: cannot read \/etc\/hosts: not readable: EACCES$/m);
    expect(out).toMatch(/^Policy {2,}valid: Acme, version 3, expires 1 Jan 2030$/m);
    expect(out).toMatch(/^Locked settings {2,}hostsEntries = false, cliToolsLocation = user$/m);
    expect(out).toMatch(/^Allowed registries {2,}registry\.acme\.example, ghcr\.io\/acme$/m);
  });

  it("lists the hosts block's entries and why an untrusted policy was ignored", async () => {
    const report = sampleReport('running', {
      hostsEntries: { present: true, entries: ['127.0.0.1 localhost', '127.0.0.1 berth.internal'], error: null },
      policy: { ...NO_POLICY, state: 'untrusted', reason: 'the signature does not verify' },
    });
    const { out } = await run([], async () => report);
    expect(out).toMatch(/^Hosts entries {2,}present\nHosts block {2,}127\.0\.0\.1 localhost\n {2,}127\.0\.0\.1 berth\.internal$/m);
    expect(out).toMatch(/^Policy {2,}untrusted: unknown organization \(the signature does not verify\)$/m);
  });

  it('--help prints the usage; unknown options and arguments are refused before anything is gathered', async () => {
    let gathered = 0;
    const count = async () => {
      gathered++;
      return sampleReport('running');
    };
    const help = await run(['--help'], count);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toContain('Usage: berth status [--json]');
    await expect(run(['--jsn'], count)).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    await expect(run(['extra'], count)).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' });
    expect(gathered).toBe(0);
  });
});
