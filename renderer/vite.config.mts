import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * The renderer build: renderer/index.html → dist/renderer (served to Electron's
 * windows as berth://app and by the backend in browser mode). `--mode preview`
 * builds the dev-only preview page (renderer/dev/) into a temp folder instead
 * (never under dist/, so it can never be packaged with the app).
 */
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
/** One preview folder per checkout: two worktrees taking screenshots at once must not serve each other's build. */
const previewDir = join(tmpdir(), `berth-renderer-preview-${createHash('sha256').update(repo).digest('hex').slice(0, 12)}`);

/**
 * The page's own CSP, a second layer under the header that both the browser
 * server and the Electron shell's berth:// scheme send
 * (main/core/renderer-content.ts). Build only: the dev server injects inline code.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'";

function contentSecurityPolicy(): Plugin {
  return {
    name: 'berth-csp',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP }, injectTo: 'head-prepend' }],
    },
  };
}

export default defineConfig(({ mode }) => {
  const preview = mode === 'preview';
  return {
    root: here,
    base: './',
    publicDir: join(here, 'public'),
    plugins: [react(), contentSecurityPolicy()],
    resolve: {
      // The shared schemas use node:net's isIP; the sandboxed page gets the same check from a shim.
      alias: { 'node:net': join(here, 'shims/node-net.ts') },
    },
    build: {
      outDir: preview ? previewDir : join(repo, 'dist/renderer'),
      emptyOutDir: true,
      sourcemap: false,
      target: 'chrome120',
      // No inline polyfill script: the CSP allows none, and Chromium needs none.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      reportCompressedSize: true,
      rolldownOptions: { input: preview ? join(here, 'dev/preview.html') : join(here, 'index.html') },
    },
    server: { host: '127.0.0.1', strictPort: false },
  };
});
