import type { Server, Socket } from 'node:net';

/**
 * The OS fd behind a libuv-managed socket. Node exposes it only on the
 * internal handle; we need it for SO_PEERCRED and for sendmsg with SCM_RIGHTS.
 */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error('socket has no file descriptor');
  }
  return fd;
}

/** The OS fd behind a listening net.Server (the same internal handle), to pass to a child process. */
export function listeningFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new Error('server is not listening on a file descriptor');
  return fd;
}
