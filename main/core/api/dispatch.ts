import type { z } from 'zod';
import {
  API_METHODS,
  type callReply,
  ApiError,
  isApiMethod,
  type ApiErrorCode,
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type BackendState,
} from '../../../common/api/backend-api';

/** The backend's implementation of every API method, params already validated. */
export type ApiHandlers = { [M in ApiMethod]: (params: ApiParams<M>) => Promise<ApiResult<M>> };

export type CallReply = z.infer<typeof callReply>;

/** Messages stay one readable sentence, and never carry a stack or a huge payload back to a client. */
const MAX_MESSAGE = 500;

function failure(code: ApiErrorCode, message: string): CallReply {
  return { ok: false, error: { code, message: message.slice(0, MAX_MESSAGE) } };
}

/**
 * The one gate every transport (control socket, Electron IPC, browser bridge)
 * calls through: the method must be in the closed set and its params must
 * pass that method's schema before any handler runs.
 */
export async function dispatch(handlers: ApiHandlers, method: unknown, params: unknown): Promise<CallReply> {
  if (typeof method !== 'string' || !isApiMethod(method)) {
    return failure('INVALID', `unknown method ${JSON.stringify(String(method)).slice(0, 80)}`);
  }
  const parsed = API_METHODS[method].params.safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return failure('INVALID', `${method}: ${where}${issue?.message ?? 'invalid parameters'}`);
  }
  try {
    const handler = handlers[method] as (p: unknown) => Promise<unknown>;
    return { ok: true, result: await handler(parsed.data) };
  } catch (error) {
    if (error instanceof ApiError) return failure(error.code, error.message);
    return failure('FAILED', error instanceof Error ? error.message : String(error));
  }
}

/** Client side: a reply checked against the method's result schema, or the error it carries, thrown. */
export function unwrapReply<M extends ApiMethod>(method: M, reply: CallReply): ApiResult<M> {
  if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message);
  const parsed = API_METHODS[method].result.safeParse(reply.result);
  if (!parsed.success) throw new ApiError('FAILED', `the backend's ${method} reply does not match the API`);
  return parsed.data as ApiResult<M>;
}

/** What a transport serves: untrusted calls in, replies and state snapshots out. */
export interface ApiHost {
  call(method: unknown, params: unknown): Promise<CallReply>;
  state(): BackendState;
  subscribe(listener: (state: BackendState) => void): () => void;
}
