/**
 * UDP on a published port's socket (see native/src/datagram.c): Node's dgram
 * could wrap the fd, but libuv then sets SO_REUSEADDR on it (SO_REUSEPORT on
 * macOS), which would let any local user bind the same UDP port and take its
 * datagrams. The backend reads and writes that socket here instead, watched
 * with pollStart; the per-client sockets to the target are plain dgram ones.
 */
import { checkFd, checkInteger, rangeError, typeError } from './checks';
import { loadBinding } from './loader';

/** Largest datagram read or sent: any UDP payload over IPv4 or IPv6. */
export const MAX_DATAGRAM_BYTES = 65536;

export interface DatagramAddress {
  address: string;
  port: number;
}

export interface ReceivedDatagram extends DatagramAddress {
  data: Buffer;
  /** The sender's raw socket address (scope id included): pass it to {@link sendDatagram} to answer. Compare with `equals`. */
  from: Buffer;
}

/**
 * Where a UDP socket is bound (getsockname). Anything but a datagram socket
 * is refused: 'EPROTOTYPE' for a TCP socket, 'ENOTSOCK' for a file.
 */
export function datagramAddress(fd: number): DatagramAddress {
  checkFd(fd);
  return loadBinding().datagramAddress(fd);
}

/**
 * One non-blocking recvmsg() of at most `maxBytes` (1..65536): the datagram
 * and its sender, or null when nothing is pending. A datagram larger than
 * `maxBytes` is consumed and reported as 'EMSGSIZE', never returned cut.
 */
export function receiveDatagram(fd: number, maxBytes: number = MAX_DATAGRAM_BYTES): ReceivedDatagram | null {
  checkFd(fd);
  checkInteger(maxBytes, 'maxBytes', 1, MAX_DATAGRAM_BYTES);
  return loadBinding().receiveDatagram(fd, maxBytes);
}

/**
 * One non-blocking sendto() of `data` (at most 65536 bytes) to `to`, a
 * `from` of {@link receiveDatagram}. Returns the bytes sent; throws 'EAGAIN'
 * when the socket buffer is full (UDP: the caller drops the datagram).
 */
export function sendDatagram(fd: number, data: Buffer, to: Buffer): number {
  checkFd(fd);
  if (!Buffer.isBuffer(data)) throw typeError('data must be a Buffer');
  if (data.length > MAX_DATAGRAM_BYTES) throw rangeError(`data must be at most ${MAX_DATAGRAM_BYTES} bytes`);
  if (!Buffer.isBuffer(to)) throw typeError('to must be a Buffer from receiveDatagram');
  return loadBinding().sendDatagram(fd, data, to);
}
