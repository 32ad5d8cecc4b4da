import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/constants';
import { UNSAFE_CHARACTERS, type ServiceSpec } from './spec';
import { quoteExecArgument, systemdServiceUnit, systemdSocketUnit } from './systemd';
import {
  dumpedUnit,
  parseDumpedCommandLine,
  parseExecStart,
  parseUnit,
  requireTool,
  run,
  sectionTable,
  type ParsedUnit,
} from './test-helpers';

const users = inject('users');

const spec: ServiceSpec = {
  label: 'dev.berth.helper',
  helperCommand: ['/usr/local/libexec/berth/berth-helper', 'serve', '--config', '/etc/berth/helper.json'],
  socketPath: '/run/berth/helper.sock',
};

/** Programs that exist here, so systemd's own checks (executable present) can pass. */
const realSpec: ServiceSpec = {
  ...spec,
  label: 'dev.berth.realtest',
  helperCommand: [process.execPath, join(REPO_ROOT, 'dist/helper/berth-helper.js'), 'serve', '--config', '/etc/berth/helper.json'],
};

const HARDENING = {
  Type: ['simple'],
  Environment: ['NODE_OPTIONS=--jitless'],
  // An exit for removal (75: app gone, or uninstall asked) is a request, not a failure; the finisher runs after every stop, unsandboxed.
  SuccessExitStatus: ['75'],
  UMask: ['0077'],
  NoNewPrivileges: ['yes'],
  CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE CAP_CHOWN CAP_FOWNER CAP_SYS_PTRACE'],
  AmbientCapabilities: [''],
  ProtectSystem: ['strict'],
  ReadWritePaths: ['/etc -/usr/local/bin'],
  StateDirectory: ['berth'],
  LogsDirectory: ['berth'],
  ProtectHome: ['yes'],
  PrivateTmp: ['yes'],
  PrivateMounts: ['yes'],
  PrivateDevices: ['yes'],
  ProtectKernelTunables: ['yes'],
  ProtectKernelModules: ['yes'],
  ProtectKernelLogs: ['yes'],
  ProtectControlGroups: ['yes'],
  ProtectClock: ['yes'],
  ProtectHostname: ['yes'],
  ProtectProc: ['invisible'],
  ProcSubset: ['pid'],
  RestrictAddressFamilies: ['AF_INET AF_INET6'],
  PrivateIPC: ['yes'],
  RestrictNamespaces: ['yes'],
  RestrictRealtime: ['yes'],
  RestrictSUIDSGID: ['yes'],
  LockPersonality: ['yes'],
  MemoryDenyWriteExecute: ['yes'],
  SystemCallArchitectures: ['native'],
  SystemCallFilter: ['@system-service', '~@privileged @resources', '@chown', '@pkey'],
  SystemCallErrorNumber: ['EPERM'],
};

function execStart(unit: ParsedUnit): string[] {
  const lines = sectionTable(unit, 'Service').ExecStart ?? [];
  expect(lines).toHaveLength(1);
  return parseExecStart(lines[0]!);
}

describe('systemd .socket unit', () => {
  it('has exactly the socket settings we mean', () => {
    const unit = parseUnit(systemdSocketUnit(spec));
    expect(Object.keys(unit)).toEqual(['Unit', 'Socket', 'Install']);
    expect(sectionTable(unit, 'Unit')).toEqual({ Description: ['Berth privileged helper socket'] });
    expect(sectionTable(unit, 'Socket')).toEqual({
      ListenStream: ['/run/berth/helper.sock'],
      SocketUser: ['root'],
      SocketGroup: ['root'],
      SocketMode: ['0666'],
      DirectoryMode: ['0755'],
      Accept: ['no'],
      RemoveOnStop: ['yes'],
    });
    expect(sectionTable(unit, 'Install')).toEqual({ WantedBy: ['sockets.target'] });
  });

  it('is one root-owned socket for every enrolled user: enrolling never changes the unit', () => {
    expect(systemdSocketUnit(spec)).toContain('\n# Anyone may connect; the helper serves only root and the enrolled users');
    // Nothing in the unit depends on who is enrolled: the same text for any install of this label and path.
    expect(systemdSocketUnit({ ...spec, installDir: '/usr/local/libexec/berth' })).toBe(systemdSocketUnit(spec));
  });
});

describe('systemd .service unit', () => {
  it('is started through the socket only, with every hardening setting', () => {
    const unit = parseUnit(systemdServiceUnit(spec));
    expect(Object.keys(unit)).toEqual(['Unit', 'Service']);
    expect(sectionTable(unit, 'Unit')).toEqual({
      Description: ['Berth privileged helper'],
      Requires: ['dev.berth.helper.socket'],
      After: ['dev.berth.helper.socket'],
    });
    const settings = sectionTable(unit, 'Service');
    expect(settings.ExecStart).toHaveLength(1);
    delete settings.ExecStart;
    expect(settings.ExecStopPost).toEqual([`+${[spec.helperCommand[0]!, 'finish-removal', ...spec.helperCommand.slice(2)].map(quoteExecArgument).join(' ')}`]);
    delete settings.ExecStopPost;
    expect(settings).toEqual(HARDENING);
  });

  it('leaves the install directory writable only when asked, for uninstall to remove it', () => {
    const unit = parseUnit(systemdServiceUnit({ ...spec, installDir: '/usr/local/libexec/berth' }));
    expect(sectionTable(unit, 'Service').ReadWritePaths).toEqual(['/etc -/usr/local/bin /usr/local/libexec/berth']);
  });

  it('quotes ExecStart so that the argv reads back exactly, spaces included', () => {
    expect(systemdServiceUnit(spec)).toContain(
      '\nExecStart="/usr/local/libexec/berth/berth-helper" "serve" "--config" "/etc/berth/helper.json"\n',
    );
    const spaced = ['/Library/Application Support/Berth/berth-helper', 'serve', '--app', '/opt/My App/berth', '-', ';', '@x'];
    expect(execStart(parseUnit(systemdServiceUnit({ ...spec, helperCommand: spaced })))).toEqual(spaced);
    const arg = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).filter((s) => !UNSAFE_CHARACTERS.test(s));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
        const argv = ['/usr/local/libexec/berth/berth-helper', ...args];
        expect(execStart(parseUnit(systemdServiceUnit({ ...spec, helperCommand: argv })))).toEqual(argv);
      }),
    );
  });

  it('quoteExecArgument escapes quotes and backslashes, and refuses what systemd would expand', () => {
    expect(quoteExecArgument('a b')).toBe('"a b"');
    expect(quoteExecArgument('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
    expect(parseExecStart(['/bin/echo', 'say "hi" \\o/', 'x'].map(quoteExecArgument).join(' '))).toEqual(['/bin/echo', 'say "hi" \\o/', 'x']);
    for (const bad of ['%i', '$HOME', '${X}', 'a\nb', 'a\0b']) expect(() => quoteExecArgument(bad)).toThrow(/may not hold/);
  });
});

/*
 * systemd itself. `systemd-analyze verify` loads the units as PID 1 would and
 * reports bad settings; `systemd --test` (which refuses to run as root, hence
 * the test user) prints how it parsed every setting, ExecStart's argv
 * included. Neither needs a running systemd, so both work in this container.
 */
const scratch = mkdtempSync(join(tmpdir(), 'berth-units-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let dirs = 0;

/** Writes unit files into a fresh directory the test user can read; returns it. */
function unitDir(files: Record<string, string>): string {
  const dir = join(scratch, `units-${dirs++}`);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o644 });
  return dir;
}

function unitsOf(s: ServiceSpec, service = systemdServiceUnit(s)): Record<string, string> {
  return { [`${s.label}.socket`]: systemdSocketUnit(s), [`${s.label}.service`]: service };
}

/** verify's verdict on our units: exit 0 and nothing said about them (other units' noise is not ours). */
function verify(files: Record<string, string>, label: string): { ok: boolean; said: string } {
  const analyze = requireTool(['/usr/bin/systemd-analyze', '/bin/systemd-analyze'], 'systemd');
  const dir = unitDir(files);
  const result = run(analyze, ['verify', '--man=no', '--recursive-errors=no', ...Object.keys(files).map((f) => join(dir, f))]);
  const said = `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => line.includes(label))
    .join('\n');
  return { ok: result.status === 0 && said === '', said };
}

/** systemd's parsed view of our two units. */
function systemdDump(s: ServiceSpec, service = systemdServiceUnit(s)): { socket: ReturnType<typeof dumpedUnit>; service: ReturnType<typeof dumpedUnit> } {
  const systemd = requireTool(['/usr/lib/systemd/systemd', '/lib/systemd/systemd'], 'systemd');
  const dir = unitDir(unitsOf(s, service));
  // The trailing ':' keeps the standard unit path behind ours (sysinit.target and friends).
  const result = run(systemd, ['--test', '--system', `--unit=${s.label}.service`, '--no-pager'], {
    uid: users.test.uid,
    gid: users.test.gid,
    env: { PATH: process.env.PATH, SYSTEMD_UNIT_PATH: `${dir}:` },
  });
  expect(result.stderr.split('\n').filter((line) => line.includes(s.label))).toEqual([]);
  expect(result.status).toBe(0);
  return { socket: dumpedUnit(result.stdout, `${s.label}.socket`), service: dumpedUnit(result.stdout, `${s.label}.service`) };
}

describe('systemd reads the units as we mean them', () => {
  it('systemd-analyze verify accepts them without a word', () => {
    expect(verify(unitsOf(realSpec), realSpec.label)).toEqual({ ok: true, said: '' });
  });

  it('the verify check fails on broken units', () => {
    const service = systemdServiceUnit(realSpec);
    const broken: Record<string, Record<string, string>> = {
      'a misspelled value': unitsOf(realSpec, service.replace('ProtectSystem=strict', 'ProtectSystem=strickt')),
      'an unknown key': unitsOf(realSpec, service.replace('ProtectHome=yes', 'ProtectHomes=yes')),
      'a missing program': unitsOf({ ...realSpec, helperCommand: ['/nonexistent/berth-helper', 'serve'] }),
      'a bad address family': unitsOf(realSpec, service.replace('AF_INET6', 'AF_INET7')),
    };
    for (const [what, files] of Object.entries(broken)) {
      const verdict = verify(files, realSpec.label);
      expect(verdict.ok, what).toBe(false);
      expect(verdict.said, what).not.toBe('');
    }
  });

  it('a program path with a space works only because it is quoted', () => {
    const dir = join(scratch, 'with space');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    symlinkSync(process.execPath, join(dir, 'no de'));
    const spaced = { ...realSpec, helperCommand: [join(dir, 'no de'), 'serve'] };
    expect(verify(unitsOf(spaced), spaced.label).ok).toBe(true);
    const unquoted = systemdServiceUnit(spaced).replace(/^ExecStart=.*$/m, `ExecStart=${spaced.helperCommand.join(' ')}`);
    expect(verify(unitsOf(spaced, unquoted), spaced.label).ok).toBe(false);
  });

  it('systemd parses every setting to the value we mean', () => {
    const { socket, service } = systemdDump(realSpec);
    expect(socket.keys).toMatchObject({
      ListenStream: ['/run/berth/helper.sock'],
      SocketUser: ['root'],
      SocketGroup: ['root'],
      SocketMode: ['0666'],
      DirectoryMode: ['0755'],
      RemoveOnStop: ['yes'],
      Triggers: ['dev.berth.realtest.service (origin-implicit)'],
    });
    expect(socket.keys.Before).toContain('sockets.target (origin-default)');
    expect(service.keys).toMatchObject({
      Type: ['simple'],
      Environment: ['NODE_OPTIONS=--jitless'],
      UMask: ['0077'],
      CapabilityBoundingSet: ['cap_chown cap_fowner cap_net_bind_service cap_sys_ptrace'],
      ProtectSystem: ['strict'],
      ReadWritePaths: ['/etc -/usr/local/bin'],
      StateDirectory: ['berth'],
      StateDirectoryMode: ['0755'],
      LogsDirectory: ['berth'],
      LogsDirectoryMode: ['0755'],
      ProtectHome: ['yes'],
      PrivateTmp: ['yes'],
      PrivateDevices: ['yes'],
      ProtectKernelTunables: ['yes'],
      ProtectKernelModules: ['yes'],
      ProtectKernelLogs: ['yes'],
      ProtectControlGroups: ['yes'],
      ProtectClock: ['yes'],
      ProtectHostname: ['yes'],
      ProtectProc: ['invisible'],
      ProcSubset: ['pid'],
      RestrictRealtime: ['yes'],
      RestrictSUIDSGID: ['yes'],
      LockPersonality: ['yes'],
      MemoryDenyWriteExecute: ['yes'],
      SystemCallArchitectures: ['native'],
      TriggeredBy: ['dev.berth.realtest.socket (destination-implicit)'],
    });
    expect(service.keys.Requires).toContain('dev.berth.realtest.socket (origin-file)');
    // ExecStart, then the ExecStopPost=+ finisher: the same program and config, `finish-removal` for `serve`.
    const finish = realSpec.helperCommand.map((word) => (word === 'serve' ? 'finish-removal' : word));
    expect(service.commandLines.map(parseDumpedCommandLine)).toEqual([realSpec.helperCommand, finish]);
  });

  it("systemd's own parser reads our quoting back to the same argv", () => {
    const argv = [process.execPath, 'two words', 'say "hi"', 'back\\slash', ';', '-', 'trailing ', ' leading'];
    const service = systemdServiceUnit(realSpec).replace(/^ExecStart=.*$/m, `ExecStart=${argv.map(quoteExecArgument).join(' ')}`);
    expect(systemdDump(realSpec, service).service.commandLines.map(parseDumpedCommandLine)[0]).toEqual(argv);
  });

  it('systemd-analyze security rates the service at 2.4 at most (docs/SECURITY.md), and would not without the hardening', () => {
    const analyze = requireTool(['/usr/bin/systemd-analyze', '/bin/systemd-analyze'], 'systemd');
    const rate = (text: string): number | null => {
      const dir = unitDir({ [`${realSpec.label}.service`]: text });
      // --threshold is the exposure times ten; above it the exit status is non-zero.
      return run(analyze, ['security', '--offline=true', '--threshold=24', join(dir, `${realSpec.label}.service`)]).status;
    };
    const hardened = systemdServiceUnit(realSpec);
    expect(rate(hardened)).toBe(0);
    const keep = /^(\[|#|$|Type=|ExecStart=|Description=|Requires=|After=)/;
    const bare = hardened
      .split('\n')
      .filter((line) => keep.test(line))
      .join('\n');
    expect(rate(bare)).not.toBe(0);
  });
});
