/**
 * The berth:// scheme the Electron shell's pages load from, instead of
 * file:// (the Electron security checklist: a file:// page is a page of the
 * whole disk, and with the GrantFileProtocolExtraPrivileges fuse off it
 * could not run its module scripts anyway). One origin, berth://app, serves
 * the built renderer directory and nothing else.
 *
 * No electron import: main.ts registers the scheme and hands `protocol.handle`
 * the handler below, which takes and returns the standard Request and
 * Response, so the resolver and the handler are tested under plain Node.
 */
import { lstat, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY, rendererFileType } from '../core/renderer-content';

export const APP_SCHEME = 'berth';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** The renderer's one page; every window loads it with its view in the hash. */
export const APP_PAGE = '/index.html';

/**
 * What the scheme may do, registered before `ready`. standard: a real origin
 * (berth://app) with relative URLs and web storage; secure: a secure context,
 * like https; supportFetchAPI: the page's module scripts are fetched through
 * it. Deliberately absent: bypassCSP (the page's CSP must hold), corsEnabled
 * (no other origin may read our files), allowServiceWorkers, stream.
 */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true } as const;

/** The URL a window loads to show one view. */
export function appPageUrl(view: string): string {
  return `${APP_ORIGIN}${APP_PAGE}#${encodeURIComponent(view)}`;
}

/** Whether `url` is the renderer's page at our origin (any hash or query). */
export function isAppPage(url: string): boolean {
  const parsed = parseOurUrl(url);
  return parsed !== undefined && parsed.pathname === APP_PAGE;
}

/**
 * Whether an IPC sender is one of our own pages: the renderer's page at
 * berth://app, in a top-level frame. A navigated-away page, an injected
 * iframe, a file:// page or any remote URL is refused.
 */
export function isOurPage(url: string, isMainFrame: boolean): boolean {
  return isMainFrame && isAppPage(url);
}

export type AppResolution =
  | { kind: 'file'; path: string; contentType: string }
  | { kind: 'refused'; status: 400 | 404; reason: string };

function refused(status: 400 | 404, reason: string): AppResolution {
  return { kind: 'refused', status, reason };
}

/** A URL at exactly berth://app: no other host, no port, no credentials. */
function parseOurUrl(url: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const ours =
    parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
  return ours ? parsed : undefined;
}

/**
 * The file a berth:// URL names inside `rendererDir`, or why none is served.
 * Pure. Each path segment is decoded and must be a plain name: no `.`/`..`,
 * no slash, backslash or NUL hiding behind percent-encoding, no empty
 * segment, no dot-file; the joined path is normalized and must still lie
 * inside `rendererDir` (checked again, whatever the segment rules let by);
 * and only the file types the renderer ships are served.
 */
export function resolveAppRequest(url: string, rendererDir: string): AppResolution {
  const parsed = parseOurUrl(url);
  if (parsed === undefined) return refused(404, 'not a berth://app URL');
  const raw = parsed.pathname === '/' || parsed.pathname === '' ? APP_PAGE : parsed.pathname;
  if (!raw.startsWith('/')) return refused(400, 'the path is not absolute');
  const segments: string[] = [];
  for (const encoded of raw.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return refused(400, 'the path is not valid percent-encoding');
    }
    if (segment === '' || segment === '.' || segment === '..') return refused(400, 'the path has an empty or dot segment');
    if (/[/\\\0]/.test(segment)) return refused(400, 'a path segment holds a separator or NUL');
    if (segment.startsWith('.')) return refused(404, 'dot-files are not served');
    segments.push(segment);
  }
  const path = join(rendererDir, ...segments);
  const inside = relative(rendererDir, path);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    return refused(404, 'outside the renderer directory');
  }
  const contentType = rendererFileType(path);
  if (contentType === undefined) return refused(404, 'not a file type the renderer ships');
  return { kind: 'file', path, contentType };
}

/** Sent with every answer: the CSP browser mode sends, no sniffing, no caching, no embedding elsewhere. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-resource-policy': 'same-origin',
};

function plain(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' } });
}

/**
 * The berth:// handler for `protocol.handle`: GET and HEAD of the renderer's
 * own regular files (a symlink is not followed), each with its exact type
 * and the security headers. Answers name no path.
 */
export function appProtocolHandler(rendererDir: string): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'method not allowed');
    const resolved = resolveAppRequest(request.url, rendererDir);
    if (resolved.kind === 'refused') return plain(resolved.status, resolved.status === 400 ? 'bad request' : 'not found');
    let body: Buffer;
    try {
      if (!(await lstat(resolved.path)).isFile()) return plain(404, 'not found');
      body = await readFile(resolved.path);
    } catch {
      return plain(404, 'not found');
    }
    const headers = { ...SECURITY_HEADERS, 'content-type': resolved.contentType, 'content-length': String(body.length) };
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
  };
}
