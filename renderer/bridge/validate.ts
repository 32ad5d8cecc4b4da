import {
  API_METHODS,
  ApiError,
  apiError,
  backendState,
  callReply,
  type ApiMethod,
  type ApiResult,
  type BackendState,
} from '../../common/api/backend-api';

/**
 * The renderer trusts no transport: every result is checked against its
 * method's result schema and every state against `backendState`, so a broken
 * or hostile backend answer becomes a clear error, never a half-drawn UI.
 */

/** A result checked against the method's schema, or an ApiError('FAILED'). */
export function validateResult<M extends ApiMethod>(method: M, raw: unknown): ApiResult<M> {
  const parsed = API_METHODS[method].result.safeParse(raw);
  if (!parsed.success) throw new ApiError('FAILED', `Berth's answer to ${method} is not what this app expects; try restarting Berth.`);
  return parsed.data as ApiResult<M>;
}

/** A wire reply ({ok, result} or {ok: false, error}) unwrapped: the checked result, or the error thrown. */
export function unwrapReply<M extends ApiMethod>(method: M, raw: unknown): ApiResult<M> {
  const reply = callReply.safeParse(raw);
  if (!reply.success) throw new ApiError('FAILED', `Berth's answer to ${method} is not what this app expects; try restarting Berth.`);
  if (!reply.data.ok) throw new ApiError(reply.data.error.code, reply.data.error.message);
  return validateResult(method, reply.data.result);
}

export type StateCheck = { ok: true; state: BackendState } | { ok: false; message: string };

/** A state snapshot checked against `backendState`. */
export function checkState(raw: unknown): StateCheck {
  const parsed = backendState.safeParse(raw);
  if (!parsed.success) return { ok: false, message: 'Berth sent a state this app does not understand; try restarting Berth.' };
  return { ok: true, state: parsed.data };
}

/** Any failure as an ApiError: a carried {code, message} keeps its code; anything else is FAILED. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const carried = apiError.safeParse(error);
  if (carried.success) return new ApiError(carried.data.code, carried.data.message);
  if (error instanceof Error && error.message !== '') return new ApiError('FAILED', error.message);
  return new ApiError('FAILED', 'Something went wrong talking to Berth.');
}
