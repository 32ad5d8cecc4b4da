import { ApiError, type ApiMethod, type ApiParams, type ApiResult, type BackendState } from '../../common/api/backend-api';
import { createConnectionHub } from './connection';
import type { RendererApi } from './types';
import { checkState, unwrapReply } from './validate';

/**
 * Browser mode: the same typed API over the backend's loopback server
 * (main/core/browser/server.ts). Calls are JSON POSTs carrying the one-time
 * token in a header; state arrives as server-sent `state` events.
 */

/** sessionStorage key: the token survives a reload of this tab, and nothing longer. */
export const TOKEN_STORAGE_KEY = 'berth.token';

/** What the backend makes (64 hex digits) fits this; anything else is not a token of ours. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface TakenToken {
  /** The token to use, or null when neither the link nor this tab has one. */
  token: string | null;
  /** The page URL without the token (path, query, hash), for history.replaceState; null when unchanged. */
  cleanUrl: string | null;
}

/**
 * Reads the token from the page URL once and keeps it in the tab's storage, so
 * the address bar (and a bookmark or a screenshot of it) stops showing it.
 * A token in the link wins over a stored one: a restarted backend prints a new link.
 */
export function takeToken(href: string, storage: TokenStorage): TakenToken {
  const url = new URL(href);
  const stored = storage.getItem(TOKEN_STORAGE_KEY);
  const storedToken = stored !== null && TOKEN_PATTERN.test(stored) ? stored : null;
  const fromLink = url.searchParams.get('token');
  if (fromLink === null) return { token: storedToken, cleanUrl: null };
  url.searchParams.delete('token');
  const cleanUrl = `${url.pathname}${url.search}${url.hash}`;
  if (!TOKEN_PATTERN.test(fromLink)) return { token: storedToken, cleanUrl };
  storage.setItem(TOKEN_STORAGE_KEY, fromLink);
  return { token: fromLink, cleanUrl };
}

/** The part of the WHATWG EventSource the bridge uses (the browser's, or undici's in tests). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'state', listener: (event: MessageEvent<unknown>) => void): void;
  close(): void;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

export interface HttpApiOptions {
  /** The server's origin, e.g. http://127.0.0.1:4711. */
  baseUrl: string;
  token: string;
  fetch: typeof fetch;
  eventSource: EventSourceFactory;
  /** Waits before re-opening a closed stream (ms), by attempt; the last one repeats. */
  retryDelays?: readonly number[];
}

const EVENT_SOURCE_CLOSED = 2;
const DEFAULT_RETRY_DELAYS = [250, 1000, 2000, 5000, 10000] as const;
const TOKEN_REFUSED = "This page's access token is not valid any more; open the link Berth printed again.";
const UNREACHABLE = 'Berth is not reachable; is it still running?';
const LOST = 'Lost the connection to Berth; what you see may be out of date until it is back.';

export interface HttpApi extends RendererApi {
  /** Closes the state stream and stops reconnecting. */
  close(): void;
}

export function createHttpApi(options: HttpApiOptions): HttpApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const delays = options.retryDelays && options.retryDelays.length > 0 ? options.retryDelays : DEFAULT_RETRY_DELAYS;
  const connection = createConnectionHub({ status: 'connecting', detail: null });
  const listeners = new Set<(state: BackendState) => void>();
  let source: EventSourceLike | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let closed = false;
  let refused = false;

  async function post(method: string, params: unknown): Promise<{ status: number; body: unknown }> {
    let response: Response;
    try {
      response = await options.fetch(`${base}/api/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
        body: JSON.stringify({ method, params }),
        // Our own origin only: no cookies, no cache, and never follow a redirect elsewhere.
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch {
      throw new ApiError('FAILED', UNREACHABLE);
    }
    if (response.status === 401) {
      refused = true;
      throw new ApiError('FAILED', TOKEN_REFUSED);
    }
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      // A plain-text refusal (413, 415, 421…): say what the server said, briefly.
      const said = text.trim().slice(0, 120);
      throw new ApiError('FAILED', `Berth refused the call (HTTP ${response.status}${said ? `: ${said}` : ''}).`);
    }
  }

  async function call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    const { body } = await post(method, params);
    return unwrapReply(method, body);
  }

  function deliver(raw: unknown): void {
    const checked = checkState(raw);
    if (!checked.ok) {
      connection.set({ status: 'failed', detail: checked.message });
      return;
    }
    attempt = 0;
    connection.set({ status: 'open', detail: null });
    for (const listener of [...listeners]) listener(checked.state);
  }

  function open(): void {
    if (closed || source !== undefined) return;
    const url = `${base}/api/events?token=${encodeURIComponent(options.token)}`;
    const es = options.eventSource(url);
    source = es;
    es.addEventListener('state', (event) => {
      if (source !== es) return;
      let raw: unknown;
      try {
        raw = JSON.parse(String(event.data));
      } catch {
        connection.set({ status: 'failed', detail: 'Berth sent a state this app does not understand; try restarting Berth.' });
        return;
      }
      deliver(raw);
    });
    es.addEventListener('error', () => {
      if (source !== es) return;
      if (!refused) connection.set({ status: 'reconnecting', detail: LOST });
      // A dropped stream re-connects by itself (readyState CONNECTING); one the
      // server refused (401, 503) is CLOSED and must be re-opened by us.
      if (es.readyState === EVENT_SOURCE_CLOSED) {
        es.close();
        source = undefined;
        scheduleReopen();
      }
    });
  }

  function scheduleReopen(): void {
    if (closed || retryTimer !== undefined) return;
    const delay = delays[Math.min(attempt, delays.length - 1)]!;
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void probeThenOpen();
    }, delay);
  }

  /** Before re-opening, one call tells a stopped backend (retry later) from a refused token (give up). */
  async function probeThenOpen(): Promise<void> {
    if (closed || listeners.size === 0) return;
    try {
      deliver(await call('state.get', {}));
    } catch {
      if (refused) {
        connection.set({ status: 'failed', detail: TOKEN_REFUSED });
        return;
      }
    }
    open();
  }

  function subscribe(listener: (state: BackendState) => void): () => void {
    listeners.add(listener);
    open();
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && source !== undefined) {
        source.close();
        source = undefined;
      }
    };
  }

  function close(): void {
    closed = true;
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
    source?.close();
    source = undefined;
  }

  return { kind: 'browser', call, subscribe, onConnection: connection.listen, close };
}
