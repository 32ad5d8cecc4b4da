import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FdBudget } from '../limits/fd-budget';
import { BROWSER_LIMITS } from '../limits/listener-limits';
import { SocketOwnerLookup } from './socket-owner';

/**
 * Who gets to talk HTTP to browser mode, decided before the HTTP parser
 * reads a byte (T25, T33). Any local user can connect to 127.0.0.1, so every
 * step here is cheap and bounded:
 * - past the connection cap Node closes a new connection before any of our
 *   code runs;
 * - near the descriptor limit it is closed at once (the user's port mappings
 *   and the CLI keep the rest, fd-budget.ts);
 * - on Linux its owner is looked up in the kernel's socket tables, read off
 *   the event loop once for every connection waiting (no per-connection
 *   synchronous read: a flood would stall forwarding); connections waiting
 *   for that are capped, and more are closed unread;
 * - another user's connection gets one sentence and is closed; ours are
 *   capped too (the peer is known only as a uid: on loopback every address
 *   is 127.0.0.1), and only then handed to the HTTP server.
 */

/** A client on another uid gets one plain sentence and the door; nothing it sent is read. */
const OTHER_USER_REPLY =
  'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 53\r\nconnection: close\r\n\r\nThis Berth belongs to another user of this computer.\n';
const TOO_MANY_REPLY =
  'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 56\r\nconnection: close\r\n\r\nToo many Berth windows are open; close some and reload.\n';

export interface AdmissionOptions {
  /** Serve only this uid (Linux: from the kernel's tables); undefined: serve every connection (macOS, see server.ts). */
  ownUid: number | undefined;
  fds: FdBudget;
}

export interface Admission {
  /** Connections of our own user open now. */
  readonly own: number;
  /** Destroys every connection, checked or not (the HTTP server's closeAllConnections knows only the checked ones). */
  destroyAll(): void;
}

function canonicalAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/** Answers with `reply` and closes, reading nothing. */
function turnAway(socket: Socket, reply: string): void {
  socket.end(reply, () => socket.destroy());
}

/** Puts the checks in front of `server`'s own connection handling. Call before it listens. */
export function guardConnections(server: Server, options: AdmissionOptions): Admission {
  const owners = new SocketOwnerLookup();
  const sockets = new Set<Socket>();
  let unchecked = 0;
  let own = 0;
  // Nothing is read from a new connection until it is handed to the HTTP server below.
  (server as unknown as { pauseOnConnect: boolean }).pauseOnConnect = true;
  server.maxConnections = BROWSER_LIMITS.maxOwnConnections + BROWSER_LIMITS.maxUnchecked;
  const serveHttp = server.listeners('connection') as Array<(this: Server, socket: Socket) => void>;
  server.removeAllListeners('connection');

  const hand = (socket: Socket): void => {
    if (own >= BROWSER_LIMITS.maxOwnConnections) return turnAway(socket, TOO_MANY_REPLY);
    own++;
    socket.once('close', () => own--);
    for (const listener of serveHttp) listener.call(server, socket);
    socket.resume();
  };

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    if (!options.fds.admit('browser')) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => {
      options.fds.release();
      sockets.delete(socket);
    });
    if (options.ownUid === undefined) return hand(socket);
    if (unchecked >= BROWSER_LIMITS.maxUnchecked) return void socket.destroy();
    unchecked++;
    const client = { address: canonicalAddress(socket.remoteAddress), port: socket.remotePort ?? -1 };
    const local = { address: canonicalAddress(socket.localAddress), port: socket.localPort ?? -1 };
    void owners.uidOf(client, local).then((uid) => {
      unchecked--;
      if (socket.destroyed) return;
      // Not found (gone already, another namespace) counts as someone else: fail closed.
      if (uid !== options.ownUid) return turnAway(socket, OTHER_USER_REPLY);
      hand(socket);
    });
  });

  return {
    get own() {
      return own;
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}
