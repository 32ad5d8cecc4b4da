import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pkg from '../../../package.json';
import { capabilitiesSchema, type Capabilities } from '../../../common/api/capabilities';
import { cliToolTarget } from '../../../common/cli-tools';
import { BEGIN_MARKER, END_MARKER } from '../../../common/hosts-block';
import { DEFAULT_SETTINGS } from '../../../common/settings/schema';
import { USER_MODE_LIMITS } from '../../../common/user-mode';
import { installSymlinks } from '../../../helper/ops/symlinks';
import { opContext } from '../../../test/support/op-context';
import { safeScratchDir } from '../../../test/support/scratch';
import { formatStatus } from '../../cli/status-command';
import { directLowPortBind, gatherCapabilities, hostsEntries } from './gather';
import { APP, gatherAsUser, helperAndScratch, hostsFile, options, portStart, scratch } from './gather-fixture';

const users = inject('users');

/** An installed app as root leaves it: root-owned folders (from '/') and a root-owned 0755 program. */
function rootsApp(): string {
  const app = join(safeScratchDir('berth-caps-app'), 'Berth');
  mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(cliToolTarget(app, 'berth'), '#!/bin/sh\n', { mode: 0o755 });
  return app;
}

describe('capabilities: the helper', () => {
  const block = helperAndScratch(users.test.uid);

  it('with the real root helper running: running, its version and operations', async () => {
    const report = capabilitiesSchema.parse(await gatherAsUser(options(block.dir, { helperSocketPath: block.helper.socketPath })));
    expect(report.helper).toEqual({
      state: 'running',
      message: `The helper, version ${pkg.version}, is running.`,
      diagnosis: { condition: 'running', sentence: `The helper, version ${pkg.version}, is running.`, fix: null, command: null, prompt: null, detail: null },
      version: pkg.version,
      bundledVersion: pkg.version,
      // Nothing installed on this machine recorded a digest: nothing to compare, so no build is named.
      bundledBuild: null,
      protocol: 1,
      operations: expect.arrayContaining(['bindPort', 'traceProcesses', 'uninstall']),
      // No helper bundle beside this fixture: nothing the prompt could run, so nothing to warn about.
      installWarning: null,
    });
    expect(report.userMode).toBeNull();
    expect(report.platform).toBe('linux');
  });

  it('the same version built from other bytes (a rebuild, a re-signed binary) is an update; the same bytes are not', async () => {
    const installed = 'a'.repeat(64);
    const rebuilt = 'b'.repeat(64);
    const other = capabilitiesSchema.parse(
      await gatherCapabilities(options(block.dir, { helperSocketPath: block.helper.socketPath, builds: () => ({ installed, bundled: rebuilt }) })),
    );
    expect(other.helper).toMatchObject({ state: 'needs-update', version: pkg.version, bundledVersion: pkg.version, bundledBuild: 'bbbbbbbbbbbb' });
    expect(other.helper.message).toBe(`The installed helper ${pkg.version} is a different build from the one this Berth brings.`);
    expect(other.helper.diagnosis).toMatchObject({
      condition: 'needs-update',
      prompt: 'update',
      // The digests stay in the technical detail.
      detail: `the installed helper ${pkg.version} is a different build (aaaaaaaaaaaa) from the one this Berth bundles (bbbbbbbbbbbb)`,
    });
    const same = capabilitiesSchema.parse(
      await gatherCapabilities(options(block.dir, { helperSocketPath: block.helper.socketPath, builds: () => ({ installed, bundled: installed }) })),
    );
    expect(same.helper).toMatchObject({ state: 'running', bundledBuild: 'aaaaaaaaaaaa' });
    // An install older than the digest (none recorded): its version decides, as before.
    const unknown = capabilitiesSchema.parse(
      await gatherCapabilities(options(block.dir, { helperSocketPath: block.helper.socketPath, builds: () => ({ bundled: rebuilt }) })),
    );
    expect(unknown.helper.state).toBe('running');
  });

  it('with no helper: not installed, no version, no operations', async () => {
    const report = capabilitiesSchema.parse(await gatherCapabilities(options(block.dir)));
    expect(report.helper).toMatchObject({ state: 'not-installed', version: null, protocol: null, operations: [] });
    expect(report.helper.message).toBe('The helper is not installed.');
    expect(report.helper.diagnosis).toMatchObject({ condition: 'not-installed', prompt: 'install', detail: expect.stringMatching(/no socket at .*no-helper\.sock/) });
  });

  it('with a user-mode record: user mode, for whom, its limits; the CLI links are judged against its app', async () => {
    const record = join(block.dir, 'user-mode.json');
    writeFileSync(record, JSON.stringify({ user: 'berth-test', uid: users.test.uid, appPath: '/opt/Admin/Berth', installedAt: '2026-01-01' }));
    const bin = join(block.dir, 'um-bin');
    mkdirSync(bin);
    symlinkSync(cliToolTarget('/opt/Admin/Berth', 'berth'), join(bin, 'berth'));
    const report = capabilitiesSchema.parse(
      await gatherCapabilities(
        options(block.dir, {
          helperSocketPath: block.helper.socketPath,
          userModePath: record,
          appPath: undefined,
          settings: { ...DEFAULT_SETTINGS, cliToolsLocation: 'user' },
          userBinDir: bin,
        }),
      ),
    );
    expect(report.helper).toMatchObject({ state: 'user-mode', version: null });
    expect(report.userMode).toEqual({ user: 'berth-test', uid: users.test.uid, limits: [...USER_MODE_LIMITS] });
    expect(report.cliTools).toEqual({ location: 'user', dir: bin, linked: ['berth'], missing: [], unsafe: [] });
  });

  it('passes the policy through as given', async () => {
    const policy: Capabilities['policy'] = {
      state: 'valid',
      reason: null,
      organization: 'Acme',
      version: 3,
      expires: '2030-01-01T00:00:00Z',
      lockedSettings: { hostsEntries: false },
      allowedRegistries: ['registry.acme.example'],
      portRules: { deny: [25], udp: 'none' },
    };
    expect((await gatherCapabilities(options(block.dir, { policy }))).policy).toEqual(policy);
  });
});

describe('capabilities: direct low-port bind', () => {
  let dir: string;
  beforeAll(() => {
    dir = scratch();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['1024\n', false, 'net.ipv4.ip_unprivileged_port_start = 1024: ports below 1024 need the helper'],
    ['80\n', false, 'net.ipv4.ip_unprivileged_port_start = 80: ports below 80 need the helper; 80 to 1023 bind directly'],
    ['0\n', true, 'net.ipv4.ip_unprivileged_port_start = 0: any user may bind any port'],
    ['4096\n', false, 'net.ipv4.ip_unprivileged_port_start = 4096: ports below 1024 need the helper'],
  ])('as an unprivileged user, ip_unprivileged_port_start %j', async (value, allowed, detail) => {
    const report = await gatherAsUser(options(dir, { unprivilegedPortStartPath: portStart(dir, value) }));
    expect(report.directLowPortBind).toEqual({ anyAddress: allowed, specificAddress: allowed, detail });
  });

  it('a missing or garbled setting is reported and taken as "needs the helper"', async () => {
    const missing = await gatherAsUser(options(dir, { unprivilegedPortStartPath: join(dir, 'absent') }));
    expect(missing.directLowPortBind).toEqual({
      anyAddress: false,
      specificAddress: false,
      detail: `cannot read ${join(dir, 'absent')} (not found): ports below 1024 are assumed to need the helper`,
    });
    const garbled = portStart(dir, 'lots\n');
    const report = await gatherAsUser(options(dir, { unprivilegedPortStartPath: garbled }));
    expect(report.directLowPortBind.detail).toBe(`${garbled} holds "lots", not a port number: ports below 1024 are assumed to need the helper`);
    expect(report.directLowPortBind.anyAddress).toBe(false);
  });

  it("reads the kernel's own setting by default", async () => {
    const report = await gatherAsUser({ ...options(dir), unprivilegedPortStartPath: undefined });
    expect(report.directLowPortBind.detail).toMatch(/^net\.ipv4\.ip_unprivileged_port_start = \d+: /);
  });

  it('a process with CAP_NET_BIND_SERVICE (this root test) may bind any port, whatever the setting', () => {
    expect(directLowPortBind('linux', portStart(dir, '1024\n'))).toEqual({
      anyAddress: true,
      specificAddress: true,
      detail: 'this process has CAP_NET_BIND_SERVICE, so it may bind any port (net.ipv4.ip_unprivileged_port_start = 1024)',
    });
  });

  it("macOS: 0.0.0.0 yes, a specific address no, and the OS rule says why", () => {
    const mac = directLowPortBind('darwin', '/nonexistent');
    expect(mac).toMatchObject({ anyAddress: true, specificAddress: false });
    expect(mac.detail).toMatch(/Mojave.*0\.0\.0\.0.*127\.0\.0\.1: those need the helper/);
  });
});

describe('capabilities: CLI tools', () => {
  let dir: string;
  beforeAll(() => {
    dir = scratch();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function binWith(make: (link: string) => void): string {
    const bin = mkdtempSync(join(dir, 'bin-'));
    make(join(bin, 'berth'));
    return bin;
  }

  it.each([
    ['a link to this app', (link: string) => symlinkSync(cliToolTarget(APP, 'berth'), link), ['berth'], []],
    ['no link', () => {}, [], ['berth']],
    ['a link to another app', (link: string) => symlinkSync(cliToolTarget('/opt/Other', 'berth'), link), [], ['berth']],
    ['a file of the user', (link: string) => writeFileSync(link, '#!/bin/sh\n'), [], ['berth']],
    // Never followed: a link to a link to this app is not ours.
    [
      'a link to a link to this app',
      (link: string) => {
        symlinkSync(cliToolTarget(APP, 'berth'), `${link}-real`);
        symlinkSync(`${link}-real`, link);
      },
      [],
      ['berth'],
    ],
  ])('User location with %s', async (_what, make, linked, missing) => {
    const bin = binWith(make);
    const report = await gatherCapabilities(options(dir, { settings: { ...DEFAULT_SETTINGS, cliToolsLocation: 'user' }, userBinDir: bin }));
    expect(report.cliTools).toEqual({ location: 'user', dir: bin, linked, missing, unsafe: [] });
  });

  it('System location looks in the system bin directory', async () => {
    const app = rootsApp();
    const bin = binWith((link) => symlinkSync(cliToolTarget(app, 'berth'), link));
    const report = await gatherCapabilities(options(dir, { systemBinDir: bin, appPath: app }));
    expect(report.cliTools).toEqual({ location: 'system', dir: bin, linked: ['berth'], missing: [], unsafe: [] });
  });

  it("without an app path, the app the helper's config records is Berth", async () => {
    const app = rootsApp();
    const bin = binWith((link) => symlinkSync(cliToolTarget(app, 'berth'), link));
    const config = join(dir, 'helper.json');
    writeFileSync(config, JSON.stringify({ socketPath: '/run/berth/helper.sock', allowUid: 1000, appPath: app }));
    const report = await gatherCapabilities(options(dir, { appPath: undefined, helperConfigPath: config, systemBinDir: bin }));
    expect(report.cliTools).toEqual({ location: 'system', dir: bin, linked: ['berth'], missing: [], unsafe: [] });
    // No record anywhere: no link can be known to be ours.
    const none = await gatherCapabilities(options(dir, { appPath: undefined, helperConfigPath: join(dir, 'absent.json'), systemBinDir: bin }));
    expect(none.cliTools).toEqual({ location: 'system', dir: bin, linked: [], missing: ['berth'], unsafe: [] });
  });

  it('a System link made while its program was root’s is reported unsafe, not linked, once a user can change the program', async () => {
    const app = rootsApp();
    const bin = safeScratchDir('berth-caps-bin');
    // Made by the helper's own operation, which checks the program first.
    await installSymlinks({ names: ['berth'] }, opContext({ appPath: app, linkDir: bin, stateDir: join(bin, '.state') }));
    const asUser = (): Promise<Capabilities> => gatherAsUser(options(dir, { appPath: app, systemBinDir: bin }));
    expect((await asUser()).cliTools).toEqual({ location: 'system', dir: bin, linked: ['berth'], missing: [], unsafe: [] });

    const program = cliToolTarget(app, 'berth');
    chownSync(program, users.test.uid, users.test.gid);
    const owned = (await asUser()).cliTools;
    expect(owned).toEqual({
      location: 'system',
      dir: bin,
      linked: [],
      missing: [],
      unsafe: [{ name: 'berth', reason: expect.stringContaining(`${program} is owned by uid ${users.test.uid}, not root`) }],
    });
    expect(owned.unsafe[0]!.reason).toMatch(/sudo berth/);
    expect(formatStatus({ ...(await asUser()), cliTools: owned })).toMatch(/^CLI tools unsafe {2,}berth: .*owned by uid/m);

    chownSync(program, 0, 0);
    chmodSync(program, 0o775);
    expect((await asUser()).cliTools.unsafe).toEqual([{ name: 'berth', reason: expect.stringContaining(`${program} is writable by its group`) }]);
    // The link itself is left alone: the report says what to fix, it changes nothing.
    expect(readlinkSync(join(bin, 'berth'))).toBe(program);
  });

  it('the User location’s program is the user’s own business: not judged', async () => {
    const app = rootsApp();
    chownSync(cliToolTarget(app, 'berth'), users.test.uid, users.test.gid);
    const bin = binWith((link) => symlinkSync(cliToolTarget(app, 'berth'), link));
    const report = await gatherCapabilities(options(dir, { settings: { ...DEFAULT_SETTINGS, cliToolsLocation: 'user' }, userBinDir: bin, appPath: app }));
    expect(report.cliTools).toEqual({ location: 'user', dir: bin, linked: ['berth'], missing: [], unsafe: [] });
  });

  it('defaults: /usr/local/bin for System', async () => {
    const report = await gatherCapabilities({ ...options(dir), systemBinDir: undefined });
    expect(report.cliTools.dir).toBe('/usr/local/bin');
  });
});

describe('capabilities: hosts entries', () => {
  let dir: string;
  beforeAll(() => {
    dir = scratch();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists the entries of Berth's block, and only those", () => {
    const path = hostsFile(
      dir,
      `127.0.0.1 localhost\n192.168.1.5 my-nas\n${BEGIN_MARKER}\n::1 localhost\n127.0.0.1 berth.internal\n${END_MARKER}\n`,
    );
    expect(hostsEntries(path)).toEqual({ present: true, entries: ['::1 localhost', '127.0.0.1 berth.internal'], error: null });
  });

  it('a hosts file without the block: absent, no error', async () => {
    const report = await gatherCapabilities(options(dir, { hostsPath: hostsFile(dir, '127.0.0.1 localhost\n') }));
    expect(report.hostsEntries).toEqual({ present: false, entries: [], error: null });
  });

  it('a malformed block is an error, not "absent"', () => {
    const path = hostsFile(dir, `${BEGIN_MARKER}\n127.0.0.1 berth.internal\n`);
    expect(hostsEntries(path)).toEqual({
      present: false,
      entries: [],
      error: expect.stringMatching(/has a berth block starting on line 1 without "# END berth"/),
    });
  });

  it('a missing file, and one the user may not read, say so', async () => {
    expect(hostsEntries(join(dir, 'none')).error).toBe(`cannot read ${join(dir, 'none')}: not found`);
    const secret = hostsFile(dir, '127.0.0.1 localhost\n', 0o600);
    const report = await gatherAsUser(options(dir, { hostsPath: secret }));
    expect(report.hostsEntries).toEqual({ present: false, entries: [], error: `cannot read ${secret}: not readable: EACCES` });
  });

  it('a FIFO at the path is refused without blocking', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(hostsEntries(fifo).error).toBe(`cannot read ${fifo}: not a regular file`);
  });
});
