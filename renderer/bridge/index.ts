import { createHttpApi, takeToken, type TokenStorage } from './http';
import { asPreloadBridge, createPreloadApi } from './preload';
import type { RendererApi } from './types';

export type TransportChoice = { ok: true; api: RendererApi } | { ok: false; message: string };

export const NO_TOKEN_MESSAGE =
  'This page needs the link Berth printed when it started (the link carries a one-time key). Open that link again.';

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
 * otherwise the browser bridge with the token from the link (or from this tab).
 */
export function connectTransport(win: Window & typeof globalThis): TransportChoice {
  const preload = asPreloadBridge(win.berth);
  if (preload !== undefined) return { ok: true, api: createPreloadApi(preload) };
  // Something is on window.berth but not our bridge: a mismatched preload, never a reason to trust it.
  if (win.berth !== undefined) return { ok: false, message: WRONG_PRELOAD_MESSAGE };

  const { token, cleanUrl } = takeToken(win.location.href, tabStorage(win));
  // Out of the address bar, the history and any screenshot of the window.
  if (cleanUrl !== null) win.history.replaceState(win.history.state, '', cleanUrl);
  if (token === null || !/^https?:$/.test(win.location.protocol)) return { ok: false, message: NO_TOKEN_MESSAGE };
  return {
    ok: true,
    api: createHttpApi({
      baseUrl: win.location.origin,
      token,
      fetch: win.fetch.bind(win),
      eventSource: (url) => new win.EventSource(url),
    }),
  };
}
