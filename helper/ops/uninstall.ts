import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { statAt, unlinkAt } from '../../native';
import { auditLogGeneration } from '../../common/audit-log-files';
import { CLI_TOOLS } from '../../common/cli-tools';
import { HOSTS_PATH } from '../../common/paths';
import { INSTALL_RECORD_NAME } from '../../common/install-record';
import { ProtocolError, type OperationResult } from '../../common/protocol';
import type { HelperConfig } from '../../common/helper-config/schema';
import { readInstallRecord } from '../../common/install-record';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { POLICY_CACHE_NAME, policyInForce, readCachedPolicy } from '../../common/policy';
import { BACKUP_SUFFIX, removeHostsBlock } from './hosts';
import { LINK_RECORD_NAME, removeOurLinks } from './symlinks';
import type { OperationHandler } from './types';
import { afterUnenrol } from './unenrol';
import { WANTS_RECORD_NAME, wantsSeed } from './wants';
import { recordRemovalRequest, REMOVAL_REQUEST_NAME } from '../daemon/removal-request';

type Outcome = OperationResult<'uninstall'>;

/** State files the helper itself writes in its state dir (the policy cache is handled apart). */
const STATE_FILES = [LINK_RECORD_NAME, WANTS_RECORD_NAME, REMOVAL_REQUEST_NAME];

/**
 * The answer under systemd, where nothing is removed before the helper has
 * stopped: the caller must not read "removed: []" as "nothing to do".
 */
export const HANDED_OVER_REASON =
  'removal will finish when the helper stops: systemd then removes the helper, its service, CLI links, hosts entries and state';

export interface UninstallOptions {
  hostsPath?: string;
  /**
   * Whether the organization policy goes too. Only when root asks: the
   * enrolled users must not be able to delete the policy and so roll it back.
   */
  removePolicy: boolean;
  /**
   * Keep the log directory and everything in it, saying why. When the helper
   * removes itself because its app is gone, nobody asked: the audit log is
   * what tells the admin what happened (root's uninstall keeps nothing).
   */
  keepLogs?: { dir: string; reason: string };
}

/** Removes one recorded path if it still is what we made: root-owned, of the recorded kind. */
function removeRecorded(path: string, kind: 'file' | 'directory' | 'socket', outcome: Outcome): void {
  try {
    withTrustedDirectory(dirname(path), (dir) => {
      const st = statAt(dir.fd, basename(path));
      if (st === null) return;
      if (st.type !== kind || st.uid !== 0) {
        outcome.kept.push({ path, reason: `is now a ${st.type} owned by uid ${st.uid}, not what the installer made` });
        return;
      }
      if (kind !== 'directory') unlinkAt(dir.fd, basename(path));
      // The parent is root's alone (checked above), so this path cannot be swapped under us.
      else rmdirSync(path);
      outcome.removed.push(path);
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'NOT_FOUND') return; // its directory is gone already: so is the path
    const reason = code === 'ENOTEMPTY' || code === 'EEXIST' ? 'holds files Berth did not put there' : (error as Error).message;
    outcome.kept.push({ path, reason });
  }
}

/**
 * Everything Berth put on this machine, and nothing else: our links (a
 * foreign file at a link name stays), our hosts block (user lines stay), the
 * state files, then what the install record lists. Each step is independent,
 * so a half-installed machine is cleaned as far as it can be, and running it
 * twice finds nothing left to do.
 */
export function uninstallEverything(config: HelperConfig, options: UninstallOptions): Outcome {
  const hostsPath = options.hostsPath ?? HOSTS_PATH;
  const outcome: Outcome = { scope: 'machine', removed: [], kept: [] };
  for (const name of CLI_TOOLS) {
    try {
      const { links, linkDir } = removeOurLinks(config, [name]);
      for (const link of links) if (link.action === 'removed') outcome.removed.push(`${linkDir}/${link.name}`);
    } catch (error) {
      // No link directory at all: then there is no link of ours in it either.
      if (error instanceof ProtocolError && error.code === 'NOT_FOUND') continue;
      outcome.kept.push({ path: `${config.linkDir}/${name}`, reason: (error as Error).message });
    }
  }
  try {
    const hosts = removeHostsBlock(hostsPath);
    if (hosts.changed) outcome.removed.push(`${hostsPath}: the berth block`);
    // The backup an in-place edit left (a bind-mounted hosts file), now that our block is gone.
    removeRecorded(`${hostsPath}${BACKUP_SUFFIX}`, 'file', outcome);
  } catch (error) {
    outcome.kept.push({ path: hostsPath, reason: error instanceof ProtocolError ? error.message : String(error) });
  }
  const record = readInstallRecord(config.stateDir);
  for (const name of [...STATE_FILES, INSTALL_RECORD_NAME]) removeRecorded(`${config.stateDir}/${name}`, 'file', outcome);
  const policyPath = `${config.stateDir}/${POLICY_CACHE_NAME}`;
  if (options.removePolicy) removeRecorded(policyPath, 'file', outcome);
  else if (existsSync(policyPath)) outcome.kept.push({ path: policyPath, reason: 'the organization policy stays: only root may remove it' });
  // The audit log's rotated files (audit.log.1, …): the helper made them as it ran; the record lists only the current one.
  if (config.auditLogPath !== undefined && options.keepLogs === undefined) {
    const logDir = dirname(config.auditLogPath);
    const base = basename(config.auditLogPath);
    let present: string[] = [];
    try {
      present = readdirSync(logDir);
    } catch {
      // No log directory: nothing rotated in it.
    }
    for (const name of present) {
      const generation = auditLogGeneration(base, name);
      if (generation !== undefined && generation > 0) removeRecorded(join(logDir, name), 'file', outcome);
    }
  }
  // The socket node, so that its folder (the installer's: in the record) can go next: the socket the
  // standalone supervisor or launchd holds for this helper while it answers this uninstall (connections
  // already accepted are served to the end; new ones find nothing), which neither would remove in time,
  // or one left behind. Only a root-owned socket, in a folder root's alone.
  const socketDir = dirname(config.socketPath);
  if (record?.paths.some((entry) => entry.kind === 'directory' && entry.path === socketDir)) removeRecorded(config.socketPath, 'socket', outcome);
  const kept = options.keepLogs;
  for (const entry of record?.paths ?? []) {
    if (kept !== undefined && (entry.path === kept.dir || entry.path.startsWith(`${kept.dir}/`))) {
      if (existsSync(entry.path)) outcome.kept.push({ path: entry.path, reason: kept.reason });
      continue;
    }
    removeRecorded(entry.path, entry.kind, outcome);
  }
  removeRecorded(config.stateDir, 'directory', outcome);
  return outcome;
}

/**
 * Who runs the organization's install. A managed helper (an org key was
 * recorded at install) is the admin's: removing it (as the last enrolled
 * user's uninstall would) would delete the only copy of the org key, so the
 * kept policy cache could no longer be verified and every lock and the
 * registry allowlist would silently stop applying; it would also erase the
 * audit log and the hosts entries and links the locks require. So only root
 * (the admin, MDM, or the app's password prompt) may remove it; an enrolled
 * user is refused before anything is touched. (Leaving while others stay
 * enrolled removes none of that, so it is allowed.)
 */
function assertMayUninstall(peerUid: number, config: HelperConfig): void {
  if (peerUid === 0 || config.orgPublicKey === undefined) return;
  const organization = policyInForce(readCachedPolicy(config.stateDir, config.orgPublicKey))?.organization ?? 'your organization';
  throw new ProtocolError(
    'LOCKED_BY_POLICY',
    `Berth's helper is managed by ${organization}, so only an administrator can remove it: ` +
      "uninstall it from Berth's settings with an administrator's password, or ask your IT department",
  );
}

/**
 * A user's uninstall ends that user's enrolment; while other accounts remain
 * enrolled the helper stays for them (and so does a managed helper's policy:
 * leaving lifts nothing). The last account's uninstall, and root's, remove
 * everything; a managed helper's full removal is root's alone.
 */
export const uninstall: OperationHandler<'uninstall'> = (_args, { peer, config, enrolment, afterReply, handOverRemoval }) => {
  if (peer.uid !== 0) {
    // Taken before the change: an older install's links and hosts block are its first account's.
    const seed = wantsSeed(config, enrolment.uids()[0]);
    const remaining = enrolment.unenrol(peer.uid);
    if (remaining !== undefined) return { result: afterUnenrol(config, peer.uid, seed, remaining, { helperPath: config.socketPath }) };
  }
  assertMayUninstall(peer.uid, config);
  if (handOverRemoval !== undefined) {
    // Under systemd nothing is removed from in here (the sandbox would leave the unit loaded and
    // half the folders behind): who asked is recorded, atomically and before the answer, so a
    // failed write is this request's error and changes nothing; the finisher reads it once we exit.
    recordRemovalRequest(config.stateDir, peer.uid);
    afterReply(handOverRemoval);
    return { result: { scope: 'machine', removed: [], kept: [{ path: config.socketPath, reason: HANDED_OVER_REASON }] } };
  }
  const result = uninstallEverything(config, { removePolicy: peer.uid === 0 });
  // The socket goes with the helper, if uninstallEverything did not remove it: its own server removes it as it exits.
  const socket = config.socketPath;
  if (!result.removed.includes(socket) && !result.kept.some((entry) => entry.path === socket)) result.removed.push(socket);
  afterReply(() => process.kill(process.pid, 'SIGTERM'));
  return { result };
};
