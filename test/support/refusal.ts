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
