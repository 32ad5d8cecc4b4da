import { createHttpApi, NO_SESSION, takeLaunchCode, type TokenStorage } from './http';
import { asPreloadBridge, createPreloadApi } from './preload';
import type { RendererApi } from './types';

export type TransportChoice = { ok: true; api: RendererApi } | { ok: false; message: string };


export const WRONG_PRELOAD_MESSAGE = "This window's connection to Berth is not the one this version expects; reinstall Berth.";

/** A tab whose storage is off (privacy settings) still works until it is reloaded. */
function tabStorage(win: Window & typeof globalThis): TokenStorage {
  try {
    const storage = win.sessionStorage;
    storage.getItem('berth.probe');
    return storage;
  } catch {
    const memory = new Map<string, string>();
    return { getItem: (key) => memory.get(key) ?? null, setItem: (key, value) => void memory.set(key, value) };
  }
}

/**
 * Picks the transport: Electron's preload object when the page has one,
 * otherwise the browser bridge with the launch code from the link (or this tab's session).
 */
export function connectTransport(win: Window & typeof globalThis): TransportChoice {
  const preload = asPreloadBridge(win.berth);
  if (preload !== undefined) return { ok: true, api: createPreloadApi(preload) };
  // Something is on window.berth but not our bridge: a mismatched preload, never a reason to trust it.
  if (win.berth !== undefined) return { ok: false, message: WRONG_PRELOAD_MESSAGE };

  const storage = tabStorage(win);
  const { launchCode, session, cleanUrl } = takeLaunchCode(win.location.href, storage);
  // Out of the address bar, the history and any screenshot of the window.
  if (cleanUrl !== null) win.history.replaceState(win.history.state, '', cleanUrl);
  if ((launchCode === null && session === null) || !/^https?:$/.test(win.location.protocol)) return { ok: false, message: NO_SESSION };
  return {
    ok: true,
    api: createHttpApi({
      baseUrl: win.location.origin,
      launchCode,
      session,
      storage,
      fetch: win.fetch.bind(win),
      eventSource: (url) => new win.EventSource(url),
    }),
  };
}
