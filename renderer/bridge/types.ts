import type { BerthApi } from '../../common/api/backend-api';

export type { BerthApi };

/**
 * What the Electron preload puts on `window.berth`. The page trusts none of it:
 * the object is checked for shape before use and every reply and state is
 * validated against the shared schemas (bridge/validate.ts).
 *
 * Two shapes are accepted:
 * - `invoke`: resolves with the wire reply `{ok, result}` / `{ok: false, error}`
 *   (main/electron/preload.ts today);
 * - `call`: resolves with the result and rejects with `{code, message}`
 *   (the BerthApi shape itself).
 */
export interface PreloadInvokeBridge {
  invoke(method: string, params: unknown): Promise<unknown>;
  subscribe(listener: (state: unknown) => void): () => void;
}

export interface PreloadCallBridge {
  call(method: string, params: unknown): Promise<unknown>;
  subscribe(listener: (state: unknown) => void): () => void;
}

export type PreloadBridge = PreloadInvokeBridge | PreloadCallBridge;

declare global {
  interface Window {
    /** Set by the Electron preload; absent in browser mode. Unknown until checked. */
    berth?: unknown;
  }
}

/**
 * The state stream's health, for the "reconnecting" banner. `connecting`:
 * no snapshot yet; `open`: snapshots arrive; `reconnecting`: the stream
 * dropped and is being re-opened; `failed`: it cannot work (e.g. no token).
 */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'failed';
export interface Connection {
  status: ConnectionStatus;
  /** One sentence for the user when not `open`. */
  detail: string | null;
}

/** Where the renderer runs: in Electron, in a browser tab, or in the dev preview. */
export type TransportKind = 'electron' | 'browser' | 'preview';

/** BerthApi plus what only the renderer needs from its transport. */
export interface RendererApi extends BerthApi {
  readonly kind: TransportKind;
  /** Connection changes; called at once with the current one. Returns the unsubscribe. */
  onConnection(listener: (connection: Connection) => void): () => void;
}
