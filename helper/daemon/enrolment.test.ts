import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HelperClient } from '../../main/helper-client';
import { finished, firstLine, runFixtureAs, spawnFixtureAs, startHelper, type HelperProcess } from '../../test/support/processes';
import { RawClient } from '../../test/support/raw-client';
import { safeScratchDir } from '../../test/support/scratch';
import type { TestUser } from '../../test/support/constants';
import type { HelperConfigInput } from '../../common/helper-config/schema';
import { updateConfigFile, writeConfigFile } from '../fs/config-file';
import { unenrolInFile } from './enrolment';

const users = inject('users');
/** An account that is never enrolled: the machine's own "nobody". */
const nobody: TestUser = { name: 'nobody', uid: 65534, gid: 65534 };

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('one helper, several enrolled users, one socket', () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    // A small cap on authorized connections makes Node's backstop (4x) small too: a flood that
    // could hold more than that would get the enrolled users' connections dropped.
    helper = await startHelper({ allowUid: [users.test.uid, users.other.uid], extraArgs: ['--max-connections', '8'] });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
  });

  it("serves each enrolled user their own ports: each socket is its caller's, and neither takes the other's", async () => {
    const a = spawnFixtureAs(users.test, 'helper-client', ['serve-http', helper.socketPath, '127.0.0.1', '80']);
    const aDone = finished(a);
    expect(await firstLine(a)).toEqual({ ok: true, ready: true });
    try {
      const b = await runFixtureAs(users.other, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '81', 'tcp']);
      expect(b).toEqual({ ok: true, address: '127.0.0.1', port: 81, protocol: 'tcp', owner: users.other.uid });
      // The port the first user holds is refused to the second, whoever asks for it through the helper.
      const taken = await runFixtureAs(users.other, 'helper-client', ['bind', helper.socketPath, '127.0.0.1', '80', 'tcp']);
      expect(taken).toMatchObject({ ok: false, code: 'PORT_IN_USE' });
      expect(await httpGet('http://127.0.0.1:80/')).toBe(`served by uid ${users.test.uid}`);
    } finally {
      a.kill('SIGTERM');
      await aDone;
    }
  });

  it('refuses an account that is not enrolled with the clear sentence, and lets it fill none of the slots', async () => {
    const refused = await runFixtureAs(nobody, 'helper-client', ['hello', helper.socketPath]);
    expect(refused).toMatchObject({ ok: false, kind: 'request', code: 'UNAUTHORIZED' });
    expect(refused.message).toMatch(/^Berth's helper on this machine is not set up for your account \(uid 65534\): .*administrator's password$/);

    // 64 connections at a time, each held until the helper hangs up, over and over.
    const flood = spawnFixtureAs(nobody, 'helper-client', ['flood', helper.socketPath, '64']);
    const flooded = finished(flood);
    expect(await firstLine(flood)).toEqual({ ready: true });
    // Meanwhile both enrolled users are served, every time.
    for (let i = 0; i < 5; i++) {
      for (const user of [users.test, users.other]) {
        expect(await runFixtureAs(user, 'helper-client', ['hello', helper.socketPath])).toMatchObject({ ok: true, uid: user.uid });
      }
    }
    flood.kill('SIGTERM');
    const summary = JSON.parse((await flooded).stdout.trim().split('\n').pop()!) as {
      codes: Record<string, number>;
      unanswered: number;
      message: string;
    };
    // Refused with the sentence while within its 16 slots; past them, closed unanswered.
    expect(Object.keys(summary.codes)).toEqual(['UNAUTHORIZED']);
    expect(summary.message).toContain('(uid 65534)');
    expect(summary.unanswered).toBeGreaterThan(0);
    // Both kinds of refusal are audited, within the account's refusal budget (64 lines a window, the rest counted).
    const mine = helper.auditEntries().filter((e) => (e.peer as { uid: number }).uid === nobody.uid);
    expect(mine).toContainEqual(expect.objectContaining({ op: 'connect', result: 'UNAUTHORIZED' }));
    expect(mine.length).toBeLessThanOrEqual(64);
  });
});

describe('enrolment followed from the installed config while the helper runs', () => {
  let root: string;
  let configPath: string;
  let helper: HelperProcess;
  beforeAll(async () => {
    root = safeScratchDir('berth-enrol');
    for (const dir of ['etc', 'run', 'log', 'state']) mkdirSync(join(root, dir), { mode: 0o755 });
    configPath = join(root, 'etc/helper.json');
    // As an older install wrote it: one allowUid. It loads as a list of one.
    writeFileSync(
      configPath,
      JSON.stringify({ socketPath: join(root, 'run/helper.sock'), allowUid: users.test.uid, auditLogPath: join(root, 'log/audit.log'), stateDir: join(root, 'state') }),
      { mode: 0o644 },
    );
    helper = await startHelper({ allowUid: users.test.uid, configFile: configPath });
  });
  afterAll(async () => {
    expect(await helper.stop()).toBe(0);
  });

  const hello = (user: TestUser) => runFixtureAs(user, 'helper-client', ['hello', helper.socketPath]);

  it('serves a legacy one-user config, and writes it in the new shape at the next change', async () => {
    expect(helper.stderr()).toContain(`for uid ${users.test.uid} and root`);
    expect(await hello(users.test)).toMatchObject({ ok: true });
    expect(await hello(users.other)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });

    // What `berth-helper install --uid OTHER` does: one atomic rewrite, no restart.
    updateConfigFile(configPath, (config) => ({ ...config, allowUids: [...config.allowUids, users.other.uid] }));
    const written = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    expect(written.allowUids).toEqual([users.test.uid, users.other.uid]);
    expect(written).not.toHaveProperty('allowUid');
    expect(await hello(users.other)).toMatchObject({ ok: true, uid: users.other.uid });
    expect(await hello(users.test)).toMatchObject({ ok: true, uid: users.test.uid });
  });

  it('refuses an unenrolled account at once, even on a connection it opened before', async () => {
    // A connection the first user opened while enrolled (as root here: the raw client runs in this process).
    const open = await RawClient.open(helper.socketPath);
    expect(await open.hello()).toMatchObject({ ok: true });
    expect(unenrolInFile(configPath, users.test.uid)).toEqual([users.other.uid]);
    expect(await hello(users.test)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(await hello(users.other)).toMatchObject({ ok: true });
    // Root is never unenrolled: its open connection still works.
    expect(await open.hello()).toMatchObject({ ok: true });
    open.destroy();

    // The other user's connection, held open across its own unenrolment, gets no further action.
    const go = join(root, 'go');
    const held = spawnFixtureAs(users.other, 'helper-client', ['pause', helper.socketPath, go]);
    const heldDone = finished(held);
    expect(await firstLine(held)).toEqual({ ready: true });
    updateConfigFile(configPath, (config) => ({ ...config, allowUids: [users.test.uid] }));
    writeFileSync(go, '');
    const heldOutcome = await heldDone;
    const last = JSON.parse(heldOutcome.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(last, `${heldOutcome.stdout}${heldOutcome.stderr} (exit ${heldOutcome.code})`).toMatchObject({ ok: false, kind: 'request', code: 'UNAUTHORIZED', message: expect.stringContaining(`(uid ${users.other.uid})`) });
    expect(await hello(users.other)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(await hello(users.test)).toMatchObject({ ok: true });
  });

  it('never unenrols the last account: that is a full uninstall, and nothing changes', () => {
    const before = readFileSync(configPath, 'utf8');
    expect(unenrolInFile(configPath, users.test.uid)).toBeUndefined();
    expect(readFileSync(configPath, 'utf8')).toBe(before);
  });

  it('fails closed when the config becomes unusable: root alone is served until it is fixed', async () => {
    const good = readFileSync(configPath, 'utf8');
    writeFileSync(configPath, '{"socketPath": "/run/x.sock", "allowUids": []}', { mode: 0o644 });
    expect(await hello(users.test)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    const root = await HelperClient.connect(helper.socketPath);
    root.close();
    expect(helper.stderr()).toMatch(/allowUids: must name at least one user; serving root only until the config is fixed/);
    writeConfigFile(configPath, JSON.parse(good) as HelperConfigInput);
    expect(await hello(users.test)).toMatchObject({ ok: true });
  });
});
