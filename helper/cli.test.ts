import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import pkg from '../package.json';
import { REPO_ROOT } from '../test/support/constants';
import { finished, spawnFixtureAs, type Finished } from '../test/support/processes';

const users = inject('users');

function helperCli(args: string[]): Promise<Finished> {
  return finished(spawn(process.execPath, [join(REPO_ROOT, 'dist/helper/berth-helper.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('berth-helper command line', () => {
  it('prints its version and help', async () => {
    expect((await helperCli(['--version'])).stdout).toBe(`berth-helper ${pkg.version} (Node ${process.versions.node})\n`);
    const help = await helperCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('serve --socket PATH --allow-uid UID');
  });

  it.each([
    [['launch'], /unknown command "launch"/],
    [['serve'], /serve needs --socket PATH \(or --config FILE\)/],
    [['serve', '--socket', '/run/x.sock'], /serve needs --allow-uid UID/],
    [['serve', '--socket', 'relative.sock', '--allow-uid', '1000'], /socketPath/],
    [['serve', '--socket', '/run/x.sock', '--allow-uid', 'alice'], /--allow-uid must be a whole number/],
    [['serve', '--socket', '/run/x.sock', '--allow-uid', '0'], /allowUid/],
    [['serve', '--socket', '/run/x.sock', '--allow-uid', '1000', '--max-connections', '0'], /maxConnections/],
    [['serve', '--socket', '/run/x.sock', '--allow-uid', '1000', '--verbose'], /Unknown option '--verbose'/],
  ])('refuses %j with exit 64 and says what is wrong', async (args, message) => {
    const result = await helperCli(args);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('berth-helper --help');
  });

  it('refuses to serve unless root, creating nothing', async () => {
    // A directory the user owns: without the root check, the socket would be created here.
    const dir = mkdtempSync(join(tmpdir(), 'berth-notroot-'));
    chownSync(dir, users.test.uid, users.test.gid);
    const result = await finished(
      spawnFixtureAs(users.test, 'helper/berth-helper', ['serve', '--socket', join(dir, 'h.sock'), '--allow-uid', String(users.test.uid)]),
    );
    expect(result.code).toBe(77);
    expect(result.stderr).toContain('serve must run as root');
    expect(existsSync(join(dir, 'h.sock'))).toBe(false);
    rmSync(dir, { recursive: true });
  });
});
