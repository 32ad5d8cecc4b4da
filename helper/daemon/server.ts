import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { peerCredentials, type PeerCredentials } from '../../native';
import { encodeFrame, type ErrorCode } from '../../common/protocol';
import { AUDITED, HANDLERS } from '../ops';
import type { AuditLog } from './audit';
import type { HelperConfig } from '../../common/helper-config/schema';
import { Connection } from './connection';
import { listenOnSocketFile, prepareSocketPath, SOCKET_MODE } from './socket-file';
import { Activity } from './activity';
import { fixedEnrolment, notEnrolledMessage, type Enrolment } from './enrolment';
import { ConnectionSlots } from './slots';
import { socketFd } from './socket-fd';

/** Re-exported: the socket's mode (socket-file.ts). */
export { SOCKET_MODE };

export interface HelperServerOptions {
  /** Only as the installed systemd service: how uninstall hands the removal over (OperationContext.handOverRemoval). */
  handOverRemoval?: () => void;
}

/**
 * The helper's listening side. Who may talk is decided here, per connection,
 * from the kernel's record of the peer (SO_PEERCRED / getpeereid), before a
 * single byte of the request is read: root and the enrolled uids. The socket
 * itself is root's and world-connectable (one socket for every enrolled
 * user, so enrolment never touches it); the root-owned 0755 directory keeps
 * anyone from replacing it.
 */
export class HelperServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly slots: ConnectionSlots;
  private socketIno: number | undefined;
  /** Open connections and requests in flight: while any is held, the helper does not exit for idleness. */
  readonly activity = new Activity();

  constructor(
    private readonly config: HelperConfig,
    private readonly audit: AuditLog,
    private readonly enrolment: Enrolment = fixedEnrolment(config.allowUids),
    private readonly options: HelperServerOptions = {},
  ) {
    // pauseOnConnect: nothing is read from a peer before its credentials are checked.
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.slots = new ConnectionSlots(config.limits.maxConnectionsPerUid);
    // Backstop for floods from many accounts at once; each account is capped by the slots, authorized ones below with BUSY.
    this.server.maxConnections = config.limits.maxConnections * 4;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /**
   * Serves on a socket the service manager bound (systemd LISTEN_FDS): it
   * created the socket with the right owner and mode, and removes it itself.
   */
  async listenOn(fd: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ fd }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.socketIno = undefined;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.config;
    await prepareSocketPath(socketPath);
    this.socketIno = await listenOnSocketFile(this.server, socketPath);
  }

  /**
   * Stops taking new connections (idle exit); open ones are served to the
   * end. On a service manager's socket only our copy of the fd closes: what
   * arrives from now on waits in the manager's socket for the next helper.
   */
  stopListening(): void {
    if (this.server.listening) this.server.close();
  }

  /**
   * Resolves once nothing has been open or in flight for `ms` and the
   * listener is closed. Stop accepting first, then look again: a connection
   * accepted up to that very moment holds the activity and is served to its
   * end before this resolves; none is accepted after it (those wait in the
   * service manager's socket for the next helper).
   */
  idleFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.activity.whenIdleFor(ms, () => {
        this.stopListening();
        void this.activity.drained().then(resolve);
      });
    });
  }

  async close(): Promise<void> {
    this.activity.stop();
    const closed = new Promise<void>((resolve) => {
      if (this.server.listening) this.server.close(() => resolve());
      else resolve();
    });
    for (const connection of [...this.connections]) connection.close();
    await closed;
    this.removeSocketFile();
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    let peer: PeerCredentials;
    try {
      peer = peerCredentials(socketFd(socket));
    } catch {
      socket.destroy();
      return;
    }
    // Every connection, refused or not, holds one of its account's slots until it closes.
    if (!this.slots.take(peer.uid)) {
      // Counted in the peer's refusal budget (audit-throttle), like every refusal.
      this.audit.write({
        peer,
        op: 'connect',
        result: 'BUSY',
        message: `uid ${peer.uid} already holds ${this.config.limits.maxConnectionsPerUid} connections, the most one account may`,
      });
      socket.destroy();
      return;
    }
    const uid = peer.uid;
    socket.once('close', () => this.slots.release(uid));
    if (!this.enrolment.allows(peer.uid)) {
      this.audit.write({ peer, op: 'connect', result: 'UNAUTHORIZED' });
      refuse(socket, 'UNAUTHORIZED', notEnrolledMessage(peer.uid));
      return;
    }
    if (this.connections.size >= this.config.limits.maxConnections) {
      refuse(socket, 'BUSY', 'the helper has too many open connections; try again');
      return;
    }
    // An open connection keeps the helper up, idle or not: the client may send its next request on it
    // (HelperClient does not reconnect), and a silent one is closed after limits.idleTimeoutMs anyway.
    const release = this.activity.hold();
    const connection: Connection = new Connection(socket, {
      peer,
      config: this.config,
      enrolment: this.enrolment,
      audit: this.audit,
      handlers: HANDLERS,
      audited: AUDITED,
      activity: this.activity,
      ...(this.options.handOverRemoval !== undefined ? { handOverRemoval: this.options.handOverRemoval } : {}),
      onClose: () => {
        this.connections.delete(connection);
        release();
      },
    });
    this.connections.add(connection);
  }

  /** Unlinks the socket only if it is still ours: a successor may have replaced it. */
  private removeSocketFile(): void {
    if (this.socketIno === undefined) return; // the service manager's socket: not ours to remove
    try {
      if (lstatSync(this.config.socketPath).ino === this.socketIno) unlinkSync(this.config.socketPath);
    } catch {
      // Already gone.
    }
  }
}

/** How long a refused peer may take to read its error frame and hang up. */
const REFUSAL_LINGER_MS = 2_000;

/**
 * One error frame, then hang up. We half-close and discard input until the
 * peer hangs up too: closing with its request unread would reset the
 * connection, and the peer could lose the frame that says why.
 */
function refuse(socket: Socket, code: ErrorCode, message: string): void {
  const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  socket.once('close', () => clearTimeout(timer));
  socket.on('end', () => socket.destroy());
  socket.resume();
  socket.end(encodeFrame({ id: null, ok: false, error: { code, message } }));
}
