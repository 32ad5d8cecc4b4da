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
