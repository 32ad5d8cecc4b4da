import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { INSTALL_RECORD_NAME, type InstallRecord } from '../../common/install-record';
import { HOSTS_PATH, type InstallLayout } from '../../common/paths';
import type { UserModeRecord } from '../../common/user-mode';
import { USER_MODE_LIMITS } from '../../common/user-mode';
import { writeFileAtomically } from '../fs/atomic-write';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { writeInstallRecord } from '../fs/install-record';
import { helperConfig } from '../../common/helper-config/schema';
import { fixedEnrolment } from '../daemon/enrolment';
import { ensureHostsBlock } from '../ops/hosts/file';
import { installSymlinks } from '../ops/symlinks';
import type { Log } from './install';
import { ensureRootDirectory, preflightRootDirectory } from './root-dirs';
import { uninstallHelper } from './uninstall';

/** Login names as useradd accepts them; anything else never reaches `id`. */
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

export function resolveUser(name: string): number {
  if (!USER_NAME.test(name)) throw new Error(`"${name}" is not a valid user name`);
  let uid: number;
  try {
    uid = Number(execFileSync('id', ['-u', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    throw new Error(`there is no user "${name}" on this machine`);
  }
  if (!Number.isInteger(uid) || uid < 1) throw new Error(`user "${name}" is root; user mode is for one ordinary account`);
  return uid;
}

/**
 * One-shot setup for a managed machine: no helper afterwards, and the app
 * never prompts. Removes any earlier helper, links the CLI tools, ensures the
 * hosts entries, and records user mode for that one account.
 */
export async function installUserMode(user: string, appPath: string, layout: InstallLayout, log: Log): Promise<UserModeRecord> {
  const uid = resolveUser(user);
  for (const dir of [dirname(layout.userModePath), layout.stateDir]) preflightRootDirectory(dir);
  if (existsSync(layout.configPath) || existsSync(layout.pidPath)) {
    log('removing the earlier helper first');
    await uninstallHelper(layout, log);
  }
  const created = [...ensureRootDirectory(dirname(layout.userModePath)), ...ensureRootDirectory(layout.stateDir)];
  const config = helperConfig.parse({ socketPath: layout.socketPath, allowUids: [uid], appPath, stateDir: layout.stateDir });
  const context = { peer: { uid: 0, gid: 0, pid: process.pid }, config, enrolment: fixedEnrolment([uid]), progress: () => {}, afterReply: () => {} };
  const links = (await installSymlinks({ names: ['berth'] }, context)).result;
  for (const link of links.links) log(`${link.action} ${links.linkDir}/${link.name} -> ${link.target}`);
  const hosts = ensureHostsBlock(HOSTS_PATH);
  log(hosts.changed ? `added Berth's entries to ${HOSTS_PATH} (${hosts.method})` : `${HOSTS_PATH} already has Berth's entries`);

  const record: UserModeRecord = { user, uid, appPath, installedAt: new Date().toISOString() };
  withTrustedDirectory(dirname(layout.userModePath), (dir) =>
    writeFileAtomically(dir, basename(layout.userModePath), Buffer.from(JSON.stringify(record, null, 2) + '\n'), { mode: 0o644 }),
  );
  const install: InstallRecord = {
    version: 1,
    paths: [
      { path: layout.userModePath, kind: 'file' },
      ...created.sort((a, b) => b.length - a.length).map((path) => ({ path, kind: 'directory' as const })),
    ],
  };
  writeInstallRecord(layout.stateDir, install);
  log(`user mode for ${user} (uid ${uid}) recorded in ${layout.userModePath}; no helper runs`);
  log(`limits: ${USER_MODE_LIMITS.join('; ')}`);
  log(`undo with: berth-helper uninstall (it reads ${join(layout.stateDir, INSTALL_RECORD_NAME)})`);
  return record;
}
