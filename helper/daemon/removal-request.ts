import { z } from 'zod';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { errnoCode } from '../../common/errno';
import { enrolledUid } from '../../common/helper-config/schema';
import { statAt, unlinkAt } from '../../native';
import { writeFileAtomically } from '../fs/atomic-write';
import { openStateDir } from '../fs/state-dir';

/**
 * The helper's exit status when it leaves to be removed and runs in systemd's
 * sandbox, which can neither reach systemd nor remove every path the install
 * made: its app is gone (helper/daemon/app-presence.ts), or someone asked for
 * `uninstall` (the record below). The unit's ExecStopPost=+ (full privileges,
 * after the helper stopped) sees the status and finishes the removal
 * (helper/install/finish-removal.ts); the unit lists it in SuccessExitStatus=.
 */
export const REMOVAL_EXIT_STATUS = 75;

/**
 * An `uninstall` asked of the helper under systemd, kept for the finisher.
 * In the state dir: root's alone (the helper refuses any other), so only root
 * can have written it; 0600, nobody else needs to read it.
 */
export const REMOVAL_REQUEST_NAME = 'removal.json';

/**
 * Who asked, and when (for the log): nothing else. The finisher acts on
 * fixed paths from the install layout and the install record, never on a
 * path or command from here, and checks the uid against the config again.
 */
const removalRequest = z.strictObject({
  version: z.literal(1),
  /** Root (the admin's own request over the socket) or an enrolled account. */
  uid: z.union([z.literal(0), enrolledUid]),
  requestedAt: z.iso.datetime(),
});

export type RemovalRequest = z.infer<typeof removalRequest>;

/** Far more than the record takes: anything larger was not written by the helper. */
const MAX_BYTES = 1024;

/** Records `uid`'s uninstall for the finisher, atomically (a crash leaves the old state or the whole record). */
export function recordRemovalRequest(stateDir: string, uid: number, now: Date = new Date()): RemovalRequest {
  const request = removalRequest.parse({ version: 1, uid, requestedAt: now.toISOString() });
  const dir = openStateDir(stateDir);
  try {
    writeFileAtomically(dir, REMOVAL_REQUEST_NAME, Buffer.from(`${JSON.stringify(request)}\n`), { mode: 0o600 });
  } finally {
    dir.close();
  }
  return request;
}

export type ReadRemovalRequest = { request: RemovalRequest } | { problem: string } | undefined;

/**
 * The recorded request; undefined when there is none (or no state dir);
 * `problem` when something is there that is not a valid request, which the
 * finisher then ignores and discards. Read without following a link, in a
 * directory that must be root's alone.
 */
export function readRemovalRequest(stateDir: string): ReadRemovalRequest {
  let bytes: Buffer | null;
  try {
    bytes = withTrustedDirectory(stateDir, (dir) => readFileAt(dir, REMOVAL_REQUEST_NAME, MAX_BYTES));
  } catch (error) {
    if (errnoCode(error) === 'NOT_FOUND') return undefined;
    return { problem: `cannot read ${stateDir}/${REMOVAL_REQUEST_NAME}: ${(error as Error).message}` };
  }
  if (bytes === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: `${stateDir}/${REMOVAL_REQUEST_NAME} is not JSON` };
  }
  const parsed = removalRequest.safeParse(json);
  if (!parsed.success) return { problem: `${stateDir}/${REMOVAL_REQUEST_NAME} is not a removal request the helper wrote` };
  return { request: parsed.data };
}

/** Removes the record, valid or not (a directory of that name is not ours and stays); true when one was there. */
export function discardRemovalRequest(stateDir: string): boolean {
  try {
    return withTrustedDirectory(stateDir, (dir) => {
      const st = statAt(dir.fd, REMOVAL_REQUEST_NAME);
      // Only a file or link of that name is ours to unlink; a directory there is not something we made.
      if (st === null || st.type === 'directory') return false;
      unlinkAt(dir.fd, REMOVAL_REQUEST_NAME);
      return true;
    });
  } catch (error) {
    // No state dir (removed already, or never made): no record either.
    if (errnoCode(error) === 'NOT_FOUND' || errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}
