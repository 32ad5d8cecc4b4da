import { ProtocolError, type ErrorCode } from '../protocol/errors';

/**
 * Why a policy was refused. `kind` picks the protocol code; `reason` is the
 * finer cause, for tests, the CLI and logs (the message says it in words).
 */
export type PolicyErrorKind = 'invalid' | 'expired' | 'stale' | 'key';

export type PolicyInvalidReason =
  | 'too-large'
  | 'json'
  | 'format'
  | 'key-id'
  | 'signature'
  | 'payload'
  | 'expired'
  | 'stale'
  | 'key';

const CODES: Record<PolicyErrorKind, ErrorCode> = {
  invalid: 'POLICY_INVALID',
  expired: 'POLICY_EXPIRED',
  stale: 'POLICY_STALE',
  // The organization key itself is unusable: an install problem, not the document's fault.
  key: 'NOT_CONFIGURED',
};

/** The protocol code each kind of refusal crosses the wire as. */
export function policyErrorCode(kind: PolicyErrorKind): ErrorCode {
  return CODES[kind];
}

/**
 * A refused policy. A ProtocolError, so the helper can let it propagate and
 * the client sees the right code, with a message and no stack.
 */
export class PolicyError extends ProtocolError {
  readonly kind: PolicyErrorKind;
  readonly reason: PolicyInvalidReason;

  constructor(kind: PolicyErrorKind, reason: PolicyInvalidReason, message: string) {
    super(policyErrorCode(kind), message);
    this.name = 'PolicyError';
    this.kind = kind;
    this.reason = reason;
  }
}
