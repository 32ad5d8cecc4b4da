// The helper as the packaged app ships it: a Node single executable (SEA)
// made by scripts/build-helper.mjs, with the native addon beside it. Built
// once here (a few seconds) from the bundle the global setup snapshotted,
// into a temp dir, so dist/ is never touched while other tests use it.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BERTH_VERSION } from '../common/app-version';
import { REPO_ROOT } from '../test/support/constants';
import { finished, runFixtureAs, spawnAs, startHelper } from '../test/support/processes';

const users = inject('users');
const SCRIPT = join(REPO_ROOT, 'scripts/build-helper.mjs');
/** The bundle + addon the global setup copied from dist/helper/ at the start of the run. */
const bundleDir = join(inject('fixturesDir'), 'helper');

let scratch: string;
let seaDir: string;
let sea: string;
let buildOutput: string;

function buildHelper(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file (relative path) under `dir`. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'berth-sea-'));
  chmodSync(scratch, 0o755);
  seaDir = join(scratch, 'helper-sea');
  const built = buildHelper(['--from', bundleDir, '--out', seaDir]);
  if (built.status !== 0) throw new Error(`build-helper failed (${built.status}): ${built.stdout}${built.stderr}`);
  buildOutput = built.stdout;
  sea = join(seaDir, 'berth-helper');
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run build:helper (scripts/build-helper.mjs)', () => {
  it('writes the SEA and the addon beside it, saying what it did', () => {
    expect(buildOutput.split('\n')).toEqual([
      `build:helper: preparing the SEA blob from ${join(bundleDir, 'berth-helper.js')}`,
      `build:helper: injecting it into a copy of node ${process.version} (${process.execPath})`,
      expect.stringMatching(new RegExp(`^build:helper: ${seaDir}/berth-helper \\(\\d+\\.\\d MiB, reports ${BERTH_VERSION.replaceAll('.', '\\.')}\\) with berth_native.node beside it$`)),
      '',
    ]);
    expect(readdirSync(seaDir).sort()).toEqual(['berth-helper', 'berth_native.node']);
    // No staging or blob left in the parent either.
    expect(readdirSync(scratch)).toEqual(['helper-sea']);
    expect(readFileSync(join(seaDir, 'berth_native.node'))).toEqual(readFileSync(join(bundleDir, 'berth_native.node')));
    // A real executable, not node plus a script: the blob is inside.
    expect(readFileSync(sea).includes('NODE_SEA_BLOB')).toBe(true);
  });

  it('refuses a --from without the bundle, naming the missing file, and writes nothing', () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const out = join(scratch, 'not-made');
    const result = buildHelper(['--from', empty, '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `build:helper: ${join(empty, 'berth-helper.js')} is missing; --from must hold berth-helper.js and berth_native.node (run "npm run build")\n`,
    );
    expect(existsSync(out)).toBe(false);
    rmSync(empty, { recursive: true });
  });

  it('refuses a bundle without its addon', () => {
    const half = join(scratch, 'half');
    mkdirSync(half);
    copyFileSync(join(bundleDir, 'berth-helper.js'), join(half, 'berth-helper.js'));
    const out = join(scratch, 'not-made');
    const result = buildHelper(['--from', half, '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${join(half, 'berth_native.node')} is missing`);
    expect(existsSync(out)).toBe(false);
    rmSync(half, { recursive: true });
  });

  it('refuses to replace a directory holding anything but an earlier build, and leaves it as it was', () => {
    const other = join(scratch, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    const result = buildHelper(['--from', bundleDir, '--out', other]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`build:helper: ${other} holds files this build did not make (notes.txt); choose an empty or new --out\n`);
    expect(listTree(other)).toEqual(['notes.txt']);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(scratch).sort()).toEqual(['helper-sea', 'other']);
    rmSync(other, { recursive: true });
  });

  it('refuses an --out whose parent does not exist, creating nothing', () => {
    const result = buildHelper(['--from', bundleDir, '--out', join(scratch, 'no/such/dir')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`build:helper: ${join(scratch, 'no/such')} does not exist; create it or choose another --out\n`);
    expect(existsSync(join(scratch, 'no'))).toBe(false);
  });

  it('refuses an unknown option or an empty value with usage (exit 64)', () => {
    const unknown = buildHelper(['--output', seaDir]);
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toContain("Unknown option '--output'");
    expect(unknown.stderr).toContain('usage: node scripts/build-helper.mjs [--target helper|cli] [--from DIR] [--out DIR]');
    const target = buildHelper(['--target', 'gui']);
    expect(target.status).toBe(64);
    expect(target.stderr).toContain('build:helper: --target must be helper or cli (got "gui")');
    const empty = buildHelper(['--out', '']);
    expect(empty.status).toBe(64);
    expect(empty.stderr).toContain('build:helper: --out must not be empty');
    expect(readdirSync(seaDir).sort()).toEqual(['berth-helper', 'berth_native.node']);
  });
});

describe('the helper SEA', () => {
  it('--version prints the version, and nothing else', () => {
    const result = spawnSync(sea, ['--version'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${BERTH_VERSION}\n`);
    // No "single executable applications is experimental" banner in the helper's log.
    expect(result.stderr).toBe('');
  });

  it('serves as root: berth-test says hello and gets a privileged port, with the addon mapped from beside the binary and no temp files', async () => {
    const ownTmp = mkdtempSync(join(tmpdir(), 'berth-sea-tmp-'));
    const helper = await startHelper({ allowUid: users.test.uid, executable: sea, env: { TMPDIR: ownTmp } });
    try {
      expect(helper.stderr()).toMatch(new RegExp(`^berth-helper ${BERTH_VERSION}: serving on `));
      const hello = await runFixtureAs<{ ok: boolean; uid: number; info: { helperVersion: string } }>(users.test, 'helper-client', [
        'hello',
        helper.socketPath,
      ]);
      expect(hello).toMatchObject({ ok: true, uid: users.test.uid, info: { helperVersion: BERTH_VERSION } });
      const bound = await runFixtureAs(users.test, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '987', 'tcp']);
      expect(bound).toEqual({ ok: true, address: '127.0.0.1', port: 987, protocol: 'tcp', owner: users.test.uid });

      const pid = helper.child.pid!;
      // The running program is the SEA itself, not node plus a script.
      expect(execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).trim()).toBe(sea);
      // The addon in memory is the very file beside the binary: never a copy extracted elsewhere.
      const mapped = new Set(
        readFileSync(`/proc/${pid}/maps`, 'utf8')
          .split('\n')
          .map((line) => line.split(/\s+/).slice(5).join(' '))
          .filter((file) => file.endsWith('.node')),
      );
      expect([...mapped]).toEqual([join(seaDir, 'berth_native.node')]);
      expect(readdirSync(ownTmp)).toEqual([]);
    } finally {
      expect(await helper.stop()).toBe(0);
      rmSync(ownTmp, { recursive: true, force: true });
    }
  });

  it('refuses to start without the addon beside it, with a clear error, creating nothing', () => {
    const lonely = join(scratch, 'lonely');
    const socketDir = join(scratch, 'lonely-socket');
    mkdirSync(lonely, { mode: 0o755 });
    mkdirSync(socketDir, { mode: 0o755 });
    copyFileSync(sea, join(lonely, 'berth-helper'));
    chmodSync(join(lonely, 'berth-helper'), 0o755);
    // An addon elsewhere (the bundle's, and a build/Release beside the binary) must not be picked up instead.
    mkdirSync(join(lonely, 'build/Release'), { recursive: true });
    copyFileSync(join(bundleDir, 'berth_native.node'), join(lonely, 'build/Release/berth_native.node'));

    const result = spawnSync(
      join(lonely, 'berth-helper'),
      ['serve', '--socket', join(socketDir, 'helper.sock'), '--allow-uid', String(users.test.uid)],
      { encoding: 'utf8', cwd: bundleDir, timeout: 30_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `berth-helper: Berth native addon not found: ${join(lonely, 'berth_native.node')} must sit beside this binary; reinstall Berth\n`,
    );
    expect(readdirSync(socketDir)).toEqual([]);
    rmSync(lonely, { recursive: true });
    rmSync(socketDir, { recursive: true });
  });
});

describe('the CLI SEA (npm run build:helper -- --target cli), where the packaged app ships it', () => {
  // <app>/resources/bin/berth as electron-builder lays it out, run the way users do: through a link on their PATH.
  let app: string;
  let link: string;
  beforeAll(() => {
    app = join(scratch, 'Berth');
    mkdirSync(join(app, 'resources'), { recursive: true, mode: 0o755 });
    const built = buildHelper(['--target', 'cli', '--from', join(inject('fixturesDir'), 'cli'), '--out', join(app, 'resources/bin')]);
    if (built.status !== 0) throw new Error(`build-helper --target cli failed (${built.status}): ${built.stdout}${built.stderr}`);
    expect(built.stdout).toMatch(new RegExp(`${app}/resources/bin/berth \\(\\d+\\.\\d MiB, reports ${BERTH_VERSION.replaceAll('.', '\\.')}\\) with berth_native.node beside it`));
    mkdirSync(join(scratch, 'links'), { mode: 0o755 });
    link = join(scratch, 'links/berth');
    symlinkSync(join(app, 'resources/bin/berth'), link);
  }, 120_000);

  it('answers --version as the user, through the link, with no banner', async () => {
    expect(readdirSync(join(app, 'resources/bin')).sort()).toEqual(['berth', 'berth_native.node']);
    expect(await finished(spawnAs(users.test, [link, '--version']))).toEqual({ code: 0, stdout: `${BERTH_VERSION}\n`, stderr: '' });
  });

  it('knows the app it belongs to from its own path, and that berth app is not for it', async () => {
    const result = await finished(spawnAs(users.test, [link, 'app', '--port', '0']));
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `berth: berth app runs Berth from a build of it; this is the CLI of the installed app (${app}): open Berth itself instead\n`,
    });
  });

  it('talks to the helper with the addon beside it', async () => {
    const helper = await startHelper({ allowUid: users.test.uid });
    try {
      const result = await finished(spawnAs(users.test, [link, 'helper', 'status', '--socket', helper.socketPath, '--json']));
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'running', helper: { helperVersion: BERTH_VERSION } });
    } finally {
      await helper.stop();
    }
  });
});
