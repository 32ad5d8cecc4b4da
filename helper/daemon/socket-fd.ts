import type { Socket } from 'node:net';

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
