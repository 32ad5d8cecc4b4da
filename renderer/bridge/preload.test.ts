import { describe, expect, it } from 'vitest';
import { ApiError, type BackendState } from '../../common/api/backend-api';
import { runningState } from '../../common/api/state-fixtures';
import { asPreloadBridge, createPreloadApi } from './preload';
import type { Connection, PreloadBridge } from './types';

/**
 * The Electron side: whatever the preload hands the page is checked here.
 * The "preload" is a plain object of the two shapes Electron's contextBridge
 * can expose (its replies are what the backend's dispatch gate returns).
 */

function invokeBridge(reply: (method: string, params: unknown) => unknown) {
  let push: (state: unknown) => void = () => undefined;
  const bridge: PreloadBridge = {
    invoke: async (method, params) => reply(method, params),
    subscribe(listener) {
      push = listener;
      return () => void (push = () => undefined);
    },
  };
  return { bridge, push: (state: unknown) => push(state) };
}

describe('asPreloadBridge', () => {
  it('accepts the invoke and the call shapes', () => {
    const subscribe = () => () => undefined;
    expect(asPreloadBridge({ invoke: async () => null, subscribe })).toBeDefined();
    expect(asPreloadBridge({ call: async () => null, subscribe })).toBeDefined();
  });

  it.each<unknown>([undefined, null, 'berth', {}, { invoke: 'x', subscribe: () => undefined }, { invoke: async () => null }, { subscribe: () => undefined }])(
    'refuses %j',
    (value) => {
      expect(asPreloadBridge(value)).toBeUndefined();
    },
  );
});

describe('createPreloadApi', () => {
  it('unwraps an ok reply after checking the result', async () => {
    const seen: unknown[] = [];
    const { bridge } = invokeBridge((method, params) => {
      seen.push([method, params]);
      return { ok: true, result: { removed: true } };
    });
    const api = createPreloadApi(bridge);
    expect(api.kind).toBe('electron');
    await expect(api.call('ports.remove', { address: '127.0.0.1', port: 80 })).resolves.toEqual({ removed: true });
    expect(seen).toEqual([['ports.remove', { address: '127.0.0.1', port: 80 }]]);
  });

  it('throws an error reply as ApiError with its code', async () => {
    const api = createPreloadApi(invokeBridge(() => ({ ok: false, error: { code: 'PORT_IN_USE', message: 'Port 80 is in use.' } })).bridge);
    const failure = api.call('ports.add', { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } });
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ code: 'PORT_IN_USE', message: 'Port 80 is in use.' });
  });

  it.each([
    ['no envelope', { removed: true }],
    ['a wrong result', { ok: true, result: { removed: false } }],
    ['an unknown error code', { ok: false, error: { code: 'EVIL', message: 'x' } }],
    ['nothing', undefined],
  ])('refuses %s as FAILED', async (_label, reply) => {
    const api = createPreloadApi(invokeBridge(() => reply).bridge);
    await expect(api.call('ports.remove', { address: '127.0.0.1', port: 80 })).rejects.toMatchObject({ code: 'FAILED' });
  });

  it('a rejected IPC call becomes FAILED with its message', async () => {
    const bridge: PreloadBridge = {
      invoke: () => Promise.reject(new Error("Error invoking remote method 'berth:call': refused: not a Berth page")),
      subscribe: () => () => undefined,
    };
    await expect(createPreloadApi(bridge).call('state.get', {})).rejects.toMatchObject({
      code: 'FAILED',
      message: "Error invoking remote method 'berth:call': refused: not a Berth page",
    });
  });

  it('the call shape: results are checked and {code, message} rejections keep their code', async () => {
    const bridge: PreloadBridge = {
      call: async (method) => {
        if (method === 'settings.set') throw { code: 'LOCKED', message: 'Locked by Acme Corp.' };
        return { ok: true };
      },
      subscribe: () => () => undefined,
    };
    const api = createPreloadApi(bridge);
    await expect(api.call('notices.dismiss', { key: 'n1' })).resolves.toEqual({ ok: true });
    await expect(api.call('settings.set', { key: 'startAtLogin', value: true })).rejects.toMatchObject({
      code: 'LOCKED',
      message: 'Locked by Acme Corp.',
    });
  });

  it('delivers only states that pass the schema, and says when one did not', () => {
    const { bridge, push } = invokeBridge(() => null);
    const api = createPreloadApi(bridge);
    const states: BackendState[] = [];
    const connections: Connection[] = [];
    api.onConnection((c) => connections.push(c));
    const stop = api.subscribe((s) => states.push(s));
    push({ ...runningState(), prompt: 'reboot' });
    push(runningState());
    stop();
    push(runningState());
    expect(states).toEqual([runningState()]);
    expect(connections.map((c) => c.status)).toEqual(['connecting', 'failed', 'open']);
  });
});
