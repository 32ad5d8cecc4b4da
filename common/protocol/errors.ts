/**
 * Error codes the helper may answer with. A closed enum: the client maps each
 * to a message the user can act on, so a new code is a protocol change.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_OP',
  'UNAUTHORIZED',
  'UNSUPPORTED_VERSION',
  'PORT_IN_USE',
  'ADDRESS_UNAVAILABLE',
  'PERMISSION_DENIED',
  'BUSY',
  /** A file or link that is not Berth's is in the way; nothing was changed. */
  'CONFLICT',
  /** A directory on the way is not root's alone (or is a symlink); nothing was changed. */
  'UNSAFE_PATH',
  /** The install did not record what this operation needs (app location, org key). */
  'NOT_CONFIGURED',
  /** The policy's signature, format or key is wrong; the cache is untouched. */
  'POLICY_INVALID',
  /** The policy's version is not newer than the cached one (a replay); the cache is untouched. */
  'POLICY_STALE',
  /** The policy has expired; the cache is untouched. */
  'POLICY_EXPIRED',
  /** The organization policy locks the setting this operation would change. */
  'LOCKED_BY_POLICY',
  /** The caller can do this without the helper (a port it may bind itself); nothing was done. */
  'NOT_NEEDED',
  /** The helper's own rules refuse it (privileged UDP off loopback without a policy that allows it). */
  'NOT_ALLOWED',
  /** Nothing matched (e.g. no Berth process of the caller to trace). */
  'NOT_FOUND',
  /** The file system refused the write (read-only); nothing was changed. */
  'READ_ONLY',
  /** The disk (or the user's quota) is full; nothing was changed. */
  'NO_SPACE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error that crosses the wire as `{code, message}`; never carries a stack. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
