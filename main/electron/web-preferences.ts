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

/**
 * Whether an IPC sender is one of our own pages: a file inside the bundled
 * renderer directory, in a top-level frame. A navigated-away page, an
 * injected iframe or any remote URL is refused.
 */
export function isOurPage(url: string, rendererDirUrl: string, isMainFrame: boolean): boolean {
  if (!isMainFrame) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const base = rendererDirUrl.endsWith('/') ? rendererDirUrl : `${rendererDirUrl}/`;
  // Compare the normalized URL (no query/hash), so "/renderer/../elsewhere" cannot pass a prefix check.
  return parsed.protocol === 'file:' && `${parsed.origin === 'null' ? 'file://' : parsed.origin}${parsed.pathname}`.startsWith(base);
}
