import { HelperClient, HelperRequestError, HelperUnavailableError, type HelloInfo } from '../helper-client';
import { BERTH_VERSION } from '../../common/app-version';
import { readUserMode, USER_MODE_LIMITS } from '../../common/user-mode';
import { shortDigest } from '../../common/program-digest';
import { buildMismatch, type HelperBuilds } from '../install/helper-build';

export type HelperState =
  | 'running'
  | 'user-mode'
  | 'not-installed'
  | 'not-running'
  | 'no-permission'
  | 'not-enrolled'
  | 'needs-update'
  | 'error';

export interface HelperStatus {
  state: HelperState;
  /** One sentence for the user: what is wrong, or what runs. */
  message: string;
  socketPath: string;
  helper?: HelloInfo;
  bundledVersion: string;
  /** The bundled helper's short digest (common/program-digest.ts), when known: the update is asked once per build. */
  bundledBuild?: string;
  /** Set on a machine installed with `install --user`: for whom, and what it cannot do. */
  userMode?: { user: string; uid: number; limits: readonly string[] };
}

/** What the app and `berth helper status` say to an account the helper does not serve; the install action enrols it. */
export const NOT_ENROLLED_MESSAGE = "Berth's helper is installed on this machine, but not for your account";

/** Compares dotted numeric versions; enough for our own x.y.z. */
export function isOlder(version: string, than: string): boolean {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** Asks the helper who it is; every failure becomes a state the UI and CLI can show. */
export async function probeHelper(socketPath: string, userModePath?: string, builds: HelperBuilds = {}): Promise<HelperStatus> {
  const base = {
    socketPath,
    bundledVersion: BERTH_VERSION,
    ...(builds.bundled !== undefined ? { bundledBuild: shortDigest(builds.bundled) } : {}),
  };
  const userMode = readUserMode(userModePath);
  if (userMode !== undefined) {
    // No helper by design: an admin set Berth up for one account, so nothing to prompt for.
    return {
      ...base,
      state: 'user-mode',
      message: `user mode for ${userMode.user}: no helper runs; ${USER_MODE_LIMITS.join('; ')}`,
      userMode: { user: userMode.user, uid: userMode.uid, limits: USER_MODE_LIMITS },
    };
  }
  let client: HelperClient;
  try {
    client = await HelperClient.connect(socketPath, { clientName: `berth/${BERTH_VERSION}` });
  } catch (error) {
    if (error instanceof HelperUnavailableError) {
      const state: HelperState =
        error.reason === 'not-installed' || error.reason === 'not-running' || error.reason === 'no-permission'
          ? error.reason
          : 'error';
      return { ...base, state, message: error.message };
    }
    if (error instanceof HelperRequestError && error.needsUpdate) {
      return { ...base, state: 'needs-update', message: error.message };
    }
    // The helper answered and refused this uid before reading a byte: other accounts enrolled, not this one.
    if (error instanceof HelperRequestError && error.code === 'UNAUTHORIZED') {
      return { ...base, state: 'not-enrolled', message: NOT_ENROLLED_MESSAGE };
    }
    return { ...base, state: 'error', message: (error as Error).message };
  }
  const helper = client.info;
  client.close();
  if (isOlder(helper.helperVersion, BERTH_VERSION)) {
    return {
      ...base,
      helper,
      state: 'needs-update',
      message: `the helper is version ${helper.helperVersion}; this Berth bundles ${BERTH_VERSION}`,
    };
  }
  // Same version, other bytes (a rebuild, a re-signed binary): still an update to offer.
  const mismatch = helper.helperVersion === BERTH_VERSION ? buildMismatch(builds.installed, builds.bundled, helper.helperVersion) : undefined;
  if (mismatch !== undefined) return { ...base, helper, state: 'needs-update', message: mismatch };
  return { ...base, helper, state: 'running', message: `the helper ${helper.helperVersion} is running` };
}
