import { afterEach, describe, expect, inject, test } from 'vitest';
import { freshHome } from '../../test/support/user-home';
import { IsolatedMachine } from '../../test/support/isolated-system';
import type { BackendState } from '../../common/api/backend-api';
import { BackendDriver } from './test-driver';

/**
 * Desired state carried out whenever it becomes possible, with the real
 * parts: the backend as the unprivileged test user in a machine of its own
 * (its /etc, /usr/local, /run, /opt are private), the real installer run as
 * root behind the backend's back (an admin or MDM install), the real
 * standalone helper killed with kill -9 and started again.
 */
const users = inject('users');
/** The app as installed where only root can write (so the helper links it into /usr/local/bin). */
const APP = '/opt/Berth';
const HOSTS_OFF = 'Hosts entries saved as off, but the privileged helper is not running; it will apply when the helper is installed.';

let machine: IsolatedMachine | undefined;
let driver: BackendDriver | undefined;
let other: BackendDriver | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
  await driver?.close();
  await machine?.close();
  driver = undefined;
  machine = undefined;
});

async function machineWithApp(): Promise<IsolatedMachine> {
  const m = await IsolatedMachine.start();
  const made = await m.run(`
    mkdir -p /usr/local/bin
    cp -a "$FIXTURES/app" ${APP}
    mkdir -p ${APP}/resources/bin
    printf '#!/bin/sh\\nexec node ${APP}/dist/cli/berth.js "$@"\\n' > ${APP}/resources/bin/berth
    chmod -R go-w ${APP} && chmod 0755 ${APP}/resources/bin/berth
  `);
  expect(made.stderr).toBe('');
  return m;
}

/** The machine's own view, as root inside it: the hosts block and the system link. */
async function onMachine(m: IsolatedMachine): Promise<{ block: boolean; link: string }> {
  const seen = await m.run(`grep -c '^# BEGIN berth' /etc/hosts || true; echo; readlink /usr/local/bin/berth || true`);
  const [count, link] = seen.stdout.split('\n').filter((l) => l !== '');
  return { block: Number(count) > 0, link: link ?? '' };
}

const install = (m: IsolatedMachine) => m.run(`node "$HELPER" install --app ${APP} --uid $TEST_UID`);
/** kill -9 of the standalone helper and its supervisor: nothing brings it back by itself. */
const killHelper = (m: IsolatedMachine) => m.run('kill -KILL -- -"$(cat /run/berth/helper.pid)"; rm -f /run/berth/helper.pid');
const startHelper = (m: IsolatedMachine) => m.run('node /usr/local/libexec/berth/berth-helper.js start');

describe('the settings are carried out whenever the helper becomes reachable', () => {
  test('installed by root behind the app\u2019s back: the hosts entries and the System CLI links appear without a toggle; after kill -9 and a change meanwhile, the helper\u2019s return carries it out and the "will apply" notice goes', async () => {
    machine = await machineWithApp();
    const home = freshHome(users.test);
    // The defaults: hosts entries on, CLI tools in the System location. No helper yet.
    driver = await BackendDriver.start(
      users.test,
      { home, appPath: APP, refreshMs: 200, settings: { hostsEntries: true, cliToolsLocation: 'system' } },
      (argv) => machine!.wrap(argv),
    );
    const before = driver.latest();
    expect(before.capabilities.helper.state).toBe('not-installed');
    expect(before.capabilities.hostsEntries.present).toBe(false);
    expect(before.capabilities.cliTools).toMatchObject({ location: 'system', linked: [] });

    const installed = await install(machine);
    expect(installed.code, installed.stderr).toBe(0);
    const done = await driver.until('the hosts entries and the System links carried out', (s) =>
      s.capabilities.hostsEntries.present && s.capabilities.cliTools.location === 'system' && s.capabilities.cliTools.linked.includes('berth'),
    );
    expect(done.capabilities.helper.state).toBe('running');
    expect(done.notices).toEqual([]);
    expect(done.settings).toMatchObject({ hostsEntries: true, cliToolsLocation: 'system' });
    expect(await onMachine(machine)).toEqual({ block: true, link: `${APP}/resources/bin/berth` });

    // kill -9: the app sees it gone; the user turns the hosts entries off meanwhile.
    expect((await killHelper(machine)).code).toBe(0);
    await driver.until('the helper gone', (s) => s.capabilities.helper.state !== 'running');
    const set = await driver.call('settings.set', { key: 'hostsEntries', value: false });
    expect(set).toMatchObject({ ok: true, result: { hostsEntries: false } });
    const waiting = await driver.until('the setting saved', (s) => !s.settings.hostsEntries && s.notices.length > 0);
    // The difference shows while it exists: the block is still there, and the notice says why.
    expect(waiting.capabilities.hostsEntries.present).toBe(true);
    expect(waiting.notices.map((n) => n.text)).toEqual([HOSTS_OFF]);

    expect((await startHelper(machine)).code).toBe(0);
    const after = await driver.until('the hosts entries removed once the helper is back', (s) => s.capabilities.helper.state === 'running' && !s.capabilities.hostsEntries.present);
    await driver.until('the "will apply" notice withdrawn', (s) => s.notices.length === 0);
    expect(after.capabilities.cliTools).toMatchObject({ location: 'system', linked: ['berth'] });
    expect(await onMachine(machine)).toEqual({ block: false, link: `${APP}/resources/bin/berth` });
  });

  test('a refused change is reported once, not retried at every refresh, and tried again once when the helper restarts', async () => {
    machine = await machineWithApp();
    expect((await install(machine)).code).toBe(0);
    // /etc/hosts made a link to a file the user owns: the helper refuses to write through it (root would write a user's file).
    const linked = await machine.run('cp /etc/hosts /etc/hosts.user && chown $TEST_UID /etc/hosts.user && ln -sf /etc/hosts.user /etc/hosts');
    expect(linked.stderr).toBe('');
    const home = freshHome(users.test);
    driver = await BackendDriver.start(users.test, { home, appPath: APP, refreshMs: 100, settings: { hostsEntries: true, cliToolsLocation: 'user' } }, (argv) =>
      machine!.wrap(argv),
    );
    // One notice per setting (keyed): each report is counted in the app's log, where every raised notice is written.
    const reports = (): number => driver!.log().filter((line) => line.startsWith('The hosts entries could not be changed.')).length;
    const shown = (s: BackendState): boolean => s.notices.some((n) => n.key === 'setting.hostsEntries' && /symlink/.test(n.detail ?? ''));
    await driver.until('the refusal reported', shown);
    expect(reports()).toBe(1);
    // Many refreshes later (each one compares again): still one report, and the file is untouched.
    await driver.moreRefreshes(20);
    expect(reports()).toBe(1);
    // A setting that has nothing to do with it changes: no new attempt either.
    expect(await driver.call('settings.set', { key: 'privilegedPortMapping', value: false })).toMatchObject({ ok: true });
    await driver.moreRefreshes(5);
    expect(reports()).toBe(1);
    expect(shown(driver.latest())).toBe(true);

    // Something changed (the helper was killed and came back): one more try, one more report, and quiet again.
    expect((await killHelper(machine)).code).toBe(0);
    await driver.until('the helper gone', (s) => s.capabilities.helper.state !== 'running');
    expect((await startHelper(machine)).code).toBe(0);
    // The log is not a snapshot: look again after each refresh (bounded, as every wait here is).
    for (let i = 0; i < 300 && reports() < 2; i++) await driver.moreRefreshes(1);
    await driver.moreRefreshes(20);
    expect(reports()).toBe(2);
    expect(driver.latest().notices.filter((n) => n.key === 'setting.hostsEntries')).toHaveLength(1);
    const hosts = await machine.run('readlink /etc/hosts; grep -c "^# BEGIN berth" /etc/hosts.user || true');
    expect(hosts.stdout).toBe('/etc/hosts.user\n0\n');
  });

  test('a second user who wants no hosts entries while the first does: one attempt, the block stays for the first, and no loop; it goes when the first lets go', async () => {
    machine = await machineWithApp();
    expect((await install(machine)).code).toBe(0);
    expect((await machine.run(`node "$HELPER" install --app ${APP} --uid $OTHER_UID`)).code).toBe(0);
    const wrap = (argv: string[]): string[] => machine!.wrap(argv);
    driver = await BackendDriver.start(users.test, { home: freshHome(users.test), appPath: APP, refreshMs: 100, settings: { hostsEntries: true, cliToolsLocation: 'user' } }, wrap);
    await driver.until('the first user\u2019s hosts entries', (s) => s.capabilities.hostsEntries.present);
    other = await BackendDriver.start(users.other, { home: freshHome(users.other), appPath: APP, refreshMs: 100, settings: { hostsEntries: false, cliToolsLocation: 'user' } }, wrap);
    const attempts = (): number => other!.log().filter((line) => line.startsWith('reconciling hostsEntries')).length;
    await other.moreRefreshes(20);
    // The second user's removeHosts only took back its own wish (it had none): the block stays for the first user.
    expect(attempts()).toBe(1);
    expect(other.latest().capabilities.hostsEntries.present).toBe(true);
    expect(other.latest().notices).toEqual([]);
    expect((await onMachine(machine)).block).toBe(true);

    // The first user lets go: the block goes, and the second user's difference with it.
    expect(await driver.call('settings.set', { key: 'hostsEntries', value: false })).toMatchObject({ ok: true });
    await other.until('the hosts entries gone for the second user too', (s) => !s.capabilities.hostsEntries.present);
    expect((await onMachine(machine)).block).toBe(false);
    await other.moreRefreshes(10);
    expect(attempts()).toBe(1);
  });
});
