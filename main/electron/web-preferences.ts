/**
 * The one definition of how every Berth window is locked down. Plain data
 * (no electron import) so a test can assert it where Electron cannot run.
 */
export interface SecureWebPreferences {
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  webviewTag: false;
  experimentalFeatures: false;
  spellcheck: false;
  navigateOnDragDrop: false;
  safeDialogs: true;
  preload: string;
  devTools: boolean;
}

export function secureWebPreferences(preload: string, packaged: boolean): SecureWebPreferences {
  return {
    // The page sees only the preload's one API object, never Node or Electron.
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    spellcheck: false,
    // A file dropped on a window must not navigate it away from our page.
    navigateOnDragDrop: false,
    safeDialogs: true,
    preload,
    // Release builds ship without devtools (the inspect fuses are off as well).
    devTools: !packaged,
  };
}

/** IPC channels, defined once for the main process and the preload. */
export const IPC = {
  call: 'berth:call',
  subscribe: 'berth:subscribe',
  state: 'berth:state',
} as const;
