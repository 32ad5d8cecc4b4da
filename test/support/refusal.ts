import { ApiError } from '../../common/api/backend-api';
import { ProtocolError } from '../../common/protocol';

/** The ProtocolError an operation refuses with; fails the test if it succeeds or throws anything else. */
export async function refusal(fn: () => unknown): Promise<ProtocolError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** The ApiError the backend's core refuses with (what the app and the CLI show); fails the test if `promise` resolves or rejects with anything else. */
export async function apiRefusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}
