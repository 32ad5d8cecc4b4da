// The only bridge between the sandboxed renderer and the backend: one narrow
// API over IPC. Nothing else from Node or Electron reaches the page. The
// renderer validates every reply and state against the shared schemas.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC } from './web-preferences';

export interface PreloadApi {
  /** One API call; resolves with the backend's reply: {ok, result} or {ok: false, error}. */
  invoke(method: string, params: unknown): Promise<unknown>;
  /** Every state snapshot; returns the unsubscribe. */
  subscribe(listener: (state: unknown) => void): () => void;
}

const api: PreloadApi = {
  invoke: (method, params) => ipcRenderer.invoke(IPC.call, String(method), params),
  subscribe(listener) {
    // The event object never reaches the page (it carries `sender`, i.e. ipcRenderer itself).
    const handler = (_event: IpcRendererEvent, state: unknown): void => listener(state);
    ipcRenderer.on(IPC.state, handler);
    ipcRenderer.send(IPC.subscribe);
    return () => void ipcRenderer.removeListener(IPC.state, handler);
  },
};

contextBridge.exposeInMainWorld('berth', api);
