import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { HelperClient } from '../../main/helper-client';
import { REPO_ROOT } from '../../test/support/constants';
import { finished } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';
import { readConfigFile } from './read';

const users = inject('users');
let root: string;
let path: string;

function write(config: unknown): void {
  writeFileSync(path, JSON.stringify(config), { mode: 0o644 });
}

beforeEach(() => {
  root = safeScratchDir('berth-config');
  mkdirSync(join(root, 'etc'), { mode: 0o755 });
  mkdirSync(join(root, 'run'), { mode: 0o755 });
  path = join(root, 'etc/helper.json');
});

describe('the installed config file', () => {
  it('reads a root-owned config and fills in the defaults', () => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUids: [users.test.uid, users.other.uid], appPath: '/opt/Berth' });
    expect(readConfigFile(path)).toMatchObject({
      allowUids: [users.test.uid, users.other.uid],
      appPath: '/opt/Berth',
      linkDir: '/usr/local/bin',
      limits: { maxConnections: 64, maxConnectionsPerUid: 16 },
    });
  });

  it('reads a config an older install wrote (one allowUid) as a list of that uid', () => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUid: users.test.uid, appPath: '/opt/Berth' });
    const config = readConfigFile(path);
    expect(config.allowUids).toEqual([users.test.uid]);
    expect(config).not.toHaveProperty('allowUid');
  });

  it('refuses a config with a repeated or reserved uid, naming the field', () => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUids: [users.test.uid, users.test.uid] });
    expect(() => readConfigFile(path)).toThrow(/allowUids: must not repeat a uid/);
    write({ socketPath: join(root, 'run/helper.sock'), allowUids: [65535] });
    expect(() => readConfigFile(path)).toThrow(/allowUids\.0: must not be 65535/);
  });

  it.each([
    ['owned by a user', () => chownSync(path, users.test.uid, users.test.gid), /owned by uid/],
    ['writable by its group', () => chmodSync(path, 0o664), /writable by group or others/],
    ['in a directory a user owns', () => chownSync(join(root, 'etc'), users.test.uid, users.test.gid), /owned by uid/],
  ])('refuses a config %s', (_what, spoil, message) => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUid: users.test.uid });
    spoil();
    expect(() => readConfigFile(path)).toThrow(message);
  });

  it('refuses a symlinked config, a missing one, bad JSON and unknown keys', () => {
    writeFileSync(join(root, 'elsewhere.json'), JSON.stringify({ socketPath: '/run/x.sock', allowUid: 1000 }));
    symlinkSync(join(root, 'elsewhere.json'), path);
    expect(() => readConfigFile(path)).toThrow(/is a symlink/);
    expect(() => readConfigFile(join(root, 'etc/none.json'))).toThrow(/does not exist: is the helper installed/);
    writeFileSync(join(root, 'etc/bad.json'), '{"socketPath":', { mode: 0o644 });
    expect(() => readConfigFile(join(root, 'etc/bad.json'))).toThrow(/not valid JSON/);
    writeFileSync(join(root, 'etc/extra.json'), JSON.stringify({ socketPath: '/run/x.sock', allowUid: 1000, allowAll: true }), {
      mode: 0o644,
    });
    expect(() => readConfigFile(join(root, 'etc/extra.json'))).toThrow(/allowAll/);
  });

  it('is what `serve --config` runs with', async () => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUid: users.test.uid });
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/helper/berth-helper.js'), 'serve', '--config', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const done = finished(child);
    await new Promise<void>((resolve) => child.stderr!.on('data', (c: Buffer) => c.toString().includes(': serving on') && resolve()));
    const client = await HelperClient.connect(join(root, 'run/helper.sock'));
    expect(client.info.protocol).toBe(1);
    client.close();
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('refuses --config mixed with other options, and a bad file with exit 78', async () => {
    write({ socketPath: join(root, 'run/helper.sock'), allowUid: users.test.uid });
    const helper = join(REPO_ROOT, 'dist/helper/berth-helper.js');
    const mixed = await finished(spawn(process.execPath, [helper, 'serve', '--config', path, '--allow-uid', '5'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(mixed.code).toBe(64);
    expect(mixed.stderr).toContain('--config takes no other options');
    chmodSync(path, 0o666);
    const bad = await finished(spawn(process.execPath, [helper, 'serve', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('writable by group or others');
  });
});
