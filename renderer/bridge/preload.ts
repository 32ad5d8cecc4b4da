import type { ApiMethod, ApiParams, ApiResult, BackendState } from '../../common/api/backend-api';
import { createConnectionHub } from './connection';
import type { PreloadBridge, RendererApi } from './types';
import { checkState, toApiError, unwrapReply, validateResult } from './validate';

/** Whether a value looks like the preload's object: functions only, checked before any use. */
export function asPreloadBridge(value: unknown): PreloadBridge | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Record<string, unknown>;
  if (typeof candidate.subscribe !== 'function') return undefined;
  if (typeof candidate.invoke === 'function' || typeof candidate.call === 'function') return candidate as unknown as PreloadBridge;
  return undefined;
}

/** The Electron transport: the preload's object, with every reply and state validated here. */
export function createPreloadApi(bridge: PreloadBridge): RendererApi {
  const connection = createConnectionHub({ status: 'connecting', detail: null });

  async function call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    try {
      if ('invoke' in bridge) return unwrapReply(method, await bridge.invoke(method, params));
      return validateResult(method, await bridge.call(method, params));
    } catch (error) {
      throw toApiError(error);
    }
  }

  function subscribe(listener: (state: BackendState) => void): () => void {
    return bridge.subscribe((raw) => {
      const checked = checkState(raw);
      if (!checked.ok) {
        connection.set({ status: 'failed', detail: checked.message });
        return;
      }
      connection.set({ status: 'open', detail: null });
      listener(checked.state);
    });
  }

  return { kind: 'electron', call, subscribe, onConnection: connection.listen };
}
