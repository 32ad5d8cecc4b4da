import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, sep } from 'node:path';
import { z } from 'zod';
import type { ApiHost } from '../api/dispatch';

/**
 * Browser mode: the same UI, served on 127.0.0.1 by the backend, for machines
 * where Electron cannot start and for the end-to-end tests. Any local process
 * and any web page the user visits can reach a loopback port, so:
 * - the API needs a one-time token (only in the URL the backend prints/opens);
 * - the Host header must name our own loopback origin, so a DNS-rebinding
 *   page (evil.example resolving to 127.0.0.1) gets nothing;
 * - calls must be JSON POSTs with the token in a header, which a cross-origin
 *   page cannot send without a CORS preflight we never answer.
 */

/** The page and the API share this CSP: our own files only, no inline code, no framing. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** A call body is small JSON; anything bigger is refused before it is buffered. */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_EVENT_STREAMS = 16;
const HEARTBEAT_MS = 15_000;

const callBody = z.strictObject({ method: z.string().max(64), params: z.unknown() });

export interface BrowserServerOptions {
  host: ApiHost;
  /** The built renderer (dist/renderer); only files present at start are served. */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** For tests; production makes a fresh random one at every start. */
  token?: string;
}

export interface BrowserServer {
  /** The URL to open: includes the one-time token. */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Every file under dir, by URL path; read once, so nothing written later (or linked in) is served. */
function staticFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && TYPES[extname(entry.name)] !== undefined) {
        files.set(`/${relative(dir, full).split(sep).join('/')}`, full);
      }
    }
  };
  walk(dir);
  return files;
}

function sameToken(given: string | undefined, token: Buffer): boolean {
  if (given === undefined) return false;
  const bytes = Buffer.from(given, 'utf8');
  return bytes.length === token.length && timingSafeEqual(bytes, token);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}

export async function startBrowserServer(options: BrowserServerOptions): Promise<BrowserServer> {
  const files = staticFiles(options.staticDir);
  if (!files.has('/index.html')) throw new Error(`${options.staticDir} has no index.html; run "npm run build" first`);
  const tokenText = options.token ?? randomBytes(32).toString('hex');
  const token = Buffer.from(tokenText, 'utf8');
  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();
  let origin = '';
  let streams = 0;

  const server: Server = createServer((req, res) => {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    // The token is in the page URL: never send it on as a Referer.
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('cross-origin-resource-policy', 'same-origin');
    if (!allowedHosts.has(req.headers.host ?? '')) return send(res, 421, 'text/plain', 'wrong host\n');
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/api/call') return void handleCall(req, res);
    if (url.pathname === '/api/events') return handleEvents(url, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const file = files.get(url.pathname === '/' ? '/index.html' : url.pathname);
    if (file === undefined) return send(res, 404, 'text/plain', 'not found\n');
    send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });

  async function handleCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed\n');
    // A page from another origin may not call us, even with a stolen token.
    if (req.headers.origin !== undefined && !allowedOrigins.has(req.headers.origin)) return send(res, 403, 'text/plain', 'wrong origin\n');
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!sameToken(auth?.[1], token)) return send(res, 401, 'text/plain', 'missing or wrong token\n');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return send(res, 415, 'text/plain', 'calls must be application/json\n');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return send(res, 413, 'text/plain', 'request too large\n');
      chunks.push(chunk);
    }
    let body;
    try {
      body = callBody.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      return sendJson(res, 400, { ok: false, error: { code: 'INVALID', message: 'the body must be {"method", "params"} JSON' } });
    }
    sendJson(res, 200, await options.host.call(body.method, body.params));
  }

  function handleEvents(url: URL, res: ServerResponse): void {
    // EventSource cannot set headers, so the token comes in the query here.
    if (!sameToken(url.searchParams.get('token') ?? undefined, token)) return send(res, 401, 'text/plain', 'missing or wrong token\n');
    if (streams >= MAX_EVENT_STREAMS) return send(res, 503, 'text/plain', 'too many windows open\n');
    streams++;
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
    const push = (state: unknown): void => void res.write(`event: state\ndata: ${JSON.stringify(state)}\n\n`);
    push(options.host.state());
    const unsubscribe = options.host.subscribe(push);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      streams--;
      clearInterval(heartbeat);
      unsubscribe();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`));
  return {
    url: `${origin}/?token=${tokenText}`,
    origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether a directory holds a built renderer (for `npm start`'s fallback message). */
export function hasRenderer(dir: string): boolean {
  try {
    return statSync(join(dir, 'index.html')).isFile();
  } catch {
    return false;
  }
}
