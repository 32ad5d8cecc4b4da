import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { HelperClient } from '../../main/helper-client';
import { REPO_ROOT } from '../../test/support/constants';
import { finished } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';

const users = inject('users');

describe('socket activation (systemd LISTEN_FDS)', () => {
  it('serves on the socket the service manager bound, started by the first connection, and leaves it in place', async () => {
    const root = safeScratchDir('berth-activation');
    mkdirSync(join(root, 'etc'), { mode: 0o755 });
    mkdirSync(join(root, 'run'), { mode: 0o755 });
    const socketPath = join(root, 'run/helper.sock');
    writeFileSync(join(root, 'etc/helper.json'), JSON.stringify({ socketPath, allowUid: users.test.uid }), { mode: 0o644 });
    // systemd-socket-activate binds the socket and starts the helper on the first connection, as a .socket unit does.
    const manager = spawn(
      'systemd-socket-activate',
      ['-l', socketPath, process.execPath, join(REPO_ROOT, 'dist/helper/berth-helper.js'), 'serve', '--config', join(root, 'etc/helper.json')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const done = finished(manager);
    await new Promise<void>((resolve) => manager.stderr!.on('data', (c: Buffer) => c.toString().includes('Listening on') && resolve()));
    const client = await HelperClient.connect(socketPath);
    expect(client.info.protocol).toBe(1);
    client.close();
    manager.kill('SIGTERM');
    const result = await done;
    expect(result.stderr).toContain('(socket from the service manager)');
    // The helper did not unlink the manager's socket on the way out.
    expect(existsSync(socketPath)).toBe(true);
  });
});
