import { extname } from 'node:path';

/**
 * How the renderer's files are served, defined once for both ways the UI
 * runs: browser mode's loopback server (main/core/browser/server.ts) and the
 * Electron shell's berth:// scheme (main/electron/app-protocol.ts).
 */

/** Our own files only, no inline code, no plugins, no framing; the pages call out to nothing. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The file types the built renderer holds (Vite's output) and the only ones
 * served: anything else is not ours to serve. Module scripts are refused by
 * Chromium unless served as JavaScript, so the types must be exact.
 */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The Content-Type of a renderer file by its name, or undefined for a type the renderer never ships. */
export function rendererFileType(name: string): string | undefined {
  const ext = extname(name);
  return Object.hasOwn(TYPES, ext) ? TYPES[ext] : undefined;
}
