import { readlinkAt, renameAt, statAt, symlinkAt, unlinkAt, fsyncDirectory } from '../../native';
import { cliToolTarget, type CliTool } from '../../common/cli-tools';
import { ProtocolError, type OperationResult } from '../../common/protocol';
import { randomTempName } from '../fs/atomic-write';
import { untrustedProgramReason, withTrustedDirectory, type TrustedDirectory } from '../../common/fs/trusted-directory';
import type { HelperConfig } from '../../common/helper-config/schema';
import { assertNotLocked } from './policy-locks';
import { LINK_RECORD_NAME, readLinkRecord, writeLinkRecord, type LinkRecord } from './link-record';
import type { OperationHandler } from './types';
import { sharedReason, unwantLinks, updateWants, wantLinks } from './wants';

export { LINK_RECORD_NAME };

const USER_LOCATION_HINT = " (choose the User location, ~/.berth/bin, in Berth's settings: it needs no helper)";

function appPath(config: HelperConfig): string {
  if (config.appPath === undefined) {
    throw new ProtocolError('NOT_CONFIGURED', 'the install did not record where Berth is, so there is nothing to link to');
  }
  return config.appPath;
}

type Plan = { name: CliTool; target: string; action: 'created' | 'replaced' | 'unchanged' };

/**
 * Decides, for one name, what installing means; or why it would touch
 * something that is not ours. Ours: a root-owned symlink to the target we
 * compute now or to the one we recorded when we made it.
 */
function planInstall(dir: TrustedDirectory, name: CliTool, target: string, record: LinkRecord): Plan | string {
  const st = statAt(dir.fd, name);
  if (st === null) return { name, target, action: 'created' };
  if (st.type !== 'symlink') return `${dir.path}/${name} is a ${st.type} that is not Berth's`;
  if (st.uid !== 0) return `${dir.path}/${name} is a link owned by uid ${st.uid}, not Berth's`;
  const current = readlinkAt(dir.fd, name);
  if (current === target) return { name, target, action: 'unchanged' };
  if (current === record[name]) return { name, target, action: 'replaced' };
  return `${dir.path}/${name} links to ${current}, not to Berth`;
}

/** Creates a link atomically under a fresh temp name, then renames it into place (rename never follows). */
function placeLink(dir: TrustedDirectory, name: CliTool, target: string): void {
  for (let attempt = 0; ; attempt++) {
    const temp = randomTempName(name);
    try {
      symlinkAt(target, dir.fd, temp);
    } catch (error) {
      // Something planted at the temp name: never reuse it, pick another.
      if ((error as { code?: string }).code === 'EEXIST' && attempt < 3) continue;
      throw error;
    }
    try {
      renameAt(dir.fd, temp, name);
    } catch (error) {
      unlinkAt(dir.fd, temp);
      throw error;
    }
    return;
  }
}

/**
 * A link in the system bin directory runs its target for everyone who types the
 * name, root included (`sudo berth`). So the target must be root's alone: the
 * program file itself (a root-owned regular file, not group/world-writable, not
 * a symlink) and every folder above it from '/' (root-owned, not
 * group/world-writable, no symlinks). A target that does not exist is refused
 * too: whoever creates it first would choose what root runs. An app in a
 * user's folder (or an AppImage's per-run mount) gets the User location instead.
 */
function assertTargetIsRoots(target: string): void {
  const reason = untrustedProgramReason(target);
  if (reason === undefined) return;
  throw new ProtocolError(
    'UNSAFE_PATH',
    `the link would run ${target}, but ${reason}: root runs it too (sudo berth), so only root may be able to change it; nothing was changed. ` +
      "Install Berth where only root can write, or choose the User location (~/.berth/bin) in Berth's settings: it needs no helper",
  );
}

export const installSymlinks: OperationHandler<'installSymlinks'> = (args, { peer, config, enrolment }) => {
  assertNotLocked(config, 'cliToolsLocation', (where) => where === 'system', 'the CLI tools location');
  const app = appPath(config);
  for (const name of args.names) assertTargetIsRoots(cliToolTarget(app, name));
  // This account wants them (another account's removeSymlinks then leaves them); recorded first,
  // so a record that cannot be written leaves the link directory untouched.
  updateWants(config, enrolment, (wants) => wantLinks(wants, peer.uid, args.names));
  const record = readLinkRecord(config);
  const result: OperationResult<'installSymlinks'> = withTrustedDirectory(
    config.linkDir,
    (dir) => {
      const plans = args.names.map((name) => planInstall(dir, name, cliToolTarget(app, name), record));
      const conflicts = plans.filter((p): p is string => typeof p === 'string');
      // All or nothing: one conflict and no name is touched.
      if (conflicts.length > 0) throw new ProtocolError('CONFLICT', `${conflicts.join('; ')}; nothing was changed`);
      const done = plans as Plan[];
      for (const plan of done) if (plan.action !== 'unchanged') placeLink(dir, plan.name, plan.target);
      fsyncDirectory(dir.fd);
      return { linkDir: dir.path, links: done };
    },
    USER_LOCATION_HINT,
  );
  const next = { ...record };
  for (const link of result.links) next[link.name] = link.target;
  if (JSON.stringify(next) !== JSON.stringify(record)) writeLinkRecord(config, next);
  return { result };
};

/** Removes our links only; anything else at a name is a conflict and nothing is removed. */
export function removeOurLinks(config: HelperConfig, names: readonly CliTool[]): OperationResult<'removeSymlinks'> {
  const record = readLinkRecord(config);
  const app = config.appPath;
  const result = withTrustedDirectory(
    config.linkDir,
    (dir) => {
      const plans = names.map((name) => {
        const st = statAt(dir.fd, name);
        if (st === null) return { name, action: 'absent' as const };
        const ours =
          st.type === 'symlink' &&
          st.uid === 0 &&
          [record[name], app === undefined ? undefined : cliToolTarget(app, name)].includes(readlinkAt(dir.fd, name));
        return ours ? { name, action: 'removed' as const } : `${dir.path}/${name} is not Berth's link`;
      });
      const conflicts = plans.filter((p): p is string => typeof p === 'string');
      if (conflicts.length > 0) throw new ProtocolError('CONFLICT', `${conflicts.join('; ')}; nothing was removed`);
      const done = plans as Array<{ name: CliTool; action: 'removed' | 'absent' }>;
      for (const plan of done) if (plan.action === 'removed') unlinkAt(dir.fd, plan.name);
      fsyncDirectory(dir.fd);
      return { linkDir: dir.path, links: done };
    },
    USER_LOCATION_HINT,
  );
  const removed = new Set<string>(result.links.map((l) => l.name));
  const next = Object.fromEntries(Object.entries(record).filter(([name]) => !removed.has(name)));
  if (JSON.stringify(next) !== JSON.stringify(record)) writeLinkRecord(config, next);
  return result;
}

/**
 * Removes the caller's wish for these links; a link another account still
 * wants stays, and the result says so ('kept'), while the rest are removed.
 */
export const removeSymlinks: OperationHandler<'removeSymlinks'> = (args, { peer, config, enrolment }) => {
  assertNotLocked(config, 'cliToolsLocation', (where) => where !== 'system', 'the CLI tools location');
  let shared: CliTool[] = [];
  updateWants(config, enrolment, (wants) => {
    const after = unwantLinks(wants, peer.uid, args.names);
    shared = after.shared;
    return after.wants;
  });
  const rest = args.names.filter((name) => !shared.includes(name));
  const removed = rest.length > 0 ? removeOurLinks(config, rest) : { linkDir: config.linkDir, links: [] };
  const reason = sharedReason();
  const kept = shared.map((name) => ({ name, action: 'kept' as const, reason }));
  // In the order asked, so a caller can read the answer beside its request.
  const links = args.names.map((name) => removed.links.find((l) => l.name === name) ?? kept.find((l) => l.name === name)!);
  return { result: { linkDir: removed.linkDir, links } };
};
