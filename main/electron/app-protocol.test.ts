import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../core/renderer-content';
import { APP_ORIGIN, APP_SCHEME_PRIVILEGES, appPageUrl, appProtocolHandler, isOurPage, resolveAppRequest } from './app-protocol';

const ROOT = '/opt/Berth/resources/app.asar/dist/renderer';

/** Independent of the resolver's own check: is `path` strictly inside `root`? */
function strictlyInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) && path.startsWith(`${root}${sep}`);
}

/** A climb out of the directory in the spellings a URL can carry: dot-dot raw or encoded, then a separator raw or encoded. */
const CLIMB = fc
  .array(fc.tuple(fc.constantFrom('..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '...'), fc.constantFrom('/', '%2f', '%2F', '%5c', '%5C', '\\', '%252f')), {
    minLength: 1,
    maxLength: 6,
  })
  .chain((steps) => fc.tuple(fc.constant(steps.map((step) => step.join('')).join('')), fc.constantFrom('x.js', 'index.html', 'etc/passwd.css', 'icon.svg')))
  .map(([climb, target]) => `${climb}${target}`);

/** Pieces attackers put in paths: dot segments raw and encoded, separators raw and encoded, NUL, names. */
const PIECE = fc.constantFrom(
  '..', '.', '', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%2f', '%2F', '%5c', '%5C', '\\', '/', '%00', '%', '%zz', '%252e%252e',
  'etc', 'passwd', 'index.html', 'assets', 'a.js', '.env', '..%2f', '%c0%ae%c0%ae', '~', 'C:', '//',
);

describe('resolveAppRequest (berth:// → a file of the renderer directory)', () => {
  test('never resolves to anything outside the renderer directory, whatever follows the origin', () => {
    fc.assert(
      fc.property(fc.oneof(CLIMB, fc.string({ unit: 'binary' }), fc.array(PIECE, { maxLength: 12 }).map((p) => p.join('/')), fc.array(PIECE, { maxLength: 12 }).map((p) => p.join(''))), (suffix) => {
        const resolved = resolveAppRequest(`${APP_ORIGIN}/${suffix}`, ROOT);
        if (resolved.kind === 'file') expect(strictlyInside(resolved.path, ROOT)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  test('refuses every path that climbs, in any spelling the URL parser leaves to us', () => {
    for (const path of ['/%2e%2e%2f%2e%2e%2fetc/passwd', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/..%5c..%5cetc%5cpasswd', '/a\\..\\..\\b.js', '/x%00.js', '/assets//a.js']) {
      expect(resolveAppRequest(`${APP_ORIGIN}${path}`, ROOT)).toMatchObject({ kind: 'refused', status: 400 });
    }
    // The URL parser already folds /a/../ and %2e%2e segments: what is left is inside, or refused.
    expect(resolveAppRequest(`${APP_ORIGIN}/../../etc/passwd`, ROOT)).toMatchObject({ kind: 'refused', status: 404 });
    expect(resolveAppRequest(`${APP_ORIGIN}/%2e%2e/%2e%2e/index.html`, ROOT)).toEqual({
      kind: 'file',
      path: join(ROOT, 'index.html'),
      contentType: 'text/html; charset=utf-8',
    });
  });

  test('resolves plain names inside the directory to exactly that file, with its type', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,20}$/).filter((n) => !n.endsWith('.'));
    const ext = fc.constantFrom(['.js', 'text/javascript; charset=utf-8'], ['.css', 'text/css; charset=utf-8'], ['.svg', 'image/svg+xml'], ['.html', 'text/html; charset=utf-8']);
    fc.assert(
      fc.property(fc.array(name, { maxLength: 3 }), name, ext, (dirs, base, [suffix, type]) => {
        const segments = [...dirs, `${base}${suffix}`];
        expect(resolveAppRequest(`${APP_ORIGIN}/${segments.map(encodeURIComponent).join('/')}?v=1#x`, ROOT)).toEqual({
          kind: 'file',
          path: join(ROOT, ...segments),
          contentType: type,
        });
      }),
    );
  });

  test('serves the page for the bare origin', () => {
    for (const url of [APP_ORIGIN, `${APP_ORIGIN}/`]) {
      expect(resolveAppRequest(url, ROOT)).toEqual({ kind: 'file', path: join(ROOT, 'index.html'), contentType: 'text/html; charset=utf-8' });
    }
  });

  test.each([
    ['another host', 'berth://other/index.html'],
    ['a port', 'berth://app:8080/index.html'],
    ['credentials', 'berth://user:pw@app/index.html'],
    ['file://', 'file:///opt/Berth/resources/app.asar/dist/renderer/index.html'],
    ['https', 'https://app/index.html'],
    ['not a URL', 'index.html'],
  ])('refuses %s', (_name, url) => {
    expect(resolveAppRequest(url, ROOT)).toMatchObject({ kind: 'refused', status: 404 });
  });

  test('refuses types the renderer never ships, and dot-files', () => {
    for (const path of ['/index.html.map', '/assets/index.js.map', '/package.json.bak', '/berth_native.node', '/.env', '/assets/.hidden.js', '/README']) {
      expect(resolveAppRequest(`${APP_ORIGIN}${path}`, ROOT)).toMatchObject({ kind: 'refused', status: 404 });
    }
  });

  test('any other origin, in any URL shape, is refused', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (url) => {
        expect(resolveAppRequest(url, ROOT).kind).toBe('refused');
      }),
    );
  });
});

describe('isOurPage (the IPC sender check)', () => {
  test('accepts our page in the top frame, with any view', () => {
    expect(isOurPage(appPageUrl('settings'), true)).toBe(true);
    expect(isOurPage(appPageUrl('popover'), true)).toBe(true);
    expect(isOurPage(`${APP_ORIGIN}/index.html`, true)).toBe(true);
  });

  test.each([
    ['the old file:// page', 'file:///opt/Berth/resources/app.asar/dist/renderer/index.html'],
    ['a remote page', 'https://evil.example/index.html'],
    ['another file of ours (an SVG is a document too)', `${APP_ORIGIN}/icon.svg`],
    ['another host of our scheme', 'berth://evil/index.html'],
    ['our host with a port', 'berth://app:1/index.html'],
    ['a lookalike scheme', 'berth-app://app/index.html'],
    ['not a URL', 'index.html'],
    ['the empty URL of a frame that has not loaded', ''],
  ])('refuses %s', (_name, url) => {
    expect(isOurPage(url, true)).toBe(false);
  });

  test('refuses a subframe even of our own page', () => {
    expect(isOurPage(appPageUrl('popover'), false)).toBe(false);
  });
});

test('the scheme is standard and secure with fetch support, and never bypasses the CSP or opens CORS', () => {
  expect(APP_SCHEME_PRIVILEGES).toEqual({ standard: true, secure: true, supportFetchAPI: true });
});

describe('appProtocolHandler (real files)', () => {
  let dir: string;
  let renderer: string;
  const handler = (): ((request: Request) => Promise<Response>) => appProtocolHandler(renderer);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-app-protocol-'));
    renderer = join(dir, 'renderer');
    mkdirSync(join(renderer, 'assets'), { recursive: true });
    mkdirSync(join(renderer, 'folder.js'));
    writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Berth</title>');
    writeFileSync(join(renderer, 'assets', 'index-abc.js'), 'export {};');
    writeFileSync(join(dir, 'secret.js'), 'the secret');
    symlinkSync(join(dir, 'secret.js'), join(renderer, 'assets', 'linked.js'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('serves the page and its scripts with their exact types and the CSP browser mode uses', async () => {
    const page = await handler()(new Request(appPageUrl('popover')));
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<!doctype html><title>Berth</title>');
    expect(Object.fromEntries(page.headers)).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'same-origin',
    });
    const script = await handler()(new Request(`${APP_ORIGIN}/assets/index-abc.js`));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe('export {};');
  });

  test('HEAD has the headers and no body; other methods are refused', async () => {
    const head = await handler()(new Request(`${APP_ORIGIN}/index.html`, { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('<!doctype html><title>Berth</title>'.length));
    expect(await head.text()).toBe('');
    const post = await handler()(new Request(`${APP_ORIGIN}/index.html`, { method: 'POST', body: 'x' }));
    expect(post.status).toBe(405);
  });

  test('refuses a symlink out of the directory, a directory, a missing file and a climb, naming no path', async () => {
    for (const [url, status] of [
      [`${APP_ORIGIN}/assets/linked.js`, 404],
      [`${APP_ORIGIN}/folder.js`, 404],
      [`${APP_ORIGIN}/assets/missing.js`, 404],
      [`${APP_ORIGIN}/..%2fsecret.js`, 400],
      [`${APP_ORIGIN}/../secret.js`, 404],
    ] as const) {
      const res = await handler()(new Request(url));
      expect([url, res.status]).toEqual([url, status]);
      const text = await res.text();
      expect(text).not.toContain('secret');
      expect(text).not.toContain(dir);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    }
  });
});
