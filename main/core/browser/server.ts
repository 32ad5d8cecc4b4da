import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { LAUNCH_PARAM, LAUNCH_REFUSED } from '../../../common/api/browser-link';
import type { ApiHost } from '../api/dispatch';
import { processFdBudget, type FdBudget } from '../limits/fd-budget';
import { BROWSER_LIMITS } from '../limits/listener-limits';
import { guardConnections } from './admission';
import { BrowserKeys } from './keys';
import { CONTENT_SECURITY_POLICY, rendererFileType } from '../renderer-content';

/** The page and the API share this CSP (the Electron shell's pages get the same). */
export { CONTENT_SECURITY_POLICY };

/**
 * Browser mode: the same UI, served on 127.0.0.1 by the backend, for machines
 * where Electron cannot start and for the end-to-end tests. Any local process
 * and any web page the user visits can reach a loopback port, so:
 * - on Linux, only the backend's own user is served at all: every connection's
 *   client socket is looked up in the kernel's tables and any other owner
 *   (root included, as on the control socket, T18) is turned away before a
 *   byte is read (T25). A key another user steals is then worth nothing;
 * - connections are capped and timed out, and checked cheaply before any of
 *   that (admission.ts, T33): a flood here must not stall the user's port
 *   forwarding or take the descriptors it needs;
 * - a link carries only a launch code: single use, 60 seconds, never the
 *   credential itself. Links end up in command lines (xdg-open, the browser),
 *   which every local user can read, and a code someone else used first or too
 *   late only earns the user a "run berth app --open again" page;
 * - the page trades the code for a session key (POST /api/session) and keeps
 *   it in the tab's sessionStorage, which is per origin, port included.
 *   Not a cookie: cookies are per host, not per port, so the browser would
 *   hand ours to any other server on 127.0.0.1 the user visits;
 * - the Host header must name our own loopback origin, so a DNS-rebinding
 *   page (evil.example resolving to 127.0.0.1) gets nothing;
 * - calls must be JSON POSTs with the session in a header, which a
 *   cross-origin page cannot send without a CORS preflight we never answer.
 */

/** A call body is small JSON; anything bigger is refused before it is buffered. */
const MAX_BODY_BYTES = 64 * 1024;
const HEARTBEAT_MS = 15_000;
/** Events a window does not read pile up in memory: past this, its stream is dropped (it reconnects). */
const MAX_STREAM_BACKLOG_BYTES = 16 * 1024 * 1024;

const callBody = z.strictObject({ method: z.string().max(64), params: z.unknown() });
const sessionBody = z.strictObject({ launch: z.string().max(256) });


export interface BrowserServerOptions {
  host: ApiHost;
  /** The built renderer (dist/renderer); only files present at start are served. */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Launch codes and sessions; a server restarted with the same keys keeps its tabs (tests pass their own clock). */
  keys?: BrowserKeys;
  /**
   * Serve only the backend's own uid (Linux: from /proc/net/tcp). Defaults to
   * on wherever the kernel's tables exist; off elsewhere (macOS), where the
   * launch code's single use and short life are the defence.
   */
  ownUserOnly?: boolean;
  /** The process's descriptors, shared with the port forwarders (default: this process's budget). */
  fds?: FdBudget;
}

export interface BrowserServer {
  readonly origin: string;
  readonly port: number;
  /** A new link to open the window: a launch code, single use, for a minute (keys.ts). */
  launchUrl(): string;
  close(): Promise<void>;
}

/** Every file under dir, by URL path; read once, so nothing written later (or linked in) is served. */
function staticFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && rendererFileType(entry.name) !== undefined) {
        files.set(`/${relative(dir, full).split(sep).join('/')}`, full);
      }
    }
  };
  walk(dir);
  return files;
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
  const keys = options.keys ?? new BrowserKeys();
  const ownUid = process.getuid?.();
  const ownUserOnly = options.ownUserOnly ?? (process.platform === 'linux' && statSync('/proc/net/tcp', { throwIfNoEntry: false }) !== undefined);
  if (ownUserOnly && ownUid === undefined) throw new Error('browser mode cannot tell who connects here: no uid');
  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();
  let origin = '';
  let streams = 0;

  const server: Server = createServer(
    {
      headersTimeout: BROWSER_LIMITS.headersTimeoutMs,
      requestTimeout: BROWSER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: BROWSER_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: BROWSER_LIMITS.checkIntervalMs,
    },
    (req, res) => handle(req, res),
  );
  server.timeout = BROWSER_LIMITS.idleTimeoutMs;
  const admission = guardConnections(server, { ownUid: ownUserOnly ? ownUid : undefined, fds: options.fds ?? processFdBudget() });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    // The launch code is in the page URL until the page removes it: never send it on as a Referer.
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('cross-origin-resource-policy', 'same-origin');
    if (!allowedHosts.has(req.headers.host ?? '')) return send(res, 421, 'text/plain', 'wrong host\n');
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/api/call') return void handleCall(req, res);
    if (url.pathname === '/api/session') return void handleSession(req, res);
    if (url.pathname === '/api/events') return handleEvents(url, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const file = files.get(url.pathname === '/' ? '/index.html' : url.pathname);
    if (file === undefined) return send(res, 404, 'text/plain', 'not found\n');
    send(res, 200, rendererFileType(file) ?? 'application/octet-stream', readFileSync(file));
  }

  function isJson(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.headers['content-type'] ?? '').startsWith('application/json')) return true;
    send(res, 415, 'text/plain', 'calls must be application/json\n');
    return false;
  }

  /** The body, at most MAX_BODY_BYTES; undefined (and 413 sent) when bigger. */
  async function readBody(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return void send(res, 413, 'text/plain', 'request too large\n');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function postFromOurOrigin(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') {
      send(res, 405, 'text/plain', 'method not allowed\n');
      return false;
    }
    // A page from another origin may not call us, even with a stolen key.
    if (req.headers.origin !== undefined && !allowedOrigins.has(req.headers.origin)) {
      send(res, 403, 'text/plain', 'wrong origin\n');
      return false;
    }
    return true;
  }

  /** A launch code, once, for a session key: the code dies here whether or not the answer arrives. */
  async function handleSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!postFromOurOrigin(req, res) || !isJson(req, res)) return;
    const text = await readBody(req, res);
    if (text === undefined) return;
    let body;
    try {
      body = sessionBody.parse(JSON.parse(text));
    } catch {
      return sendJson(res, 400, { error: 'the body must be {"launch": "…"} JSON' });
    }
    const session = keys.exchange(body.launch);
    if (session === undefined) return sendJson(res, 401, { error: LAUNCH_REFUSED });
    sendJson(res, 200, { session });
  }

  async function handleCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!postFromOurOrigin(req, res)) return;
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!keys.isSession(auth?.[1])) return send(res, 401, 'text/plain', 'missing or wrong session\n');
    if (!isJson(req, res)) return;
    const text = await readBody(req, res);
    if (text === undefined) return;
    let body;
    try {
      body = callBody.parse(JSON.parse(text));
    } catch {
      return sendJson(res, 400, { ok: false, error: { code: 'INVALID', message: 'the body must be {"method", "params"} JSON' } });
    }
    sendJson(res, 200, await options.host.call(body.method, body.params));
  }

  function handleEvents(url: URL, res: ServerResponse): void {
    // EventSource cannot set headers, so the session comes in the query here (it is in no link and no command line).
    if (!keys.isSession(url.searchParams.get('token') ?? undefined)) return send(res, 401, 'text/plain', 'missing or wrong session\n');
    if (streams >= BROWSER_LIMITS.maxEventStreams) return send(res, 503, 'text/plain', 'too many windows open\n');
    streams++;
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
    const push = (state: unknown): void => {
      res.write(`event: state\ndata: ${JSON.stringify(state)}\n\n`);
      if (res.writableLength > MAX_STREAM_BACKLOG_BYTES) res.destroy();
    };
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
    origin,
    port,
    launchUrl: () => `${origin}/?${LAUNCH_PARAM}=${keys.newLaunchCode()}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        admission.destroyAll();
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
