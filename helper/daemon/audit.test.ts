import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKeyPair } from '../../common/policy';
import { HelperClient, HelperRequestError } from '../../main/helper-client';
import { safeScratchDir } from '../../test/support/scratch';
import { startHelper, type HelperProcess } from '../../test/support/processes';
import { RawClient } from '../../test/support/raw-client';

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
      raw.send({ id, op: 'bindPort', args: { address: '192.0.2.1', port: 80, protocol: 'tcp' } });
      expect(await raw.next()).toMatchObject({ id, ok: false, error: { code: 'ADDRESS_UNAVAILABLE' } });
    }
    raw.destroy();
    const added = auditLines().slice(before);
    expect(added.length).toBe(17); // 16 refusals, then one line saying the rest are not logged
    expect(added[added.length - 1]).toMatchObject({ message: 'further refusals on this connection are not logged' });
  });

  it('keeps serving when the log cannot be written (a full disk)', async () => {
    // Fill the log's file system, connection after connection.
    for (let i = 0; i < 40; i++) {
      const raw = await RawClient.open(helper.socketPath);
      await raw.hello();
      for (let id = 2; id < 20; id++) {
        raw.send({ id, op: 'storePolicy', args: { policy: 'x'.repeat(100) } });
        await raw.next();
      }
      raw.destroy();
    }
    const df = execFileSync('df', ['--output=avail', join(root, 'log')], { encoding: 'utf8' });
    expect(Number(df.trim().split('\n')[1])).toBe(0);
    expect(helper.child.exitCode).toBeNull();
    const client = await HelperClient.connect(helper.socketPath);
    expect(client.info.protocol).toBe(1);
    client.close();
  });
});
