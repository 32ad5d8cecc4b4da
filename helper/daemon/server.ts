import { chmodSync, lchownSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { peerCredentials, type PeerCredentials } from '../../native';
import { encodeFrame, type ErrorCode } from '../../common/protocol';
import { AUDITED, HANDLERS } from '../ops';
import type { AuditLog } from './audit';
import type { HelperConfig } from '../../common/helper-config/schema';
import { Connection } from './connection';
import { fixedEnrolment, notEnrolledMessage, type Enrolment } from './enrolment';
import { ConnectionSlots } from './slots';
import { prepareSocketPath } from './socket-file';
import { socketFd } from './socket-fd';

/** The socket's mode: anyone may connect, as to the D-Bus system bus; the peer check below decides who is served. */
export const SOCKET_MODE = 0o666;

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

  constructor(
    private readonly config: HelperConfig,
    private readonly audit: AuditLog,
    private readonly enrolment: Enrolment = fixedEnrolment(config.allowUids),
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
    // umask so the socket is never, even for an instant, connectable before it is root's.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(socketPath, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    lchownSync(socketPath, 0, 0);
    chmodSync(socketPath, SOCKET_MODE);
    this.socketIno = lstatSync(socketPath).ino;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
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
    const connection: Connection = new Connection(socket, {
      peer,
      config: this.config,
      enrolment: this.enrolment,
      audit: this.audit,
      handlers: HANDLERS,
      audited: AUDITED,
      onClose: () => this.connections.delete(connection),
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
