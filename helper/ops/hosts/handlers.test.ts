/**
 * The ensureHosts / removeHosts handlers on the real /etc/hosts path, each
 * run in a child mount namespace where a scratch directory is /etc.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { assertPrivateMountNamespace } from '../../../test/support/namespace';
import { finished, runFixtureAs } from '../../../test/support/processes';
import { blockEntries, ensureBlock } from './index';
import { USER_CONTENT, useScratchHosts } from './test-setup';

const users = inject('users');
const scratch = useScratchHosts();
let dir: string;
beforeEach(() => ({ dir } = scratch()));

describe('the ensureHosts / removeHosts handlers on /etc/hosts', () => {
  /**
   * Runs the real handlers (bundled in the hosts-writer fixture) in a child
   * mount namespace of the suite's private one, where a scratch directory is
   * bind-mounted over /etc: the handlers act on HOSTS_PATH itself, and the
   * machine's /etc (where a backup would go) is never touched.
   */
  async function handler(
    etc: string,
    op: 'ensure' | 'remove',
    hostsSource?: string,
    peer: { uid: number; enrolled: number[] } = { uid: 0, enrolled: [] },
  ): Promise<Record<string, unknown>> {
    assertPrivateMountNamespace();
    const script = 'mount --bind "$1" /etc && { [ -z "$5" ] || mount --bind "$5" /etc/hosts; } && exec "$2" "$3" handler "$4" "$6" "$7"';
    const fixture = join(inject('fixturesDir'), 'hosts-writer.js');
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', etc, process.execPath, fixture, op, hostsSource ?? '', String(peer.uid), peer.enrolled.join(',')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    const { code, stdout, stderr } = await finished(child);
    expect(code, stderr).toBe(0);
    return JSON.parse(stdout.trim()) as Record<string, unknown>;
  }

  it('ensureHosts then removeHosts edit /etc/hosts and restore it byte for byte', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), USER_CONTENT);
    expect(await handler(etc, 'ensure')).toEqual({ ok: true, result: { changed: true, method: 'rename' } });
    expect(readFileSync(join(etc, 'hosts')).equals(ensureBlock(Buffer.from(USER_CONTENT, 'latin1')))).toBe(true);
    expect(await handler(etc, 'ensure')).toEqual({ ok: true, result: { changed: false, method: 'none' } });
    expect(await handler(etc, 'remove')).toEqual({ ok: true, result: { changed: true, method: 'rename' } });
    expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe(USER_CONTENT);
  });

  it('a bind-mounted /etc/hosts (as in a container) is edited in place with /etc/hosts.berth-backup', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), 'placeholder\n');
    const source = join(dir, 'container-hosts');
    writeFileSync(source, USER_CONTENT);
    expect(await handler(etc, 'ensure', source)).toEqual({
      ok: true,
      result: { changed: true, method: 'in-place', backupPath: '/etc/hosts.berth-backup' },
    });
    expect(readFileSync(join(etc, 'hosts.berth-backup'), 'latin1')).toBe(USER_CONTENT);
    expect(blockEntries(readFileSync(source)).length).toBe(3);
    expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe('placeholder\n');
  });

  it('two accounts: the block stays while either wants it, the result says why, and the last removal restores the file', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), USER_CONTENT);
    const [a, b] = [users.test.uid, users.other.uid];
    const as = (uid: number) => ({ uid, enrolled: [a, b] });
    expect(await handler(etc, 'ensure', undefined, as(a))).toEqual({ ok: true, result: { changed: true, method: 'rename' } });
    expect(await handler(etc, 'ensure', undefined, as(b))).toEqual({ ok: true, result: { changed: false, method: 'none' } });
    const kept = { ok: true, result: { changed: false, method: 'none', kept: 'still used by another account on this computer' } };
    expect(await handler(etc, 'remove', undefined, as(a))).toEqual(kept);
    expect(readFileSync(join(etc, 'hosts')).equals(ensureBlock(Buffer.from(USER_CONTENT, 'latin1')))).toBe(true);
    // Removing twice does not count twice: the other account still wants it.
    expect(await handler(etc, 'remove', undefined, as(a))).toEqual(kept);
    expect(JSON.parse(readFileSync(join(etc, 'berth-state/wants.json'), 'utf8'))).toEqual({ version: 1, hosts: [b], links: {} });
    expect(await handler(etc, 'remove', undefined, as(b))).toEqual({ ok: true, result: { changed: true, method: 'rename' } });
    expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe(USER_CONTENT);
  });

  it("an older install's block (no record yet) is the first enrolled account's: a newer account's removal keeps it", async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), ensureBlock(Buffer.from(USER_CONTENT, 'latin1')));
    const [a, b] = [users.test.uid, users.other.uid];
    const removeAs = (uid: number) => handler(etc, 'remove', undefined, { uid, enrolled: [a, b] });
    expect(await removeAs(b)).toMatchObject({ ok: true, result: { changed: false, kept: 'still used by another account on this computer' } });
    expect(await removeAs(a)).toEqual({ ok: true, result: { changed: true, method: 'rename' } });
    expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe(USER_CONTENT);
  });

  it('a foreign berth.internal line in /etc/hosts is a CONFLICT on the wire shape', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost berth.internal\n');
    const outcome = await handler(etc, 'ensure');
    expect(outcome).toMatchObject({ ok: false, code: 'CONFLICT' });
    expect(String(outcome.message)).toContain('line 1 of /etc/hosts');
  });

  it('through the real helper process, the allowed user ensures and removes the block, and it is audited', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    writeFileSync(join(etc, 'hosts'), USER_CONTENT);
    const run = join(dir, 'run');
    mkdirSync(run, { mode: 0o755 });
    const socket = join(run, 'helper.sock');
    const auditLog = join(run, 'audit.log');
    assertPrivateMountNamespace();
    // The bundled helper, as root, in a child namespace whose /etc is the scratch one (see handler() above).
    const script = 'mount --bind "$1" /etc && exec "$2" "$3" serve --socket "$4" --allow-uid "$5" --audit-log "$6" --state-dir "$7"';
    const helper = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', etc, process.execPath, join(inject('fixturesDir'), 'helper', 'berth-helper.js'), socket, String(users.test.uid), auditLog, join(dir, 'state')],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let stderr = '';
        helper.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (/serving on /.test(stderr)) resolve();
        });
        helper.once('exit', (code) => reject(new Error(`helper exited (${code}) before listening: ${stderr}`)));
      });
      const request = (op: string) => runFixtureAs(users.test, 'helper-client', ['request', socket, op, '{}']);

      expect(await request('ensureHosts')).toEqual({ ok: true, result: { changed: true, method: 'rename' }, progress: 0 });
      expect(readFileSync(join(etc, 'hosts')).equals(ensureBlock(Buffer.from(USER_CONTENT, 'latin1')))).toBe(true);
      expect(await request('ensureHosts')).toEqual({ ok: true, result: { changed: false, method: 'none' }, progress: 0 });
      expect(await request('removeHosts')).toEqual({ ok: true, result: { changed: true, method: 'rename' }, progress: 0 });
      expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe(USER_CONTENT);

    } finally {
      helper.kill('SIGTERM');
      await exited;
    }
    // Read after a clean stop, which writes the count of the repeated ensureHosts (the rate limit folds identical successes).
    const audited = readFileSync(auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { op: string; result: string; peer: { uid: number }; repeated?: number });
    expect(audited.map((entry) => [entry.op, entry.result, entry.peer.uid, entry.repeated])).toEqual([
      ['ensureHosts', 'ok', users.test.uid, undefined],
      ['removeHosts', 'ok', users.test.uid, undefined],
      ['ensureHosts', 'ok', users.test.uid, 1],
    ]);
  });
});
