// The only bridge between the sandboxed renderer and the backend: a narrow,
// typed API over IPC. Nothing else from Node or Electron reaches the page.
import { contextBridge, ipcRenderer } from 'electron';

export interface BerthBridge {
  helperStatus(): Promise<unknown>;
}

const bridge: BerthBridge = {
  helperStatus: () => ipcRenderer.invoke('berth:helper-status'),
};

contextBridge.exposeInMainWorld('berth', bridge);
