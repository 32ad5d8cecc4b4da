import { closeSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { generateKeyPair, signPolicy } from '../../common/policy';
import type { LockedSettings } from '../../common/settings/schema';
import { opContext } from '../../test/support/op-context';
import { refusal } from '../../test/support/refusal';
import { safeScratchDir } from '../../test/support/scratch';
import { bindPort } from './bind-port';
import { ensureHosts, removeHosts } from './hosts';
import { storePolicy } from './store-policy';
import { installSymlinks, removeSymlinks } from './symlinks';

const org = generateKeyPair();
const users = inject('users');
const DAY = 86_400_000;
let root: string;

/** A context whose state dir holds a verified policy locking `locked`. */
async function lockedContext(locked: LockedSettings) {
  const context = opContext(
    {
    appPath: join(root, 'Berth'),
    linkDir: join(root, 'bin'),
    stateDir: join(root, 'state'),
      orgPublicKey: org.publicKeyPem,
    },
    users.test.uid,
  );
  const policy = signPolicy(
    {
      organization: 'Acme',
      version: 1,
      issued: new Date(Date.now() - DAY).toISOString(),
      expires: new Date(Date.now() + DAY).toISOString(),
      allowedRegistries: [],
      lockedSettings: locked,
    },
    org.privateKeyPem,
  );
  await storePolicy({ policy }, context);
  return context;
}

beforeEach(() => {
  root = safeScratchDir('berth-locks');
  mkdirSync(join(root, 'bin'), { mode: 0o755 });
  // The program the link runs, root's alone (installSymlinks checks it).
  mkdirSync(join(root, 'Berth/resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'Berth/resources/bin/berth'), '#!/bin/sh\n', { mode: 0o755 });
});

describe('organization locks bind the helper, not just the app', () => {
  it('refuses what the locks forbid, before touching anything', async () => {
    const context = await lockedContext({ privilegedPortMapping: false, cliToolsLocation: 'user', hostsEntries: false });
    const bind = await refusal(() => bindPort({ address: '127.0.0.1', port: 80, protocol: 'tcp' }, context));
    expect(bind).toMatchObject({ code: 'LOCKED_BY_POLICY', message: expect.stringContaining('locked by your organization') });
    expect((await refusal(() => installSymlinks({ names: ['berth'] }, context))).code).toBe('LOCKED_BY_POLICY');
    // The refusal comes before the hosts file is even opened.
    expect((await refusal(() => ensureHosts({}, context))).code).toBe('LOCKED_BY_POLICY');
    expect(readdirSync(join(root, 'bin'))).toEqual([]);
  });

  it('refuses undoing what the locks require', async () => {
    const context = await lockedContext({ cliToolsLocation: 'system', hostsEntries: true });
    expect((await refusal(() => removeSymlinks({ names: ['berth'] }, context))).code).toBe('LOCKED_BY_POLICY');
    expect((await refusal(() => removeHosts({}, context))).code).toBe('LOCKED_BY_POLICY');
  });

  it('lets through what the locks allow', async () => {
    const context = await lockedContext({ privilegedPortMapping: true, cliToolsLocation: 'system' });
    const { fds } = await bindPort({ address: '127.0.0.1', port: 81, protocol: 'tcp' }, context);
    expect(fds).toHaveLength(1);
    closeSync(fds![0]!);
    expect((await installSymlinks({ names: ['berth'] }, context)).result.links[0]!.action).toBe('created');
  });

  it('ignores a cache it cannot verify (no org key recorded): nothing is locked', async () => {
    const context = await lockedContext({ privilegedPortMapping: false });
    const unkeyed = opContext({ ...context.config, orgPublicKey: undefined }, users.test.uid);
    const { fds } = await bindPort({ address: '127.0.0.1', port: 82, protocol: 'tcp' }, unkeyed);
    closeSync(fds![0]!);
    expect(fds).toHaveLength(1);
  });
});
