import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, isApiMethod, type BackendState } from '../../common/api/backend-api';
import type { ApiHost, CallReply } from '../../main/core/api/dispatch';
import { LAUNCH_REFUSED } from '../../common/api/browser-link';
import { BrowserKeys, LAUNCH_CODE_TTL_MS } from '../../main/core/browser/keys';
import { startBrowserServer, type BrowserServer } from '../../main/core/browser/server';
import { runningState } from '../../common/api/state-fixtures';
import { createStaticApi, type StaticApi } from '../dev/static-api';
import { createHttpApi, NO_SESSION, SESSION_STORAGE_KEY, takeLaunchCode, type EventSourceLike, type HttpApi, type TokenStorage } from './http';
import type { Connection } from './types';
import { toApiError } from './validate';

/**
 * The browser bridge against the backend's real loopback server
 * (main/core/browser/server.ts) with real fetch and a real EventSource
 * (undici's, the one Node ships): the launch code traded once for a session,
 * the session header, result and state validation,
 * error replies, and reconnecting after the stream drops.
 */

const CODE = 'a1'.repeat(22);
const SESSION = 'b2'.repeat(22);
const SESSION_REFUSED = 'This window\'s session with Berth has ended (Berth restarted, or too many windows are open). Run "berth app --open" to open Berth again.';

function memoryStorage(initial: Record<string, string> = {}): TokenStorage & { data: Map<string, string> } {
  const data = new Map(Object.entries(initial));
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('takeLaunchCode', () => {
  it('takes the launch code from the link and gives the URL without it', () => {
    expect(takeLaunchCode(`http://127.0.0.1:4711/?launch=${CODE}&theme=dark#settings`, memoryStorage())).toEqual({
      launchCode: CODE,
      session: null,
      cleanUrl: '/?theme=dark#settings',
    });
  });

  it('after a reload (no code in the link) uses the tab\'s session and leaves the URL alone', () => {
    const storage = memoryStorage({ [SESSION_STORAGE_KEY]: SESSION });
    expect(takeLaunchCode('http://127.0.0.1:4711/#popover', storage)).toEqual({ launchCode: null, session: SESSION, cleanUrl: null });
  });

  it.each(['', 'short', 'has space'.padEnd(40, 'x'), '<script>'.repeat(4), 'x'.repeat(257)])(
    'a malformed launch code %j is removed from the URL and not used',
    (bad) => {
      const url = new URL('http://127.0.0.1:4711/');
      url.searchParams.set('launch', bad);
      expect(takeLaunchCode(url.href, memoryStorage())).toEqual({ launchCode: null, session: null, cleanUrl: '/' });
    },
  );

  it('ignores a malformed stored session', () => {
    expect(takeLaunchCode('http://127.0.0.1:4711/', memoryStorage({ [SESSION_STORAGE_KEY]: 'nope' })).session).toBeNull();
  });
});

/** An ApiHost over the in-page static API, with a hook to answer a call with anything at all. */
function hostOver(api: StaticApi) {
  let override: ((method: string) => CallReply | undefined) | undefined;
  const pushers = new Set<(state: unknown) => void>();
  let closedStreams = 0;
  const streamClosed: Array<() => void> = [];
  const host: ApiHost = {
    async call(method, params) {
      const forced = typeof method === 'string' ? override?.(method) : undefined;
      if (forced !== undefined) return forced;
      if (typeof method !== 'string' || !isApiMethod(method)) return { ok: false, error: { code: 'INVALID', message: 'unknown method' } };
      try {
        return { ok: true, result: await api.call(method, params as never) };
      } catch (error) {
        const { code, message } = toApiError(error);
        return { ok: false, error: { code, message } };
      }
    },
    state: () => api.current(),
    subscribe(listener) {
      const push = listener as (state: unknown) => void;
      pushers.add(push);
      const stop = api.subscribe(listener);
      return () => {
        stop();
        pushers.delete(push);
        closedStreams++;
        streamClosed.splice(0).forEach((resolve) => resolve());
      };
    },
  };
  return {
    host,
    answer: (fn: typeof override) => void (override = fn),
    /** Sends anything as a state event to every open stream. */
    pushRaw: (value: unknown) => pushers.forEach((push) => push(value)),
    nextStreamClose: () => new Promise<void>((resolve) => streamClosed.push(resolve)),
    closedStreams: () => closedStreams,
  };
}

describe('browser bridge over the real server', () => {
  let dir: string;
  let server: BrowserServer;
  let api: StaticApi;
  let backend: ReturnType<typeof hostOver>;
  let bridge: HttpApi | undefined;
  let clock: number;
  let keys: BrowserKeys;
  let storage: ReturnType<typeof memoryStorage>;

  const eventSource = (url: string) => new EventSource(url, { node: { reconnectionTime: 50 } }) as unknown as EventSourceLike;
  /** A bridge as a page opened with a fresh link (or with `from`: another code, or a stored session) starts. */
  const connect = (from: { launchCode?: string | null; session?: string | null } = {}): HttpApi => {
    const launchCode = from.launchCode === undefined ? launchCodeOf(server.launchUrl()) : from.launchCode;
    bridge = createHttpApi({ baseUrl: server.origin, launchCode, session: from.session ?? null, storage, fetch, eventSource, retryDelays: [20, 50] });
    return bridge;
  };
  const launchCodeOf = (url: string): string => new URL(url).searchParams.get('launch')!;

  /** The next snapshot that passes `accept`, through the bridge's subscribe. */
  function nextState(b: HttpApi, accept: (s: BackendState) => boolean = () => true): Promise<{ state: BackendState; stop: () => void }> {
    return new Promise((resolve) => {
      const stop = b.subscribe((state) => {
        if (accept(state)) resolve({ state, stop });
      });
    });
  }

  function connectionBecomes(b: HttpApi, status: Connection['status']): Promise<Connection> {
    return new Promise((resolve) => {
      const stop = b.onConnection((c) => {
        if (c.status === status) {
          queueMicrotask(() => stop());
          resolve(c);
        }
      });
    });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-renderer-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Berth</title>');
    api = createStaticApi(runningState());
    backend = hostOver(api);
    clock = 1_000_000;
    keys = new BrowserKeys(() => clock);
    storage = memoryStorage();
    server = await startBrowserServer({ host: backend.host, staticDir: dir, keys });
  });

  afterEach(async () => {
    bridge?.close();
    bridge = undefined;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a call trades the launch code for a session, carries it, and returns the checked result', async () => {
    const b = connect();
    const added = await b.call('ports.add', { address: '127.0.0.1', port: 8081, target: { host: 'localhost', port: 3000 } });
    expect(added).toMatchObject({ id: '127.0.0.1:8081', state: 'listening', via: 'direct' });
    expect(api.current().ports.map((p) => p.id)).toContain('127.0.0.1:8081');
    // Kept for this tab: a reload (no code in the link) goes on with it.
    const session = storage.data.get(SESSION_STORAGE_KEY)!;
    expect(keys.isSession(session)).toBe(true);
    bridge!.close();
    expect(await connect({ launchCode: null, session }).call('state.get', {})).toEqual(api.current());
  });

  it('a launch code works once: a second page with the same link is told to run berth app --open', async () => {
    const code = launchCodeOf(server.launchUrl());
    await connect({ launchCode: code }).call('state.get', {});
    bridge!.close();
    await expect(connect({ launchCode: code }).call('state.get', {})).rejects.toMatchObject({ code: 'FAILED', message: LAUNCH_REFUSED });
  });

  it('a launch code older than a minute is refused, and the page says what to do', async () => {
    const code = launchCodeOf(server.launchUrl());
    clock += LAUNCH_CODE_TTL_MS;
    await expect(connect({ launchCode: code }).call('state.get', {})).rejects.toMatchObject({ code: 'FAILED', message: LAUNCH_REFUSED });
    // A millisecond younger, a fresh code works.
    const fresh = launchCodeOf(server.launchUrl());
    clock += LAUNCH_CODE_TTL_MS - 1;
    bridge!.close();
    expect(await connect({ launchCode: fresh }).call('state.get', {})).toEqual(api.current());
  });

  it('a page without a code or a session says how to open Berth', async () => {
    await expect(connect({ launchCode: null }).call('state.get', {})).rejects.toMatchObject({ code: 'FAILED', message: NO_SESSION });
  });

  it('an error reply becomes an ApiError with its code and sentence', async () => {
    const b = connect();
    const failure = b.call('ports.remove', { address: '127.0.0.1', port: 9 });
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ code: 'NOT_FOUND', message: '127.0.0.1:9 is not published.' });
  });

  it('a result that does not match the API is refused, not trusted', async () => {
    backend.answer((method) => (method === 'ports.remove' ? { ok: true, result: { removed: 'yes', extra: 1 } } : undefined));
    await expect(connect().call('ports.remove', { address: '127.0.0.1', port: 80 })).rejects.toMatchObject({
      code: 'FAILED',
      message: "Berth's answer to ports.remove is not what this app expects; try restarting Berth.",
    });
  });

  it('a reply that is not a reply at all is refused', async () => {
    backend.answer(() => ({ result: 1 }) as unknown as CallReply);
    await expect(connect().call('state.get', {})).rejects.toMatchObject({ code: 'FAILED' });
  });

  it('a session the server does not know (it restarted) is told to run berth app --open', async () => {
    await expect(connect({ launchCode: null, session: SESSION }).call('state.get', {})).rejects.toMatchObject({
      code: 'FAILED',
      message: SESSION_REFUSED,
    });
  });

  it("a plain-text refusal says what the server said", async () => {
    // Bigger than the server's 64 KiB body limit.
    const huge = 'x'.repeat(70_000);
    await expect(connect().call('notices.dismiss', { key: huge })).rejects.toMatchObject({
      code: 'FAILED',
      message: 'Berth refused the call (HTTP 413: request too large).',
    });
  });

  it('a stopped backend is reported as unreachable', async () => {
    const b = connect();
    await server.close();
    await expect(b.call('state.get', {})).rejects.toMatchObject({ code: 'FAILED', message: 'Berth is not reachable; is it still running?' });
    server = await startBrowserServer({ host: backend.host, staticDir: dir, keys });
  });

  it('state arrives checked, and every change arrives again', async () => {
    const b = connect();
    const first = await nextState(b);
    expect(first.state).toEqual(api.current());
    const opened = await connectionBecomes(b, 'open');
    expect(opened.detail).toBeNull();
    const removed = nextState(b, (s) => s.ports.length === 1);
    await b.call('ports.remove', { address: '127.0.0.1', port: 80 });
    expect((await removed).state.ports.map((p) => p.id)).toEqual(['0.0.0.0:5173']);
    first.stop();
    (await removed).stop();
  });

  it('a state that does not match the API is never delivered; the connection says why', async () => {
    const b = connect();
    const delivered: BackendState[] = [];
    const { stop } = await nextState(b);
    const stopAll = b.subscribe((s) => delivered.push(s));
    const count = delivered.length;
    const failed = connectionBecomes(b, 'failed');
    backend.pushRaw({ ...runningState(), ports: 'all of them' });
    expect((await failed).detail).toBe('Berth sent a state this app does not understand; try restarting Berth.');
    expect(delivered).toHaveLength(count);
    // The next good snapshot restores it.
    const open = connectionBecomes(b, 'open');
    backend.pushRaw(runningState());
    await open;
    expect(delivered.at(-1)).toEqual(runningState());
    stop();
    stopAll();
  });

  it('when the stream drops, says "reconnecting" and comes back with a fresh state', async () => {
    const b = connect();
    const { stop } = await nextState(b);
    const port = server.port;
    const reconnecting = connectionBecomes(b, 'reconnecting');
    await server.close();
    expect((await reconnecting).detail).toBe('Lost the connection to Berth; what you see may be out of date until it is back.');

    api = createStaticApi({ ...runningState(), ports: [] });
    backend = hostOver(api);
    const back = nextState(b, (s) => s.ports.length === 0);
    // The same keys: the server came back, its sessions did not end.
    server = await startBrowserServer({ host: backend.host, staticDir: dir, keys, port });
    expect((await back).state.ports).toEqual([]);
    await connectionBecomes(b, 'open');
    stop();
    (await back).stop();
  });

  it('a refused stream with a refused session gives up with the reason instead of retrying forever', async () => {
    const b = connect({ launchCode: null, session: SESSION });
    const failed = connectionBecomes(b, 'failed');
    const stop = b.subscribe(() => undefined);
    expect((await failed).detail).toBe(SESSION_REFUSED);
    stop();
  });

  it('a stream from a used launch code gives up with the reason', async () => {
    const code = launchCodeOf(server.launchUrl());
    expect(keys.exchange(code)).toBeDefined();
    const b = connect({ launchCode: code });
    const failed = connectionBecomes(b, 'failed');
    const stop = b.subscribe(() => undefined);
    expect((await failed).detail).toBe(LAUNCH_REFUSED);
    stop();
  });

  it('the last unsubscribe closes the stream', async () => {
    const b = connect();
    const { stop } = await nextState(b);
    const closed = backend.nextStreamClose();
    stop();
    await closed;
    expect(backend.closedStreams()).toBe(1);
  });
});
