import { HelperClient, HelperRequestError, HelperUnavailableError, type HelloInfo } from '../helper-client';
import { BERTH_VERSION } from '../../common/app-version';
import { readUserMode, USER_MODE_LIMITS } from '../../common/user-mode';
import { shortDigest } from '../../common/program-digest';
import { buildMismatch, type HelperBuilds } from '../install/helper-build';
import { diagnoseHelper, type DiagnosisFacts, type HelperCondition, type HelperDiagnosis } from '../../common/helper/diagnosis';

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
  /** The coarse state: the tray's icon, the exit codes, what Settings offers. */
  state: HelperState;
  /** The diagnosis's sentence (common/helper/diagnosis.ts): what is true now. */
  message: string;
  /** What is wrong, finely, in words with the one fix: what every surface shows. */
  diagnosis: HelperDiagnosis;
  socketPath: string;
  helper?: HelloInfo;
  bundledVersion: string;
  /** The bundled helper's short digest (common/program-digest.ts), when known: the update is asked once per build. */
  bundledBuild?: string;
  /** Set on a machine installed with `install --user`: for whom, and what it cannot do. */
  userMode?: { user: string; uid: number; limits: readonly string[] };
}

/** Each fine condition's coarse state: transient troubles (busy, an upgrade) read as "unavailable", an impostor as an error. */
export function stateFor(condition: HelperCondition): HelperState {
  switch (condition) {
    case 'impostor':
    case 'busy':
    case 'error':
      return 'error';
    case 'upgrading':
      return 'not-running';
    default:
      return condition;
  }
}

/** What a status says about the helper besides its words: to word it again (installed-helper.ts). */
export function factsOf(status: HelperStatus): Omit<HelperStatus, 'state' | 'message' | 'diagnosis'> {
  const { socketPath, helper, bundledVersion, bundledBuild, userMode } = status;
  return {
    socketPath,
    bundledVersion,
    ...(helper !== undefined ? { helper } : {}),
    ...(bundledBuild !== undefined ? { bundledBuild } : {}),
    ...(userMode !== undefined ? { userMode } : {}),
  };
}

/** A status for `condition`, with its diagnosis; `facts` add what the words need (versions, the start command). */
export function statusFor(
  base: Omit<HelperStatus, 'state' | 'message' | 'diagnosis'>,
  condition: HelperCondition,
  facts: DiagnosisFacts = {},
): HelperStatus {
  const diagnosis = diagnoseHelper(condition, {
    version: base.helper?.helperVersion ?? null,
    bundledVersion: base.bundledVersion,
    ...(base.userMode !== undefined ? { userModeUser: base.userMode.user } : {}),
    ...facts,
  });
  return { ...base, state: stateFor(condition), message: diagnosis.sentence, diagnosis };
}

/** Why a connection and hello failed, as a condition; the error's own text is kept as the technical detail. */
export function conditionOf(error: unknown): { condition: HelperCondition; facts: DiagnosisFacts } {
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof HelperUnavailableError) {
    switch (error.reason) {
      case 'not-installed':
      case 'not-running':
      case 'no-permission':
      case 'impostor':
        return { condition: error.reason, facts: { detail, ...(error.peerUid !== undefined ? { impostorUid: error.peerUid } : {}) } };
      // Hung up before it answered: at this account's connection cap (refused without a word), or shutting down.
      case 'busy':
      case 'closed':
        return { condition: 'busy', facts: { detail } };
    }
  }
  if (error instanceof HelperRequestError) {
    if (error.needsUpdate) return { condition: 'needs-update', facts: { detail, protocolMismatch: true } };
    // The helper answered and refused this uid before reading a byte: other accounts enrolled, not this one.
    if (error.code === 'UNAUTHORIZED') return { condition: 'not-enrolled', facts: { detail } };
    if (error.code === 'BUSY') return { condition: 'busy', facts: { detail } };
  }
  return { condition: 'error', facts: { detail } };
}

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
    const limits = { user: userMode.user, uid: userMode.uid, limits: USER_MODE_LIMITS };
    return statusFor({ ...base, userMode: limits }, 'user-mode', { detail: `user mode for ${userMode.user}: ${USER_MODE_LIMITS.join('; ')}` });
  }
  let client: HelperClient;
  try {
    client = await HelperClient.connect(socketPath, { clientName: `berth/${BERTH_VERSION}` });
  } catch (error) {
    const { condition, facts } = conditionOf(error);
    return statusFor(base, condition, facts);
  }
  const helper = client.info;
  client.close();
  if (isOlder(helper.helperVersion, BERTH_VERSION)) {
    return statusFor({ ...base, helper }, 'needs-update', { detail: `the helper is version ${helper.helperVersion}; this Berth bundles ${BERTH_VERSION}` });
  }
  // Same version, other bytes (a rebuild, a re-signed binary): still an update to offer.
  const mismatch = helper.helperVersion === BERTH_VERSION ? buildMismatch(builds.installed, builds.bundled, helper.helperVersion) : undefined;
  if (mismatch !== undefined) return statusFor({ ...base, helper }, 'needs-update', { sameVersionBuild: true, detail: mismatch });
  return statusFor({ ...base, helper }, 'running');
}
