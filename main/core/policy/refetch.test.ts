import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { signPolicy } from '../../../common/policy';
import { freshHome } from '../../../test/support/user-home';
import { startHelper, type HelperProcess } from '../../../test/support/processes';
import { BackendDriver } from '../test-driver';
import { policyMachine, policyPayload } from './test-setup';

/**
 * An expired policy replaced by a valid one on the admin's policy URL: the
 * running app fetches it without a restart (PolicyRefetch's back-off, shortened
 * here to start at 50 ms), through real HTTP on loopback and the real helper's
 * storePolicy, as the unprivileged test user.
 */
const users = inject('users');
const DAY = 24 * 3600 * 1000;
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

let server: Server | undefined;
let helper: HelperProcess | undefined;
let driver: BackendDriver | undefined;
afterEach(async () => {
  await driver?.close();
  await helper?.stop();
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  driver = helper = server = undefined;
});

describe('an expired policy is fetched again promptly', () => {
  test('published after expiry: the running app fetches it, the helper stores it, and the app shows it valid, with no restart', async () => {
    const machine = policyMachine('berth-refetch', users.test.uid);
    const keyFile = join(machine.root, 'org-key.pub.pem');
    writeFileSync(keyFile, machine.keys.publicKeyPem, { mode: 0o644 });
    helper = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true, extraArgs: ['--org-key', keyFile, '--state-dir', machine.stateDir] });

    // The policy in force expired yesterday, and the server still offers that one.
    const expired = machine.writeCache({ version: 3, issued: iso(Date.now() - 3 * DAY), expires: iso(Date.now() - DAY), lockedSettings: {} });
    let served = expired;
    const hits: number[] = [];
    server = createServer((_req, res) => {
      hits.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    machine.writeConfig({ socketPath: helper.socketPath, policyUrl: `${base}/policy.json` });

    driver = await BackendDriver.start(users.test, {
      home: freshHome(users.test),
      appPath: '/opt/Berth',
      // No periodic refresh during the test: what arrives, arrives through the policy's own schedule.
      refreshMs: 3_600_000,
      layout: { socketPath: helper.socketPath, configPath: machine.configPath, stateDir: machine.stateDir, userModePath: join(machine.root, 'user-mode.json') },
      policyFirstRetryMs: 50,
    });
    expect(driver.latest().capabilities.policy).toMatchObject({ state: 'expired', version: 3 });

    // Fetched again while expired (the start's fetch, then the back-off's), not 6 hours later.
    await waitUntil(() => hits.length >= 2, 'a second fetch of the expired policy');
    expect(driver.latest().capabilities.policy).toMatchObject({ state: 'expired', version: 3 });

    const renewed = policyPayload({ version: 4, issued: iso(Date.now() - 1000), expires: iso(Date.now() + 365 * DAY), lockedSettings: {} });
    served = signPolicy(renewed, machine.keys.privateKeyPem);
    const shown = await driver.until('the renewed policy', (s) => s.capabilities.policy.state === 'valid');
    expect(shown.capabilities.policy).toMatchObject({ state: 'valid', version: 4, expires: renewed.expires });
    expect(helper.auditEntries()).toContainEqual(expect.objectContaining({ op: 'storePolicy', result: 'ok' }));
  });
});

/** Polls a condition of this process (the server's hits); bounded only so a failure says what it waited for. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!condition()) throw new Error(`never saw ${what}`);
}
