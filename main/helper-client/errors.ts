import type { ErrorCode } from '../../common/protocol';

/** Why the helper could not be reached; `reason` picks the message the UI shows. */
export type UnavailableReason = 'not-installed' | 'not-running' | 'no-permission' | 'busy' | 'impostor' | 'closed';

export class HelperUnavailableError extends Error {
  readonly reason: UnavailableReason;
  /** impostor: the uid the kernel says serves the socket. */
  readonly peerUid: number | undefined;

  constructor(reason: UnavailableReason, message: string, peerUid?: number) {
    super(message);
    this.name = 'HelperUnavailableError';
    this.reason = reason;
    this.peerUid = peerUid;
  }
}

/** The helper answered, and said no. `code` is the protocol's error code. */
export class HelperRequestError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'HelperRequestError';
    this.code = code;
  }

  /** The helper is older than this app (or the reverse): reinstalling it fixes that. */
  get needsUpdate(): boolean {
    return this.code === 'UNSUPPORTED_VERSION';
  }
}

/** The helper broke the protocol (bad frame, unexpected fds) or did not answer in time. */
export class HelperProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HelperProtocolError';
  }
}
