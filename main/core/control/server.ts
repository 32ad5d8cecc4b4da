import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import { peerCredentials } from '../../../native';
import { clearStaleSocket } from '../../../common/socket-probe';
import { ensurePrivateDirectory } from '../fs/user-file';
import { readJsonLines, writeJsonLine } from './lines';
import type { ApiHost } from '../api/dispatch';

/**
 * The backend's control socket: how the `berth` CLI talks to the running app.
 * It lives in the user's private runtime directory (0700) with mode 0600, and
 * every connection's peer uid is checked against our own as well: the file
 * modes are the first wall, the kernel's word on the peer is the second.
 */

export const controlRequest = z.union([
  z.strictObject({ id: z.number().int().min(0).max(0x7fffffff), method: z.string().max(64), params: z.unknown() }),
  z.strictObject({ subscribe: z.literal(true) }),
]);

export interface ControlServerOptions extends ApiHost {
  socketPath: string;
}

/** At most this many CLI connections at once; more are refused (a runaway script must not exhaust fds). */
const MAX_CONNECTIONS = 64;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
  ) {}

  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    ensurePrivateDirectory(dirname(options.socketPath));
    await clearStaleSocket(options.socketPath, `Berth is already running for this user (${options.socketPath} answers)`);
    const server = createServer((socket) => serveConnection(socket, options));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(options.socketPath, 0o600);
    return new ControlServer(server, options.socketPath);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      // Already gone (closing unlinks it on some platforms).
    }
  }
}


/** The connected socket's fd, to ask the kernel who is on the other end. */
function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

function serveConnection(socket: Socket, options: ControlServerOptions): void {
  const fd = socketFd(socket);
  const ownUid = process.getuid?.();
  // Same user only: root could bypass the file modes, and so could a bug in them; neither gets to drive the app.
  if (fd === undefined || ownUid === undefined || peerCredentials(fd).uid !== ownUid) {
    socket.destroy();
    return;
  }
  let unsubscribe: (() => void) | undefined;
  socket.on('error', () => socket.destroy());
  socket.on('close', () => unsubscribe?.());
  readJsonLines(socket, (message) => {
    const request = controlRequest.safeParse(message);
    if (!request.success) {
      socket.destroy();
      return;
    }
    if ('subscribe' in request.data) {
      if (unsubscribe) return;
      writeJsonLine(socket, { event: 'state', state: options.state() });
      unsubscribe = options.subscribe((state) => writeJsonLine(socket, { event: 'state', state }));
      return;
    }
    const { id, method, params } = request.data;
    void options.call(method, params).then((reply) => writeJsonLine(socket, { id, ...reply }));
  });
}
