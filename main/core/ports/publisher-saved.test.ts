import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MappingSpec } from '../../../common/ports/mapping';
import { apiRefusal } from '../../../test/support/refusal';
import { publishersInProcess } from './publisher-fixture';
import { httpGet, portIsFree, unusedPort } from './test-support';

// The saved mappings file, in-process as root: what cannot be saved is not
// published, saved mappings come back on open (those that cannot start yet
// included), and a corrupt or self-forwarding file binds nothing.

const scope = publishersInProcess();
const { open, httpTarget, savedFile } = scope;

describe('PortPublisher', () => {
  it('does not publish what it cannot save: the port is let go and nothing changes', async () => {
    // The config directory is a dangling symlink: loading finds nothing, saving must refuse.
    symlinkSync(join(scope.dir, 'nowhere'), join(scope.dir, 'config'));
    const { publisher } = await open();
    const port = unusedPort();
    const error = await apiRefusal(publisher.add({ address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } }));
    expect(error.code).toBe('FAILED');
    expect(error.message).toMatch(new RegExp(`^the port mappings could not be saved \\(.+\\), so 127\\.0\\.0\\.1:${port} was not published$`));
    expect(publisher.list()).toEqual([]);
    expect(portIsFree('127.0.0.1', port)).toBe(true);
    expect(existsSync(join(scope.dir, 'nowhere'))).toBe(false);
  });

  it('brings saved mappings back on open, and shows the ones that cannot start yet without dropping them', async () => {
    const targetPort = await httpTarget('restored');
    const port = unusedPort();
    const busyPort = await scope.busyPort();
    const specs: MappingSpec[] = [
      { address: '127.0.0.1', port, target: { host: '127.0.0.1', port: targetPort } },
      { address: '127.0.0.1', port: busyPort, target: { host: '127.0.0.1', port: targetPort } },
    ];
    mkdirSync(join(scope.dir, 'config'), { mode: 0o700 });
    writeFileSync(scope.mappingsPath, JSON.stringify({ version: 1, mappings: specs }));
    const { publisher, notice } = await open();
    expect(notice).toBeUndefined();
    const [first, second] = publisher.list();
    expect(first).toMatchObject({ state: 'listening', via: 'direct' });
    // Taken by another program: it waits, and is tried again by itself (publisher-retry.test.ts).
    expect(second).toMatchObject({
      state: 'waiting',
      error: { code: 'PORT_IN_USE', message: `127.0.0.1:${busyPort} is already in use by another program` },
      retry: { at: expect.any(String), onAddressChange: false },
    });
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello from restored' });
    expect(savedFile()).toEqual({ version: 1, mappings: specs });
    // The broken one can be removed like any other.
    await publisher.remove({ address: '127.0.0.1', port: busyPort });
    expect(savedFile()).toEqual({ version: 1, mappings: [specs[0]] });
  });

  it('starts empty from a corrupt mappings file, keeps it aside and says so', async () => {
    mkdirSync(join(scope.dir, 'config'), { mode: 0o700 });
    writeFileSync(scope.mappingsPath, '{"version":1,"mappings":[{"address":"127.0.0.1"');
    const { publisher, notice } = await open({ now: () => new Date('2025-01-02T03:04:05.006Z') });
    expect(publisher.list()).toEqual([]);
    expect(notice).toBe(
      'Your saved port mappings could not be read (it is not valid JSON), so Berth started with none; the file was kept as mappings.json.corrupt-2025-01-02T03-04-05-006Z.',
    );
    expect(readdirSync(join(scope.dir, 'config'))).toEqual(['mappings.json.corrupt-2025-01-02T03-04-05-006Z']);
  });
});

describe('PortPublisher restoring a self-forwarding mapping from the file', () => {
  it('shows it as an error and does not bind it', async () => {
    const port = unusedPort();
    mkdirSync(join(scope.dir, 'config'), { recursive: true });
    writeFileSync(scope.mappingsPath, JSON.stringify({ version: 1, mappings: [{ address: '127.0.0.1', port, target: { host: 'localhost', port } }] }));
    const { publisher } = await open();
    const [status] = publisher.list();
    expect(status).toMatchObject({ state: 'error', via: null, error: { code: 'INVALID' }, retry: null });
    expect(status!.error!.message).toMatch(/forwards to itself/);
    expect(portIsFree('127.0.0.1', port)).toBe(true);
  });
});
