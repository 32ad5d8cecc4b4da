import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import { peerCredentials } from '../../../native';
import { clearStaleSocket } from '../../../common/socket-probe';
import { ensurePrivateDirectory } from '../fs/user-file';
import { readJsonLines, writeJsonLine } from './lines';
import type { ApiHost } from '../api/dispatch';
import { processFdBudget, type FdBudget } from '../limits/fd-budget';
import { controlLimits } from '../limits/listener-limits';

/**
 * The backend's control socket: how the `berth` CLI talks to the running app.
 * It lives in the user's private runtime directory (0700) with mode 0600, and
 * every connection's peer uid is checked against our own as well: the file
 * modes are the first wall, the kernel's word on the peer is the second.
 * Stuck or greedy clients of that same user are bounded too (T33): a cap on
 * connections and on subscribers, an idle timeout, a deadline on each line,
 * and a limit on unread replies.
 */

export const controlRequest = z.union([
  z.strictObject({ id: z.number().int().min(0).max(0x7fffffff), method: z.string().max(64), params: z.unknown() }),
  z.strictObject({ subscribe: z.literal(true) }),
]);

export interface ControlServerOptions extends ApiHost {
  socketPath: string;
  /** The process's descriptors, shared with the port forwarders (default: this process's budget). */
  fds?: FdBudget;
}

/** What every connection of one server shares. */
interface Shared {
  options: ControlServerOptions;
  limits: ReturnType<typeof controlLimits>;
  fds: FdBudget;
  sockets: Set<Socket>;
  subscribers: number;
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    private readonly shared: Shared,
    readonly socketPath: string,
  ) {}

  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    ensurePrivateDirectory(dirname(options.socketPath));
    await clearStaleSocket(options.socketPath, `Berth is already running for this user (${options.socketPath} answers)`);
    const shared: Shared = { options, limits: controlLimits(), fds: options.fds ?? processFdBudget(), sockets: new Set(), subscribers: 0 };
    const server = createServer((socket) => serveConnection(socket, shared));
    // Past the cap, Node closes a new connection before any of our code runs: cheap, and nothing is read.
    server.maxConnections = shared.limits.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(options.socketPath, 0o600);
    return new ControlServer(server, shared, options.socketPath);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Subscribers and idle CLIs would otherwise hold close() open.
    for (const socket of this.shared.sockets) socket.destroy();
    await closed;
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

function serveConnection(socket: Socket, shared: Shared): void {
  const { options, limits, fds } = shared;
  // Near the descriptor limit the CLI waits its turn behind the user's port
  // mappings (fd-budget.ts): refused at once, nothing read.
  if (!fds.admit('control')) {
    socket.destroy();
    return;
  }
  shared.sockets.add(socket);
  const fd = socketFd(socket);
  const ownUid = process.getuid?.();
  let unsubscribe: (() => void) | undefined;
  let inFlight = 0;
  let idle: NodeJS.Timeout | undefined;
  let line: NodeJS.Timeout | undefined;
  socket.once('close', () => {
    fds.release();
    shared.sockets.delete(socket);
    clearTimeout(idle);
    clearTimeout(line);
    if (unsubscribe) {
      unsubscribe();
      shared.subscribers--;
    }
  });
  socket.on('error', () => socket.destroy());
  // Same user only: root could bypass the file modes, and so could a bug in them; neither gets to drive the app.
  if (fd === undefined || ownUid === undefined || peerCredentials(fd).uid !== ownUid) {
    socket.destroy();
    return;
  }
  // A connection silent this long, with no call running and no subscription,
  // is a stuck client: it would hold one of the few places the CLI needs.
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = inFlight === 0 && unsubscribe === undefined ? setTimeout(() => socket.destroy(), limits.idleMs) : undefined;
  };
  // A peer that does not read its replies or events is dropped before they fill memory.
  const send = (message: unknown): void => {
    writeJsonLine(socket, message);
    if (socket.writableLength > limits.maxQueuedBytes) socket.destroy();
  };
  const onMessage = (message: unknown): void => {
    clearTimeout(line);
    line = undefined;
    const request = controlRequest.safeParse(message);
    if (!request.success) {
      socket.destroy();
      return;
    }
    if ('subscribe' in request.data) {
      if (unsubscribe) return;
      if (shared.subscribers >= limits.maxSubscribers) {
        socket.destroy();
        return;
      }
      shared.subscribers++;
      send({ event: 'state', state: options.state() });
      unsubscribe = options.subscribe((state) => send({ event: 'state', state }));
      armIdle();
      return;
    }
    const { id, method, params } = request.data;
    inFlight++;
    armIdle();
    void options.call(method, params).then((reply) => {
      inFlight--;
      send({ id, ...reply });
      if (!socket.destroyed) armIdle();
    });
  };
  readJsonLines(socket, onMessage, (pendingBytes) => {
    armIdle();
    // Half a line gets a deadline from its first byte, however slowly the rest trickles in.
    if (pendingBytes === 0) {
      clearTimeout(line);
      line = undefined;
    } else line ??= setTimeout(() => socket.destroy(), limits.lineMs);
  });
  armIdle();
}
