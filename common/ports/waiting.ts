import type { BackendState } from '../api/backend-api';
import type { MappingStatus } from './mapping';

/**
 * What a mapping that is not listening says to the user: its cause, and,
 * while it waits for its port or address, when it tries again — one
 * sentence, worked out at the moment it is shown (the renderer re-reads it
 * every second, the CLI when it prints), so "in 8 s" is true when read.
 */

/** "in 8 s", "in 2 min", "now": the time until `atMs`, rounded up to whole seconds. */
export function untilText(atMs: number, nowMs: number): string {
  const seconds = Math.ceil((atMs - nowMs) / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  return `in ${Math.round(seconds / 60)} min`;
}

/**
 * "127.0.0.1:8080 is already in use by another program; trying again in 8 s".
 * Null when there is nothing to say (no error). The message is the backend's
 * (written to follow "berth: " in a terminal); the caller adds the capital
 * and full stop where a sentence stands alone.
 */
export function problemText(status: Pick<MappingStatus, 'error' | 'retry'>, nowMs: number): string | null {
  if (status.error === null) return null;
  if (status.retry === null) return status.error.message;
  const when = untilText(Date.parse(status.retry.at), nowMs);
  const trying = when === 'now' ? 'trying again now' : `trying again ${when}`;
  // The OS says when addresses change, and the retry runs then: say so, it is the likely way out.
  const early = status.retry.onAddressChange && when !== 'now' ? `trying again as soon as this machine's addresses change, or ${when}` : trying;
  return `${status.error.message}; ${early}`;
}

/** What the mapping's state needs to know of the organization's policy. */
export interface PolicyView {
  /** The organization that manages Berth here (null: none, or it gave no name). */
  organization: string | null;
  /** Its policy holds privileged port mapping off, so a port that needs the helper cannot get it. */
  portMappingLockedOff: boolean;
}

/**
 * The organization whose policy keeps this mapping from listening, or null.
 * A port rule refuses it (LOCKED), or the port needs the helper while the
 * policy holds privileged port mapping off: either way nothing the user can
 * do here changes it, so it is "Blocked by Acme Corp", not "Waiting".
 */
export function blockedBy(status: Pick<MappingStatus, 'state' | 'error'>, policy: PolicyView): string | null {
  if (status.state === 'listening' || status.state === 'starting' || status.error === null) return null;
  const byPolicy = status.error.code === 'LOCKED' || (status.error.code === 'HELPER_NEEDED' && policy.portMappingLockedOff);
  return byPolicy ? (policy.organization ?? 'your organization') : null;
}

const STATE_LABEL: Record<MappingStatus['state'], string> = {
  starting: 'Starting',
  listening: 'Listening',
  waiting: 'Waiting',
  error: 'Error',
};

/** "Listening", "Waiting", "Blocked by Acme Corp": the word next to a mapping, in the app and the CLI. */
export function mappingStateLabel(status: Pick<MappingStatus, 'state' | 'error'>, policy: PolicyView): string {
  const org = blockedBy(status, policy);
  return org === null ? STATE_LABEL[status.state] : `Blocked by ${org}`;
}

/** The policy as the backend's state shows it (the app and `berth ports ls` read the same state). */
export function policyView(state: Pick<BackendState, 'capabilities' | 'locked'>): PolicyView {
  return { organization: state.capabilities.policy.organization, portMappingLockedOff: state.locked.privilegedPortMapping === false };
}
