import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiError } from '../../../common/api/backend-api';
import type { Capabilities } from '../../../common/api/capabilities';
import { DEFAULT_SETTINGS } from '../../../common/settings/schema';
import { finished, spawnAs, startHelper, type HelperProcess } from '../../../test/support/processes';
import { assertPrivateMountNamespace } from '../../../test/support/namespace';
import { safeScratchDir } from '../../../test/support/scratch';
import { gatherCapabilities } from '../capabilities/gather';
import { NO_POLICY } from '../capabilities/sample-reports';
import { archiveStamp, createDiagnosticsArchive, type DiagnosticsOptions } from './archive';
import { SECRET_KINDS } from './planted-secrets';
import { extract, makeMachine, type DiagnosticsMachine } from './test-setup';

const users = inject('users');

/** Every member a full run without a helper writes. */
const MEMBERS = [
  'app-logs/backend.log',
  'app-logs/backend.log.1',
  'audit.log',
  'capabilities.json',
  'helper-logs/helper.log',
  'hosts-block.txt',
  'install/helper.json',
  'install/install.json',
  'manifest.json',
  'mappings.json',
  'settings.json',
];

async function capabilitiesOf(machine: DiagnosticsMachine, socketPath = join(machine.root, 'none.sock')): Promise<Capabilities> {
  return gatherCapabilities({
    settings: DEFAULT_SETTINGS,
    helperSocketPath: socketPath,
    userModePath: machine.layout.userModePath,
    hostsPath: machine.hostsPath,
    policy: NO_POLICY,
  });
}

async function optionsFor(machine: DiagnosticsMachine, extra: Partial<DiagnosticsOptions> = {}): Promise<DiagnosticsOptions> {
  return {
    outDir: machine.home,
    capabilities: await capabilitiesOf(machine),
    settingsPath: machine.userPaths.settingsPath,
    mappingsPath: machine.userPaths.mappingsPath,
    appLogDir: machine.userPaths.logDir,
    layout: machine.layout,
    hostsPath: machine.hostsPath,
    onProgress: () => {},
    ...extra,
  };
}

describe('diagnostics archive (in process)', () => {
  it('gathers every source into one 0600 tar.gz in the out dir, with a manifest, reporting progress', async () => {
    const machine = makeMachine();
    try {
      const progress: Array<{ step: string; progress: number }> = [];
      const now = new Date('2026-03-04T05:06:07.890Z');
      const result = await createDiagnosticsArchive(await optionsFor(machine, { now, onProgress: (p) => progress.push(p) }));
      expect(result.path).toBe(join(machine.home, 'berth-diagnostics-20260304-050607.tar.gz'));
      expect([...result.files].sort()).toEqual(MEMBERS);
      // Only the archive is left in the out dir: no staging directory, no temp file.
      expect(readdirSync(machine.home).filter((n) => !n.startsWith('.'))).toEqual(['berth-diagnostics-20260304-050607.tar.gz']);
      expect(readdirSync(machine.home).filter((n) => n.startsWith('.berth'))).toEqual([]);

      const archive = extract(result.path);
      expect(archive.mode).toBe(0o600);
      expect(archive.members.every((m) => m.startsWith('berth-diagnostics-20260304-050607/'))).toBe(true);
      expect([...archive.files.keys()].sort()).toEqual(MEMBERS);
      // Only Berth's block of the hosts file, never the user's lines.
      expect(archive.files.get('hosts-block.txt')).toBe('# BEGIN berth (managed)\n::1 localhost\n127.0.0.1 berth.internal\n# END berth\n');
      expect([...archive.files.values()].some((text) => text.includes(machine.userHostsLine))).toBe(false);
      expect(JSON.parse(archive.files.get('capabilities.json')!)).toMatchObject({ helper: { state: 'not-installed' } });
      // Only the keys the settings know: the planted `extra` is left out.
      expect(JSON.parse(archive.files.get('settings.json')!)).toEqual({ privilegedPortMapping: false });

      const manifest = JSON.parse(archive.files.get('manifest.json')!) as {
        files: Array<{ name: string; source: string }>;
        skipped: Array<{ name: string; reason: string }>;
      };
      expect(manifest.files.map((f) => f.name).sort()).toEqual(MEMBERS.filter((m) => m !== 'manifest.json'));
      expect(manifest.files).toContainEqual(expect.objectContaining({ name: 'audit.log', source: machine.layout.auditLogPath }));
      expect(manifest.skipped).toEqual(
        expect.arrayContaining([
          { name: 'install/user-mode.json', reason: `${machine.layout.userModePath}: not found` },
          { name: 'trace.jsonl', reason: expect.stringMatching(/^the trace needs the helper\. The helper is not installed\./) },
        ]),
      );
      expect(result.skipped).toEqual(manifest.skipped);

      // Progress: every step named, never backwards, ending at 1.
      expect(progress.map((p) => p.step)).toEqual(
        expect.arrayContaining(['capabilities', 'settings', 'hosts block', 'privileged trace', 'audit log', 'writing the archive']),
      );
      expect(progress.every((p, i) => i === 0 || p.progress >= progress[i - 1]!.progress)).toBe(true);
      expect(progress.at(-1)).toEqual({ step: 'done', progress: 1 });
    } finally {
      machine.cleanup();
    }
  });

  it.each(SECRET_KINDS.map((kind) => [kind.name, kind] as const))('never lets %s into any archived file', async (_name, kind) => {
    await fc.assert(
      fc.asyncProperty(kind.secret, fc.constantFrom(...kind.contexts), async (secret, context) => {
        const machine = makeMachine({ plant: () => context(secret) });
        try {
          const archive = extract((await createDiagnosticsArchive(await optionsFor(machine))).path);
          for (const [name, text] of archive.files) expect(text, name).not.toContain(secret);
          // The planted lines were there to be found: the redactor, not an empty file, kept the secret out.
          expect(archive.files.get('app-logs/backend.log')).toContain('[REDACTED]');
        } finally {
          machine.cleanup();
        }
      }),
      { numRuns: 6 },
    );
  });

  it('settings.json in the archive holds only the keys the settings know, whatever the others hold', async () => {
    // Words no rule could tell from ordinary text: only leaving the key out keeps them out.
    const opaque = fc.array(fc.constantFrom('correct', 'horse', 'battery', 'staple', 'blue', 'seven'), { minLength: 4, maxLength: 8 }).map((w) => w.join(' '));
    const unknownKey = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,20}$/).filter((k) => !(k in DEFAULT_SETTINGS));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(unknownKey, opaque, { minKeys: 1, maxKeys: 4 }), async (unknown) => {
        const machine = makeMachine();
        try {
          const known = { cliToolsLocation: 'user', hostsEntries: false, helperUpdateAskedFor: '0.2.0' };
          writeFileSync(machine.userPaths.settingsPath, JSON.stringify({ ...unknown, ...known }));
          const archive = extract((await createDiagnosticsArchive(await optionsFor(machine))).path);
          expect(JSON.parse(archive.files.get('settings.json')!)).toEqual(known);
          for (const value of Object.values(unknown)) {
            for (const [name, text] of archive.files) expect(text, name).not.toContain(value);
          }
        } finally {
          machine.cleanup();
        }
      }),
      { numRuns: 15 },
    );
  });

  it('never overwrites a file already at the name: the next free name is used', async () => {
    const machine = makeMachine();
    try {
      const now = new Date('2026-03-04T05:06:07Z');
      const taken = join(machine.home, `berth-diagnostics-${archiveStamp(now)}.tar.gz`);
      writeFileSync(taken, 'the user file');
      const second = await createDiagnosticsArchive(await optionsFor(machine, { now }));
      const third = await createDiagnosticsArchive(await optionsFor(machine, { now }));
      expect(second.path).toBe(taken.replace('.tar.gz', '-2.tar.gz'));
      expect(third.path).toBe(taken.replace('.tar.gz', '-3.tar.gz'));
      expect(readFileSync(taken, 'utf8')).toBe('the user file');
    } finally {
      machine.cleanup();
    }
  });

  it('refuses a second run while one is running (BUSY), and the first completes', async () => {
    const machine = makeMachine();
    try {
      const options = await optionsFor(machine);
      const first = createDiagnosticsArchive(options);
      await expect(createDiagnosticsArchive(options)).rejects.toMatchObject({ code: 'BUSY', message: expect.stringMatching(/already being gathered/) });
      expect(statSync((await first).path).isFile()).toBe(true);
      // And once done, another run is welcome.
      expect(statSync((await createDiagnosticsArchive(options)).path).isFile()).toBe(true);
    } finally {
      machine.cleanup();
    }
  });

  it.each([
    [(m: DiagnosticsMachine) => ({ outDir: join(m.root, 'missing') }), /^the output folder .*missing does not exist$/],
    [(m: DiagnosticsMachine) => ({ outDir: m.hostsPath }), /hosts is not a folder$/],
    [() => ({ outDir: 'relative/dir' }), /^the output folder must be an absolute path, not "relative\/dir"$/],
    [() => ({ traceSeconds: 31 }), /^the trace duration must be a whole number of seconds from 0 to 30$/],
    [() => ({ traceSeconds: 1.5 }), /whole number/],
  ])('bad input is refused in one sentence and nothing is written (%#)', async (change, message) => {
    const machine = makeMachine();
    try {
      const before = readdirSync(machine.home).sort();
      const options = await optionsFor(machine, change(machine));
      const error = await createDiagnosticsArchive(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: 'INVALID', message: expect.stringMatching(message) });
      expect(readdirSync(machine.home).sort()).toEqual(before);
    } finally {
      machine.cleanup();
    }
  });
});

describe('diagnostics archive on a full disk', () => {
  let full: string;
  beforeAll(() => {
    assertPrivateMountNamespace();
    full = mkdtempSync(join(tmpdir(), 'berth-full-'));
    // A tiny filesystem of our own (in the test's mount namespace only): the archive cannot fit.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'berth-full', full]);
  });
  afterAll(() => {
    execFileSync('umount', [full]);
    rmSync(full, { recursive: true, force: true });
  });

  it.each([
    ['while staging the files', 1024 * 1024],
    // The staged files fit; staged plus the compressed archive do not.
    ['while writing the archive', 120 * 1024],
  ])('fails %s in one sentence and leaves nothing behind: no archive, no staging, no temp file', async (_when, bytes) => {
    const machine = makeMachine();
    try {
      // Random bytes in base64: hardly compressible.
      writeFileSync(join(machine.userPaths.logDir, 'backend.log'), randomBytes(bytes).toString('base64'));
      const error = await createDiagnosticsArchive(await optionsFor(machine, { outDir: full })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: 'FAILED', message: `could not write the diagnostics archive in ${full} (ENOSPC)` });
      expect(readdirSync(full)).toEqual([]);
      // Nothing of it is still open either (a staged file, the temp archive).
      const open = readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      });
      expect(open.filter((target) => target.startsWith(full))).toEqual([]);
    } finally {
      machine.cleanup();
    }
  });
});

/** Runs the diagnostics fixture as the test user from `exe` (a Node inside the app: what the helper traces). */
async function diagnoseAsUser(exe: string, setup: Record<string, unknown>, args: string[]) {
  const child = spawnAs(users.test, [exe, join(inject('fixturesDir'), 'diagnostics.js'), 'diagnose', JSON.stringify(setup), ...args]);
  const done = await finished(child);
  const line = done.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { code: number; out: string; err: string; pid: number };
  } catch {
    throw new Error(`the fixture printed no JSON (exit ${done.code}): ${done.stdout}${done.stderr}`);
  }
}

describe('berth diagnose as the unprivileged user, against the real root helper', () => {
  let helper: HelperProcess;
  let appPath: string;
  let exe: string;
  const owner = () => ({ uid: users.test.uid, gid: users.test.gid });

  beforeAll(async () => {
    appPath = join(safeScratchDir('berth-diag-app'), 'Berth');
    mkdirSync(appPath, { mode: 0o755 });
    // A real executable inside the app: the helper traces only the caller's processes running from it.
    exe = join(appPath, 'berth-app');
    copyFileSync(process.execPath, exe);
    chmodSync(exe, 0o755);
    helper = await startHelper({ allowUid: users.test.uid, extraArgs: ['--app', appPath] });
  });
  afterAll(async () => {
    await helper.stop();
  });

  function setupFor(machine: DiagnosticsMachine, layout = machine.layout) {
    return {
      capabilities: {
        settings: DEFAULT_SETTINGS,
        helperSocketPath: helper.socketPath,
        userModePath: layout.userModePath,
        hostsPath: machine.hostsPath,
        appPath,
        policy: NO_POLICY,
      },
      userPaths: machine.userPaths,
      layout: { ...layout, socketPath: helper.socketPath },
      hostsPath: machine.hostsPath,
    };
  }

  it('writes a 0600 archive of its own with a real privileged trace; the helper logs it may not read are listed as skipped', async () => {
    const secret = 'tok_9c1f3b7a55e04d2b8f6a';
    const machine = makeMachine({ owner: owner(), plant: () => `Authorization: Bearer ${secret}`, lockHelperLogs: true });
    try {
      // The helper's own audit log (readable, 0644), the install's helper logs (root-only).
      const layout = { ...machine.layout, auditLogPath: helper.auditLogPath };
      const run = await diagnoseAsUser(exe, setupFor(machine, layout), ['--trace-seconds', '1', '--json']);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.out) as { path: string; files: string[]; skipped: Array<{ name: string; reason: string }> };
      expect(result.path).toMatch(new RegExp(`^${machine.home}/berth-diagnostics-\\d{8}-\\d{6}\\.tar\\.gz$`));
      expect(result.skipped).toContainEqual({ name: 'helper-logs/', reason: `${machine.layout.logDir}: not readable: EACCES` });
      // Progress went to stderr, a line per step.
      expect(run.err).toMatch(/^\[ *\d+%\] privileged trace \(0 of 1 s\)$/m);
      expect(run.err).toMatch(/^\[100%\] done$/m);

      const archive = extract(result.path);
      expect(archive.mode).toBe(0o600);
      expect(archive.uid).toBe(users.test.uid);
      expect([...archive.files.keys()].sort()).toEqual(
        [...MEMBERS.filter((m) => m !== 'helper-logs/helper.log'), 'trace.jsonl'].sort(),
      );
      const trace = archive.files.get('trace.jsonl')!.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const frames = trace.filter((l) => 'progress' in l).map((l) => l.progress as { threads: Array<{ pid: number }> });
      expect(frames.length).toBeGreaterThan(0);
      expect(frames[0]!.threads.some((t) => t.pid === run.pid)).toBe(true);
      expect(trace.at(-1)).toEqual({ result: { processes: [expect.objectContaining({ pid: run.pid, exe })], samples: frames.length } });
      // The helper's audit log, read after the trace, shows it.
      expect(archive.files.get('audit.log')).toMatch(/"op":"traceProcesses".*"result":"ok"/);
      expect(JSON.parse(archive.files.get('capabilities.json')!)).toMatchObject({ helper: { state: 'running' } });
      for (const [name, text] of archive.files) expect(text, name).not.toContain(secret);
      expect(archive.files.get('app-logs/backend.log')).toContain('Authorization: [REDACTED]');
    } finally {
      machine.cleanup();
    }
  });

  it('an audit log the user may not read is skipped and the manifest says why; user mode gathers no trace', async () => {
    const machine = makeMachine({ owner: owner(), lockHelperLogs: true });
    try {
      writeFileSync(
        machine.layout.userModePath,
        JSON.stringify({ user: users.test.name, uid: users.test.uid, appPath, installedAt: '2026-01-01T00:00:00Z' }),
        { mode: 0o644 },
      );
      const run = await diagnoseAsUser(exe, setupFor(machine), ['--trace-seconds', '1', '--json']);
      expect(run.code).toBe(0);
      const { path } = JSON.parse(run.out) as { path: string };
      const manifest = JSON.parse(extract(path).files.get('manifest.json')!) as { skipped: Array<{ name: string; reason: string }> };
      expect(manifest.skipped).toEqual(
        expect.arrayContaining([
          { name: 'audit.log', reason: `${machine.layout.auditLogPath}: not readable: EACCES` },
          { name: 'trace.jsonl', reason: 'user mode: no privileged diagnostics trace is gathered' },
        ]),
      );
      expect(extract(path).files.get('install/user-mode.json')).toContain(users.test.name);
    } finally {
      machine.cleanup();
    }
  });

  it('an out dir the user may not write: a clear error, exit 1, nothing left behind', async () => {
    const machine = makeMachine({ owner: owner() });
    const locked = mkdtempSync(join(tmpdir(), 'berth-locked-'));
    chmodSync(locked, 0o755); // root's: the user may look, not write
    try {
      const run = await diagnoseAsUser(exe, setupFor(machine), ['--out', locked, '--trace-seconds', '0']);
      expect(run.code).toBe(1);
      expect(run.err).toBe(`berth diagnose: cannot write to ${locked} (permission denied); choose another folder\n`);
      expect(run.out).toBe('');
      expect(readdirSync(locked)).toEqual([]);
    } finally {
      machine.cleanup();
      rmSync(locked, { recursive: true, force: true });
    }
  });
});
