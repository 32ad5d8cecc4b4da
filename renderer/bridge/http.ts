import { ApiError, type ApiMethod, type ApiParams, type ApiResult, type BackendState } from '../../common/api/backend-api';
import { LAUNCH_PARAM, LAUNCH_REFUSED } from '../../common/api/browser-link';
import { createConnectionHub } from './connection';
import type { RendererApi } from './types';
import { checkState, unwrapReply } from './validate';

/**
 * Browser mode: the same typed API over the backend's loopback server
 * (main/core/browser/server.ts). The page arrives with a launch code in its
 * link (single use, a minute: links sit in command lines every local user
 * can read) and trades it once for a session key, which it keeps in the
 * tab's sessionStorage and sends in a header with every call; state arrives
 * as server-sent `state` events.
 */

/** sessionStorage key: the session survives a reload of this tab, and nothing longer. */
export const SESSION_STORAGE_KEY = 'berth.session';

/** What the backend makes (43 base64url characters) fits this; anything else is not a key of ours. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface TakenLink {
  /** The link's launch code, to trade for a session; null when the link has none (or a malformed one). */
  launchCode: string | null;
  /** The session this tab already has (a reload), or null. */
  session: string | null;
  /** The page URL without the code (path, query, hash), for history.replaceState; null when unchanged. */
  cleanUrl: string | null;
}

/**
 * Reads the launch code from the page URL once, so the address bar, the
 * history and any screenshot stop showing it, and the tab's stored session.
 * A code in the link wins over a stored session: a restarted backend makes new links.
 */
export function takeLaunchCode(href: string, storage: TokenStorage): TakenLink {
  const url = new URL(href);
  const stored = storage.getItem(SESSION_STORAGE_KEY);
  const session = stored !== null && KEY_PATTERN.test(stored) ? stored : null;
  const fromLink = url.searchParams.get(LAUNCH_PARAM);
  if (fromLink === null) return { launchCode: null, session, cleanUrl: null };
  url.searchParams.delete(LAUNCH_PARAM);
  const cleanUrl = `${url.pathname}${url.search}${url.hash}`;
  return { launchCode: KEY_PATTERN.test(fromLink) ? fromLink : null, session, cleanUrl };
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
  /** From takeLaunchCode: a code to trade, else the tab's session. */
  launchCode: string | null;
  session: string | null;
  /** Where a session from a traded code is kept for this tab. */
  storage: TokenStorage;
  fetch: typeof fetch;
  eventSource: EventSourceFactory;
  /** Waits before re-opening a closed stream (ms), by attempt; the last one repeats. */
  retryDelays?: readonly number[];
}

const EVENT_SOURCE_CLOSED = 2;
const DEFAULT_RETRY_DELAYS = [250, 1000, 2000, 5000, 10000] as const;
const SESSION_REFUSED = 'This window\'s session with Berth has ended (Berth restarted, or too many windows are open). Run "berth app --open" to open Berth again.';
export const NO_SESSION = 'This page needs a link from Berth. Run "berth app --open" to open Berth.';
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
  let opening = false;
  let closed = false;
  /** Why this page can never work again (a refused code or session), once known. */
  let refused: string | null = null;
  let session: Promise<string> | undefined;

  function request(path: string, headers: Record<string, string>, body: string): Promise<Response> {
    return options.fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      // Our own origin only: no cookies, no cache, and never follow a redirect elsewhere.
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  }

  /** The launch code, traded once for a session; a stored session otherwise. */
  function currentSession(): Promise<string> {
    session ??= (async () => {
      if (options.launchCode === null) {
        if (options.session !== null) return options.session;
        refused = NO_SESSION;
        throw new ApiError('FAILED', NO_SESSION);
      }
      let response: Response;
      try {
        response = await request('/api/session', {}, JSON.stringify({ launch: options.launchCode }));
      } catch {
        session = undefined; // Not reached yet: try again on the next call.
        throw new ApiError('FAILED', UNREACHABLE);
      }
      const answer = (await response.json().catch(() => null)) as { session?: unknown } | null;
      if (response.status !== 200 || typeof answer?.session !== 'string' || !KEY_PATTERN.test(answer.session)) {
        refused = LAUNCH_REFUSED;
        throw new ApiError('FAILED', LAUNCH_REFUSED);
      }
      options.storage.setItem(SESSION_STORAGE_KEY, answer.session);
      return answer.session;
    })();
    return session;
  }

  async function post(method: string, params: unknown): Promise<{ status: number; body: unknown }> {
    const key = await currentSession();
    let response: Response;
    try {
      response = await request('/api/call', { authorization: `Bearer ${key}` }, JSON.stringify({ method, params }));
    } catch {
      throw new ApiError('FAILED', UNREACHABLE);
    }
    if (response.status === 401) {
      refused = SESSION_REFUSED;
      throw new ApiError('FAILED', SESSION_REFUSED);
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
    if (closed || source !== undefined || opening) return;
    opening = true;
    currentSession().then(
      (key) => {
        opening = false;
        if (!closed && source === undefined && listeners.size > 0) openWith(key);
      },
      () => {
        opening = false;
        // A refused code can never work: say why. Not reached yet: try again later.
        if (refused !== null) connection.set({ status: 'failed', detail: refused });
        else {
          connection.set({ status: 'reconnecting', detail: LOST });
          scheduleReopen();
        }
      },
    );
  }

  function openWith(key: string): void {
    const url = `${base}/api/events?token=${encodeURIComponent(key)}`;
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
      if (refused === null) connection.set({ status: 'reconnecting', detail: LOST });
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

  /** Before re-opening, one call tells a stopped backend (retry later) from a refused session (give up). */
  async function probeThenOpen(): Promise<void> {
    if (closed || listeners.size === 0) return;
    try {
      deliver(await call('state.get', {}));
    } catch {
      if (refused !== null) {
        connection.set({ status: 'failed', detail: refused });
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
