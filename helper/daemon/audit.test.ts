import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { generateKeyPair } from '../../common/policy';
import { HelperClient, HelperRequestError } from '../../main/helper-client';
import { safeScratchDir } from '../../test/support/scratch';
import { runFixtureAs, startHelper, type HelperProcess } from '../../test/support/processes';
import { RawClient } from '../../test/support/raw-client';
import { openAuditLog, type AuditEntry } from './audit';

const users = inject('users');

/** A signed-looking document with many unknown keys: its refusal message lists them all. */
function noisyPolicy(): string {
  const extra = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`unknown_key_number_${i}`, i]));
  return JSON.stringify({ format: 'berth-policy/1', ...extra });
}

describe('the audit log under abuse', () => {
  let helper: HelperProcess;
  let root: string;
  beforeAll(async () => {
    root = safeScratchDir('berth-audit');
    writeFileSync(join(root, 'org.pub.pem'), generateKeyPair().publicKeyPem);
    // A tiny file system for the log: filling it must not stop the helper.
    mkdirSync(join(root, 'log'), { mode: 0o755 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'berth-audit-log', join(root, 'log')]);
    helper = await startHelper({
      allowUid: users.test.uid,
      extraArgs: ['--org-key', join(root, 'org.pub.pem'), '--state-dir', join(root, 'state'), '--audit-log', join(root, 'log/audit.log')],
    });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
    execFileSync('umount', [join(root, 'log')]);
  });

  const auditLines = (): Array<Record<string, unknown>> => {
    const text = execFileSync('cat', [join(root, 'log/audit.log')], { encoding: 'utf8' });
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('keeps a policy by its size and hash, not its text', async () => {
    const client = await HelperClient.connect(helper.socketPath);
    const document = noisyPolicy();
    const error = await client.request('storePolicy', { policy: document }).catch((e: unknown) => e);
    client.close();
    // The refusal arrives intact (its message is cut to the protocol's 1,000 characters, not sent broken).
    expect(error).toBeInstanceOf(HelperRequestError);
    expect((error as HelperRequestError).code).toBe('POLICY_INVALID');
    expect((error as HelperRequestError).message.length).toBeLessThanOrEqual(1000);
    const entry = auditLines().find((e) => e.op === 'storePolicy');
    expect(entry?.args).toEqual({ bytes: Buffer.byteLength(document), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(entry).length).toBeLessThan(1000);
  });

  it('logs a few refusals per connection, not every one', async () => {
    const raw = await RawClient.open(helper.socketPath);
    expect(await raw.hello()).toMatchObject({ ok: true });
    const before = auditLines().length;
    for (let id = 2; id < 60; id++) {
      // This raw client is root, which binds ports itself: each request is refused NOT_NEEDED.
      raw.send({ id, op: 'bindPort', args: { address: '192.0.2.1', port: 80, protocol: 'tcp' } });
      expect(await raw.next()).toMatchObject({ id, ok: false, error: { code: 'NOT_NEEDED' } });
    }
    raw.destroy();
    const added = auditLines().slice(before);
    expect(added.length).toBe(17); // 16 refusals, then one line saying the rest are not logged
    expect(added[added.length - 1]).toMatchObject({ message: 'further refusals on this connection are not logged' });
  });

  it('keeps serving when the log cannot be written (a full disk), and logs again once there is room', async () => {
    // Fill the log's file system (the user's own requests no longer can: see the flood tests below).
    execFileSync('sh', ['-c', 'cat /dev/zero > "$1" 2>/dev/null || true', 'sh', join(root, 'log/filler')]);
    const df = execFileSync('df', ['--output=avail', join(root, 'log')], { encoding: 'utf8' });
    expect(Number(df.trim().split('\n')[1])).toBe(0);
    // Distinct requests, so every one tries to write.
    const ports = Array.from({ length: 200 }, (_, i) => ({ address: '192.0.2.1', port: i + 1, protocol: 'tcp' }));
    const flood = await runFixtureAs(users.test, 'helper-client', ['loop', helper.socketPath, '10', '20', 'bindPort', JSON.stringify(ports)]);
    expect(flood).toMatchObject({ ok: true, sent: 200 });
    expect(helper.child.exitCode).toBeNull();
    const client = await HelperClient.connect(helper.socketPath);
    expect(client.info.protocol).toBe(1);
    client.close();
    // Room again: the next record is written, not lost behind the failed ones.
    rmSync(join(root, 'log/filler'));
    const after = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'bindPort', '{"address":"127.0.0.78","port":81,"protocol":"tcp"}']);
    expect(after).toMatchObject({ ok: true });
    expect(auditLines().at(-1)).toMatchObject({ op: 'bindPort', args: { address: '127.0.0.78', port: 81 }, result: 'ok' });
  });
});

/** Every record in the log and its rotated files, oldest first, with the file it is in. */
function allRecords(dir: string): Array<Record<string, unknown> & { file: string }> {
  const files = readdirSync(dir)
    .filter((n) => /^audit\.log(\.\d+)?$/.test(n))
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  return files.flatMap((file) =>
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => ({ ...(JSON.parse(l) as Record<string, unknown>), file })),
  );
}

describe('the audit log under a flood from the allowed user (issue 10 item 8)', () => {
  const FILES = 3;
  const FILE_BYTES = 16 * 1024;
  let helper: HelperProcess;
  let logDir: string;
  beforeAll(async () => {
    logDir = join(safeScratchDir('berth-audit-flood'), 'log');
    mkdirSync(logDir, { mode: 0o755 });
    helper = await startHelper({
      allowUid: users.test.uid,
      extraArgs: ['--audit-log', join(logDir, 'audit.log'), '--audit-files', String(FILES), '--audit-file-bytes', String(FILE_BYTES), '--audit-repeat-window-ms', '600000'],
    });
  });
  afterAll(async () => {
    if (helper.child.exitCode === null) await helper.stop();
  });

  const onDisk = (): { names: string[]; bytes: number; largest: number } => {
    const names = readdirSync(logDir).sort();
    const sizes = names.map((n) => statSync(join(logDir, n)).size);
    return { names, bytes: sizes.reduce((a, b) => a + b, 0), largest: Math.max(...sizes) };
  };

  it('stays within its files and bytes, keeps the newest records, and counts what it folds together', async () => {
    const flood = (connections: number, each: number, args: unknown[]): Promise<{ sent: number; done: number; refused: Record<string, number> }> =>
      runFixtureAs(users.test, 'helper-client', ['loop', helper.socketPath, String(connections), String(each), 'bindPort', JSON.stringify(args)]);
    // 1. Distinct successes (every privileged port but 80), many connections: each one is a record, so the log must rotate.
    const ports = Array.from({ length: 1023 }, (_, i) => i + 1).filter((p) => p !== 80);
    const distinct = await flood(31, 33, ports.map((port) => ({ address: '127.0.0.77', port, protocol: 'tcp' })));
    expect(distinct.done).toBeGreaterThan(1000);
    // 2. Refusals, a reconnect loop: the per-connection cap alone would log 17 lines per connection.
    const refused = await flood(100, 20, [{ address: '192.0.2.1', port: 80, protocol: 'tcp' }]);
    expect(refused.refused.ADDRESS_UNAVAILABLE).toBe(2000);
    // 3. The same success, again and again, across connections.
    const same = { address: '127.0.0.77', port: 80, protocol: 'tcp' };
    const repeated = await flood(50, 10, [same]);
    expect(repeated.done).toBe(500);
    // 4. The newest request.
    const last = { address: '127.0.0.77', port: 999, protocol: 'udp' };
    expect(await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'bindPort', JSON.stringify(last)])).toMatchObject({ ok: true });

    const during = onDisk();
    // Rotated, not silently stopped: three files, the older two full.
    expect(during.names).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    for (const name of ['audit.log.1', 'audit.log.2']) expect(statSync(join(logDir, name)).size).toBeGreaterThan(FILE_BYTES - 4097);
    expect(during.bytes).toBeLessThanOrEqual(FILES * FILE_BYTES);
    expect(during.largest).toBeLessThanOrEqual(FILE_BYTES);
    // The current file ends with the newest request: rotation drops the oldest, never the newest.
    const current = allRecords(logDir).filter((r) => r.file === 'audit.log');
    expect(current.at(-1)).toMatchObject({ op: 'bindPort', args: last, result: 'ok' });

    // A clean stop flushes the counts still pending (so does the end of each window).
    expect(await helper.stop()).toBe(0);
    const after = onDisk();
    expect(after.bytes).toBeLessThanOrEqual(FILES * FILE_BYTES);
    const records = allRecords(logDir);
    // 500 identical successes: a few records whose counts add up to 500, none silently lost.
    const sameRecords = records.filter((r) => r.result === 'ok' && JSON.stringify(r.args) === JSON.stringify(same));
    expect(sameRecords.length).toBeLessThanOrEqual(4);
    expect(sameRecords.reduce((sum, r) => sum + (typeof r.repeated === 'number' ? r.repeated : 1), 0)).toBe(500);
    expect(sameRecords.some((r) => typeof r.repeated === 'number' && r.message === `repeated ${r.repeated} more times`)).toBe(true);
    // 2,000 refusals over 100 connections: a bounded number of lines for this peer, and a count of the rest.
    const refusals = records.filter((r) => r.result === 'ADDRESS_UNAVAILABLE');
    expect(refusals.length).toBeLessThanOrEqual(70);
    expect(refusals.some((r) => typeof r.repeated === 'number' && r.repeated > 0)).toBe(true);
    // Time order holds across the files: oldest file first, newest last.
    const times = records.map((r) => String(r.time));
    expect([...times].sort()).toEqual(times);
  });
});

describe('rotation, as root in its own directory', () => {
  const BOUNDS = { files: 3, fileBytes: 16 * 1024 };
  const entry = (n: number): AuditEntry => ({ peer: { uid: 1000, gid: 1000, pid: 1 }, op: 'bindPort', args: { port: n, pad: 'x'.repeat(200) }, result: 'ok' });
  let dir: string;
  beforeEach(() => {
    dir = join(safeScratchDir('berth-audit-rotate'), 'log');
    mkdirSync(dir, { mode: 0o755 });
  });

  it('keeps the newest records in at most files x bytes, oldest file dropped first', () => {
    const log = openAuditLog(join(dir, 'audit.log'), BOUNDS);
    for (let n = 0; n < 1000; n++) log.write(entry(n));
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    const sizes = readdirSync(dir).map((n) => statSync(join(dir, n)).size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(BOUNDS.fileBytes);
    const ports = allRecords(dir).map((r) => (r.args as { port: number }).port);
    // Contiguous and ending with the last one written: only the oldest went.
    expect(ports.at(-1)).toBe(999);
    expect(ports).toEqual(Array.from({ length: ports.length }, (_, i) => 1000 - ports.length + i));
    expect(statSync(join(dir, 'audit.log')).mode & 0o777).toBe(0o644);
  });

  it('appends to the current file across restarts, and drops files a larger config left behind', () => {
    writeFileSync(join(dir, 'audit.log.7'), 'from a config that kept 8 files\n');
    const first = openAuditLog(join(dir, 'audit.log'), BOUNDS);
    first.write(entry(1));
    first.close();
    const second = openAuditLog(join(dir, 'audit.log'), BOUNDS);
    second.write(entry(2));
    second.close();
    expect(readdirSync(dir)).toEqual(['audit.log']);
    expect(allRecords(dir).map((r) => (r.args as { port: number }).port)).toEqual([1, 2]);
  });

  it('never follows a link planted at a rotated name: it is renamed or replaced, its target untouched', () => {
    const victim = join(dirname(dir), 'victim');
    writeFileSync(victim, 'root-only content\n', { mode: 0o600 });
    symlinkSync(victim, join(dir, 'audit.log.1'));
    symlinkSync(victim, join(dir, 'audit.log.2'));
    const log = openAuditLog(join(dir, 'audit.log'), BOUNDS);
    for (let n = 0; n < 300; n++) log.write(entry(n));
    log.close();
    expect(readFileSync(victim, 'utf8')).toBe('root-only content\n');
    for (const name of readdirSync(dir)) expect(lstatSync(join(dir, name)).isFile(), name).toBe(true);
  });

  it.each([
    ['a symlink at the current name', (d: string) => symlinkSync(join(d, 'elsewhere'), join(d, 'audit.log')), /ELOOP|symbolic link/],
    ['a second hard link to the file', (d: string) => (writeFileSync(join(d, 'audit.log'), ''), linkSync(join(d, 'audit.log'), join(d, 'other'))), /one link/],
    ['a directory group-writable', (d: string) => chmodSync(d, 0o775), /must be owned by uid 0 and not group\/world-writable/],
    ['a directory the user owns', (d: string) => chownSync(d, users.test.uid, users.test.gid), /owned by uid/],
  ])('refuses to open a log with %s (the helper will not start), writing nothing', (_what, plant, reason) => {
    plant(dir);
    const before = readdirSync(dir).sort();
    expect(() => openAuditLog(join(dir, 'audit.log'), BOUNDS)).toThrow(reason);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('refuses a directory reached through a symlink', () => {
    symlinkSync(dir, join(dirname(dir), 'via-link'));
    expect(() => openAuditLog(join(dirname(dir), 'via-link', 'audit.log'), BOUNDS)).toThrow(/ELOOP|ENOTDIR|symlink/);
  });

  it('a rotation that cannot happen (something planted in the way) drops records, never the bound, and recovers', () => {
    const log = openAuditLog(join(dir, 'audit.log'), BOUNDS);
    // A non-empty directory where the oldest file goes: renaming a file over it fails.
    mkdirSync(join(dir, 'audit.log.2', 'full'), { recursive: true });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (let n = 0; n < 300; n++) log.write(entry(n));
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^berth-helper: cannot rotate the audit log \(/));
      expect(statSync(join(dir, 'audit.log')).size).toBeLessThanOrEqual(BOUNDS.fileBytes);
      rmSync(join(dir, 'audit.log.2'), { recursive: true });
      log.write(entry(1000));
      log.close();
      expect(allRecords(dir).at(-1)).toMatchObject({ args: { port: 1000 } });
    } finally {
      errors.mockRestore();
    }
  });
});
