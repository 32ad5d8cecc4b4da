import { describe, expect, test } from 'vitest';
import { secureWebPreferences } from './web-preferences';

describe('secureWebPreferences', () => {
  test('every window is isolated and sandboxed with no Node, and release builds have no devtools', () => {
    const prefs = secureWebPreferences('/app/dist/main/preload.js', true);
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      devTools: false,
      preload: '/app/dist/main/preload.js',
    });
    expect(secureWebPreferences('/p.js', false).devTools).toBe(true);
  });
});
