/**
 * Who wants the shared link and hosts block, through the handlers and the
 * unenrolment, on scratch files. (The hosts handlers on /etc/hosts itself,
 * for two accounts, are in hosts/handlers.test.ts: they need a mount
 * namespace of their own.)
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { generateKeyPair, signPolicy } from '../../common/policy';
import { opContext } from '../../test/support/op-context';
import { safeScratchDir } from '../../test/support/scratch';
import { ensureHostsBlock } from './hosts';
import { installSymlinks, removeSymlinks } from './symlinks';
import { afterUnenrol } from './unenrol';
import { uninstall } from './uninstall';
import { readWants, updateWantsWith, wantHosts, wantLinks, wantsSeed, writeWants, WANTS_RECORD_NAME } from './wants';

const users = inject('users');
const A = users.test.uid;
const B = users.other.uid;
const SHARED = 'still used by another account on this computer';
const USER_HOSTS = '127.0.0.1 localhost\n# my line\n';

let root: string;

function paths() {
  return { appPath: join(root, 'Berth'), linkDir: join(root, 'bin'), stateDir: join(root, 'state') };
}

/** What the daemon passes for a request from `peer`, with A and B enrolled (or `enrolled`). */
function as(peer: number, extra: Record<string, unknown> = {}, enrolled = [A, B]) {
  return opContext({ ...paths(), allowUids: enrolled, ...extra }, peer);
}

const link = () => join(root, 'bin/berth');
const hostsPath = () => join(root, 'hosts');
const hosts = () => readFileSync(hostsPath(), 'utf8');

/** `uids` want the block in the scratch hosts file (what ensureHosts records, then writes). */
function wantBlock(...uids: number[]): void {
  const { config } = as(A);
  let wants = readWants(config, wantsSeed(config, A, hostsPath()));
  for (const uid of uids) wants = wantHosts(wants, uid);
  writeWants(config, wants);
  ensureHostsBlock(hostsPath());
}
const wantsFile = () => JSON.parse(readFileSync(join(root, 'state', WANTS_RECORD_NAME), 'utf8')) as unknown;

beforeEach(() => {
  root = safeScratchDir('berth-wants');
  mkdirSync(join(root, 'bin'), { mode: 0o755 });
  mkdirSync(join(root, 'Berth/resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'Berth/resources/bin/berth'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(hostsPath(), USER_HOSTS);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('what every account shares: the system link and the hosts block', () => {
  it('a link two accounts want stays when one removes it, saying why, and goes with the last', async () => {
    await installSymlinks({ names: ['berth'] }, as(A));
    await installSymlinks({ names: ['berth'] }, as(B));
    expect(wantsFile()).toEqual({ version: 1, hosts: [], links: { berth: [A, B] } });

    const first = await removeSymlinks({ names: ['berth'] }, as(A));
    expect(first.result).toEqual({ linkDir: join(root, 'bin'), links: [{ name: 'berth', action: 'kept', reason: SHARED }] });
    expect(readlinkSync(link())).toBe(join(root, 'Berth/resources/bin/berth'));

    const last = await removeSymlinks({ names: ['berth'] }, as(B));
    expect(last.result).toEqual({ linkDir: join(root, 'bin'), links: [{ name: 'berth', action: 'removed' }] });
    expect(existsSync(link())).toBe(false);
    expect(wantsFile()).toEqual({ version: 1, hosts: [], links: {} });
  });

  it("an account that never asked cannot take away another's link", async () => {
    await installSymlinks({ names: ['berth'] }, as(A));
    expect((await removeSymlinks({ names: ['berth'] }, as(B))).result.links).toEqual([{ name: 'berth', action: 'kept', reason: SHARED }]);
    expect(lstatSync(link()).isSymbolicLink()).toBe(true);
  });

  it("an older install's link and block (no record yet) are the first enrolled account's", async () => {
    // What an install from before several users left: the link record and the block, no wants record.
    await installSymlinks({ names: ['berth'] }, as(A));
    rmSync(join(root, 'state', WANTS_RECORD_NAME));
    ensureHostsBlock(hostsPath());
    const { config } = as(A);
    expect(readWants(config, wantsSeed(config, A, hostsPath()))).toEqual({ version: 1, hosts: [A], links: { berth: [A] } });
    // Without a block, nothing is seeded for it; without a first account, nothing at all.
    expect(readWants(config, wantsSeed(config, A, join(root, 'no-hosts')))).toEqual({ version: 1, hosts: [], links: { berth: [A] } });
    expect(readWants(config, wantsSeed(config, undefined, hostsPath()))).toEqual({ version: 1, hosts: [], links: {} });
    // The second account, new here, removes the link: it stays for the first.
    expect((await removeSymlinks({ names: ['berth'] }, as(B))).result.links[0]).toMatchObject({ action: 'kept' });
    // B wanted nothing, so nothing changed and nothing was written.
    expect(existsSync(join(root, 'state', WANTS_RECORD_NAME))).toBe(false);
  });

  it('an unreadable record counts as none: the seed still protects the first account', async () => {
    await installSymlinks({ names: ['berth'] }, as(A));
    writeFileSync(join(root, 'state', WANTS_RECORD_NAME), '{"version": 1, "hosts": "everyone"}', { mode: 0o644 });
    expect((await removeSymlinks({ names: ['berth'] }, as(B))).result.links[0]).toMatchObject({ action: 'kept' });
    // The first account's own removal is then the last: the link goes, and the record is written whole again.
    expect((await removeSymlinks({ names: ['berth'] }, as(A))).result.links[0]).toMatchObject({ action: 'removed' });
    expect(wantsFile()).toEqual({ version: 1, hosts: [], links: {} });
  });

  it('loses no concurrent change: a writer that got in between is read again and the change reapplied', () => {
    const { config } = as(A);
    let raced = false;
    updateWantsWith(config, wantsSeed(config, A, hostsPath()), (wants) => {
      if (!raced) {
        raced = true;
        // Root's uninstall --uid (another process) writes the record after we read it.
        writeWants(config, wantHosts(wants, B));
      }
      return wantLinks(wants, A, ['berth']);
    });
    expect(wantsFile()).toEqual({ version: 1, hosts: [B], links: { berth: [A] } });
  });

  it('keeps the record root-owned 0644 in the root-owned state dir', async () => {
    await installSymlinks({ names: ['berth'] }, as(A));
    const st = statSync(join(root, 'state', WANTS_RECORD_NAME));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o644]);
  });
});

describe('leaving: what the account alone wanted goes, what others want stays', () => {
  it('removes the link nobody else wants and keeps the shared block, saying why', async () => {
    wantBlock(A, B);
    await installSymlinks({ names: ['berth'] }, as(A));
    const { config } = as(A);
    const outcome = afterUnenrol(config, A, wantsSeed(config, A, hostsPath()), [B], { helperPath: '/usr/local/libexec/berth', hostsPath: hostsPath() });
    expect(outcome).toEqual({
      scope: 'account',
      removed: [link()],
      kept: [
        { path: hostsPath(), reason: `the berth block is ${SHARED}` },
        {
          path: '/usr/local/libexec/berth',
          reason: `Berth's helper stays for the 1 other account enrolled on this computer; only your enrolment (uid ${A}) was removed`,
        },
      ],
    });
    expect(existsSync(link())).toBe(false);
    expect(hosts()).toContain('berth.internal');
    expect(wantsFile()).toEqual({ version: 1, hosts: [B], links: {} });
    // B leaves too, with nobody else wanting it: the block goes, the file is as the user had it.
    const last = afterUnenrol(config, B, wantsSeed(config, A, hostsPath()), [A], { helperPath: '/x', hostsPath: hostsPath() });
    expect(last.removed).toEqual([`${hostsPath()}: the berth block`]);
    expect(hosts()).toBe(USER_HOSTS);
  });

  it('lifts no lock of the organization: what the policy keeps on stays on', async () => {
    const org = generateKeyPair();
    const policy = signPolicy(
      {
        organization: 'Example Corp',
        version: 1,
        issued: new Date(Date.now() - 86_400_000).toISOString(),
        expires: new Date(Date.now() + 86_400_000).toISOString(),
        allowedRegistries: [],
        lockedSettings: { hostsEntries: true, cliToolsLocation: 'system' },
      },
      org.privateKeyPem,
    );
    const managed = { orgPublicKey: org.publicKeyPem };
    wantBlock(A);
    await installSymlinks({ names: ['berth'] }, as(A, managed));
    writeFileSync(join(root, 'state/policy.json'), policy, { mode: 0o644 });
    const { config } = as(A, managed);
    const outcome = afterUnenrol(config, A, wantsSeed(config, A, hostsPath()), [B], { helperPath: '/usr/local/libexec/berth', hostsPath: hostsPath() });
    expect(outcome.removed).toEqual([]);
    expect(outcome.kept.slice(0, 2)).toEqual([
      { path: hostsPath(), reason: 'your organization keeps the hosts entries on' },
      { path: link(), reason: 'your organization keeps the CLI tools in the system location' },
    ]);
    expect(hosts()).toContain('berth.internal');
    expect(lstatSync(link()).isSymbolicLink()).toBe(true);
  });

  it("a user's uninstall op, others enrolled: only that user leaves, and the helper keeps running", async () => {
    await installSymlinks({ names: ['berth'] }, as(B));
    const context = as(B);
    const { result } = await uninstall({}, context);
    expect(result.scope).toBe('account');
    expect(context.enrolment.uids()).toEqual([A]);
    // The link only B wanted is gone; the helper does not exit.
    expect(result.removed).toEqual([link()]);
    expect(existsSync(link())).toBe(false);
    expect(context.afterReplyActions).toEqual([]);
  });
});
