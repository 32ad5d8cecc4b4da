import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { isOurPage, secureWebPreferences } from './web-preferences';

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

describe('isOurPage', () => {
  const base = pathToFileURL('/opt/Berth/resources/app.asar/dist/renderer').href;

  test('accepts our bundled page with a hash route', () => {
    expect(isOurPage(`${base}/index.html#settings`, base, true)).toBe(true);
  });

  test.each([
    ['a remote page', 'https://evil.example/index.html'],
    ['a file outside the renderer', 'file:///etc/passwd'],
    ['a sibling directory sharing the prefix', `${base}-evil/index.html`],
    ['a dot-dot escape', `${base}/../../x/index.html`],
    ['not a URL', 'renderer/index.html'],
  ])('refuses %s', (_name, url) => {
    expect(isOurPage(url, base, true)).toBe(false);
  });

  test('refuses a subframe even of our own page', () => {
    expect(isOurPage(`${base}/index.html`, base, false)).toBe(false);
  });
});
