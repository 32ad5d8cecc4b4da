// Berth's single executable as the packaged app ships it: one Node SEA, made
// by scripts/build-helper.mjs from the pinned Node, that is the helper when
// it runs as berth-helper and the CLI as berth, with the native addon beside
// it. Built once here (from a copy of dist/sea-bundle taken at the start)
// into a temp dir, so dist/ is never touched while other tests use it.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BERTH_VERSION } from '../common/app-version';
import { REPO_ROOT } from '../test/support/constants';
import { runIsolated } from '../test/support/isolated-system';
import { finished, runFixtureAs, spawnAs, startHelper } from '../test/support/processes';
import { safeScratchDir } from '../test/support/scratch';
import { hostTarget, pinnedVersion } from './node-runtime.mjs';

const users = inject('users');
const SCRIPT = join(REPO_ROOT, 'scripts/build-helper.mjs');
const NODE_VERSION = pinnedVersion();
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let scratch: string;
/** The bundle and addon as scripts/build.mjs wrote them, copied at the start. */
let bundleDir: string;
let seaDir: string;
let helper: string;
let cli: string;
let buildOutput: string;

function buildHelper(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file (relative path) under `dir`. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** The first bytes of a 64-bit Mach-O for `cpu` (arm64: 0x0100000c): enough for the build's header checks. */
function machOStub(file: string, cpu: number): void {
  const header = Buffer.alloc(4096);
  header.writeUInt32LE(0xfeedfacf, 0);
  header.writeUInt32LE(cpu, 4);
  writeFileSync(file, header, { mode: 0o755 });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'berth-sea-'));
  chmodSync(scratch, 0o755);
  bundleDir = join(scratch, 'bundle');
  mkdirSync(bundleDir);
  for (const file of ['berth.js', 'berth_native.node']) copyFileSync(join(REPO_ROOT, 'dist/sea-bundle', file), join(bundleDir, file));
  seaDir = join(scratch, 'sea');
  const built = buildHelper(['--from', bundleDir, '--out', seaDir]);
  if (built.status !== 0) throw new Error(`build-helper failed (${built.status}): ${built.stdout}${built.stderr}`);
  buildOutput = built.stdout;
  helper = join(seaDir, 'berth-helper');
  cli = join(seaDir, 'berth');
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run build:helper (scripts/build-helper.mjs)', () => {
  it('writes one file under both names, from the pinned Node, stripped, with its code cache and the addon beside it, saying what it did', () => {
    expect(buildOutput.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^build:helper: Node ${escape(NODE_VERSION)} for ${hostTarget()}: /`)),
      `build:helper: preparing the SEA blob from ${join(bundleDir, 'berth.js')} with its code cache`,
      expect.stringMatching(/^build:helper: stripped symbols and debug info \(\d+\.\d MiB -> \d+\.\d MiB\)$/),
      expect.stringMatching(/^build:helper: injecting it into .*\/berth$/),
      expect.stringMatching(
        new RegExp(
          `^build:helper: ${escape(cli)} and berth-helper \\(one file, \\d+\\.\\d MiB, reports "berth ${escape(BERTH_VERSION)} \\(Node ${escape(NODE_VERSION)}\\)"\\) with berth_native.node beside it$`,
        ),
      ),
      '',
    ]);
    expect(readdirSync(seaDir).sort()).toEqual(['berth', 'berth-helper', 'berth_native.node']);
    // One file: a hard link, not a copy and not a symlink.
    expect(statSync(helper).ino).toBe(statSync(cli).ino);
    expect(statSync(cli).nlink).toBe(2);
    // No staging or blob left in the parent either.
    expect(readdirSync(scratch).sort()).toEqual(['bundle', 'sea']);
    expect(readFileSync(join(seaDir, 'berth_native.node'))).toEqual(readFileSync(join(bundleDir, 'berth_native.node')));
    // A real executable, not node plus a script: the blob is inside.
    expect(readFileSync(cli).includes('NODE_SEA_BLOB')).toBe(true);
    // Stripped before the blob went in: no symbol table or DWARF left (readelf lists the sections).
    const sections = execFileSync('readelf', ['-S', '-W', cli], { encoding: 'utf8' });
    expect(sections).not.toMatch(/\.symtab|\.debug_info/);
    expect(sections).toMatch(/\.dynsym/);
  });

  it('refuses a --from without the bundle, naming the missing file, and writes nothing', () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const out = join(scratch, 'not-made');
    const result = buildHelper(['--from', empty, '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`build:helper: ${join(empty, 'berth.js')} is missing; --from must hold berth.js and berth_native.node (run "npm run build")\n`);
    expect(existsSync(out)).toBe(false);
    rmSync(empty, { recursive: true });
  });

  it('refuses a bundle without its addon', () => {
    const half = join(scratch, 'half');
    mkdirSync(half);
    copyFileSync(join(bundleDir, 'berth.js'), join(half, 'berth.js'));
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
    rmSync(other, { recursive: true });
  });

  it('refuses an --out whose parent does not exist, creating nothing', () => {
    const result = buildHelper(['--from', bundleDir, '--out', join(scratch, 'no/such/dir')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`build:helper: ${join(scratch, 'no/such')} does not exist; create it or choose another --out\n`);
    expect(existsSync(join(scratch, 'no'))).toBe(false);
  });

  it('refuses an unknown option, an unknown target or an empty value with usage (exit 64)', () => {
    const unknown = buildHelper(['--output', seaDir]);
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toContain("Unknown option '--output'");
    expect(unknown.stderr).toContain(
      'usage: node scripts/build-helper.mjs [--target linux-x64|linux-arm64|darwin-x64|darwin-arm64] [--from DIR] [--addon FILE] [--out DIR]',
    );
    const target = buildHelper(['--target', 'cli']);
    expect(target.status).toBe(64);
    expect(target.stderr).toContain('build:helper: --target must be a platform Berth ships for: linux-x64, linux-arm64, darwin-x64, darwin-arm64');
    const empty = buildHelper(['--out', '']);
    expect(empty.status).toBe(64);
    expect(empty.stderr).toContain('build:helper: --out must not be empty');
    expect(readdirSync(seaDir).sort()).toEqual(['berth', 'berth-helper', 'berth_native.node']);
  });

  it('for another platform, needs the addon built for it and refuses one built for this machine', () => {
    const out = join(scratch, 'not-made');
    const without = buildHelper(['--target', 'darwin-arm64', '--from', bundleDir, '--out', out]);
    expect(without.status).toBe(1);
    expect(without.stderr).toBe(
      'build:helper: the native addon must be built for darwin-arm64: pass --addon FILE (built by "npm ci" on a darwin-arm64 machine)\n',
    );
    const wrong = buildHelper(['--target', 'darwin-arm64', '--from', bundleDir, '--addon', join(bundleDir, 'berth_native.node'), '--out', out]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toBe(
      `build:helper: the addon ${join(bundleDir, 'berth_native.node')} is elf ${process.arch}, but the target is darwin-arm64 (mach-o arm64)\n`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("cross-builds the macOS arm64 executable from that platform's pinned Node, checked by its header and SEA fuse (signed later, on macOS)", () => {
    const addon = join(scratch, 'darwin-addon.node');
    machOStub(addon, 0x0100000c);
    const out = join(scratch, 'sea-darwin-arm64');
    const result = buildHelper(['--target', 'darwin-arm64', '--from', bundleDir, '--addon', addon, '--out', out]);
    expect(result.stderr, result.stdout).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`build:helper: Node ${NODE_VERSION} for darwin-arm64: `);
    expect(result.stdout).toContain('(no code cache: another platform)');
    expect(result.stdout).toContain('postject drops the official signature itself; sign the result on macOS (electron-builder does)');
    expect(result.stdout).toMatch(/and berth-helper \(one file, \d+\.\d MiB, built for darwin-arm64, not run here\) with berth_native\.node beside it\n$/);
    const binary = readFileSync(join(out, 'berth'));
    expect(binary.readUInt32LE(0)).toBe(0xfeedfacf);
    expect(binary.readUInt32LE(4)).toBe(0x0100000c);
    // The blob went into its own segment, and Node will find it: the fuse is flipped.
    expect(binary.includes('NODE_SEA\0')).toBe(true);
    expect(binary.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true);
    expect(statSync(join(out, 'berth-helper')).ino).toBe(statSync(join(out, 'berth')).ino);
    expect(readFileSync(join(out, 'berth_native.node'))).toEqual(readFileSync(addon));
    rmSync(out, { recursive: true });
  }, 300_000);
});

describe('the single executable, by the name it runs as', () => {
  it('--version: each name says what it is and the pinned Node inside, and nothing else', () => {
    for (const [file, name] of [
      [helper, 'berth-helper'],
      [cli, 'berth'],
    ] as const) {
      const result = spawnSync(file, ['--version'], { encoding: 'utf8' });
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(`${name} ${BERTH_VERSION} (Node ${NODE_VERSION})\n`);
      // No "single executable applications is experimental" banner in the helper's log.
      expect(result.stderr).toBe('');
    }
  });

  it("--help: the helper's usage as berth-helper, the CLI's as berth", () => {
    const helperHelp = spawnSync(helper, ['--help'], { encoding: 'utf8' });
    expect(helperHelp.status).toBe(0);
    expect(helperHelp.stdout).toMatch(new RegExp(`^berth-helper ${escape(BERTH_VERSION)} — Berth's privileged helper\n`));
    expect(helperHelp.stdout).toContain('berth-helper serve --socket PATH --allow-uid UID');
    const cliHelp = spawnSync(cli, ['--help'], { encoding: 'utf8' });
    expect(cliHelp.status).toBe(0);
    expect(cliHelp.stdout).toMatch(new RegExp(`^berth ${escape(BERTH_VERSION)} — `));
    expect(cliHelp.stdout).toMatch(/^ {2}ports {13}/m);
    expect(cliHelp.stdout).not.toContain('berth-helper serve');
    // The same command, two programs: `install` is the helper's, unknown to the CLI.
    expect(spawnSync(cli, ['install'], { encoding: 'utf8' }).stderr).not.toContain('berth-helper');
  });

  it('a symlink cannot change the role (the name is that of the file the kernel ran), and a copy under another name refuses', () => {
    const links = join(scratch, 'names');
    mkdirSync(links);
    symlinkSync(cli, join(links, 'berth-helper'));
    expect(execFileSync(join(links, 'berth-helper'), ['--version'], { encoding: 'utf8' })).toBe(`berth ${BERTH_VERSION} (Node ${NODE_VERSION})\n`);
    linkSync(cli, join(links, 'node'));
    const other = spawnSync(join(links, 'node'), ['-e', 'console.log(1)'], { encoding: 'utf8' });
    expect(other.status).toBe(64);
    expect(other.stdout).toBe('');
    expect(other.stderr).toBe('node: this is Berth\'s single executable; run it as "berth" (the CLI) or "berth-helper" (the helper)\n');
    rmSync(links, { recursive: true });
  });

  it('serves as root under the helper name: berth-test says hello and gets a privileged port, with the addon mapped from beside the binary and no temp files', async () => {
    const ownTmp = mkdtempSync(join(tmpdir(), 'berth-sea-tmp-'));
    const running = await startHelper({ allowUid: users.test.uid, executable: helper, env: { TMPDIR: ownTmp } });
    try {
      expect(running.stderr()).toMatch(new RegExp(`^berth-helper ${escape(BERTH_VERSION)}: serving on `));
      const hello = await runFixtureAs<{ ok: boolean; uid: number; info: { helperVersion: string } }>(users.test, 'helper-client', [
        'hello',
        running.socketPath,
      ]);
      expect(hello).toMatchObject({ ok: true, uid: users.test.uid, info: { helperVersion: BERTH_VERSION } });
      const bound = await runFixtureAs(users.test, 'helper-client', ['bind', running.socketPath, '127.0.0.1', '987', 'tcp']);
      expect(bound).toEqual({ ok: true, address: '127.0.0.1', port: 987, protocol: 'tcp', owner: users.test.uid });

      const pid = running.child.pid!;
      // The running program is the single executable itself, by its helper name, not node plus a script.
      expect(execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).trim()).toBe(helper);
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
      expect(await running.stop()).toBe(0);
      rmSync(ownTmp, { recursive: true, force: true });
    }
  });

  it('refuses to start without the addon beside it, with a clear error, creating nothing', () => {
    const lonely = join(scratch, 'lonely');
    const socketDir = join(scratch, 'lonely-socket');
    mkdirSync(lonely, { mode: 0o755 });
    mkdirSync(socketDir, { mode: 0o755 });
    linkSync(helper, join(lonely, 'berth-helper'));
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

describe('the packaged app: resources/bin/berth and resources/helper/berth-helper, one file', () => {
  // <app>/resources as electron-builder and the afterPack hook leave it, on a root-only path
  // as an installed app is; the CLI is run the way users do: through a link on their PATH.
  let app: string;
  let link: string;
  beforeAll(() => {
    app = join(safeScratchDir('berth-packaged'), 'Berth');
    mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
    mkdirSync(join(app, 'resources/helper'), { mode: 0o755 });
    cpSync(join(seaDir, 'berth'), join(app, 'resources/bin/berth'));
    copyFileSync(join(seaDir, 'berth_native.node'), join(app, 'resources/bin/berth_native.node'));
    linkSync(join(app, 'resources/bin/berth'), join(app, 'resources/helper/berth-helper'));
    linkSync(join(app, 'resources/bin/berth_native.node'), join(app, 'resources/helper/berth_native.node'));
    execFileSync('chmod', ['-R', 'a+rX', app]);
    mkdirSync(join(scratch, 'links'), { mode: 0o755 });
    link = join(scratch, 'links/berth');
    symlinkSync(join(app, 'resources/bin/berth'), link);
  });

  it('answers --version as the user, through the link, with no banner', async () => {
    expect(await finished(spawnAs(users.test, [link, '--version']))).toEqual({ code: 0, stdout: `berth ${BERTH_VERSION} (Node ${NODE_VERSION})\n`, stderr: '' });
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
    const running = await startHelper({ allowUid: users.test.uid });
    try {
      const result = await finished(spawnAs(users.test, [link, 'helper', 'status', '--socket', running.socketPath, '--json']));
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'running', helper: { helperVersion: BERTH_VERSION } });
    } finally {
      await running.stop();
    }
  });

  it('the installer, run from resources/helper/berth-helper, installs that file as the helper, which serves the user and the CLI; uninstall leaves nothing', async () => {
    const run = await runIsolated(`
      APP=${app}
      "$APP/resources/helper/berth-helper" install --app "$APP" --uid $TEST_UID
      echo "== files"; ls /usr/local/libexec/berth
      echo "== stat"; stat -c '%n %U %a %h' /usr/local/libexec/berth/berth-helper
      echo "== same"; cmp -s /usr/local/libexec/berth/berth-helper "$APP/resources/helper/berth-helper" && echo yes
      echo "== version"; /usr/local/libexec/berth/berth-helper --version
      echo "== hello"; setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups -- node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      echo "== status"; setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups -- "$APP/resources/bin/berth" helper status --json
      echo "== uninstall"; "$APP/resources/helper/berth-helper" uninstall
      echo "== left"; { find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' 2>/dev/null || true; } | sort
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    // The installer copies the program it runs as: the single executable, under the helper's name.
    expect(section('files').split('\n')).toEqual(['berth-helper', 'berth_native.node']);
    expect(section('stat')).toBe('/usr/local/libexec/berth/berth-helper root 755 1');
    expect(section('same')).toBe('yes');
    expect(section('version')).toBe(`berth-helper ${BERTH_VERSION} (Node ${NODE_VERSION})`);
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(JSON.parse(section('status'))).toMatchObject({ state: 'running', helper: { helperVersion: BERTH_VERSION } });
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
    expect(section('left')).toBe('');
  });
});
