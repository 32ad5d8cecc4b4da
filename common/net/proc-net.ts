import { endianness } from 'node:os';

/**
 * The kernel's socket tables, /proc/net/{tcp,tcp6,udp,udp6} (Linux): every
 * socket of this network namespace with its addresses, state and owner uid.
 * One reader for the helper (who holds a port it would hand out, T27) and
 * the backend (who owns the other end of a browser-mode connection, T25).
 * IPv4-mapped IPv6 addresses come back as plain IPv4: a dual-stack socket
 * bound to ::ffff:127.0.0.1 serves 127.0.0.1, and must compare as such.
 */

export interface Endpoint {
  address: string;
  port: number;
}

export interface ProcNetRow {
  local: Endpoint;
  remote: Endpoint;
  /** The `st` column, two hex digits (TCP: 0A is LISTEN; UDP: 07 is an unconnected socket). */
  state: string;
  uid: number;
  inode: number;
}

/** The kernel prints each 32-bit word of an address in the host's byte order. */
function word(hex: string, littleEndian: boolean): number[] {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
}

/** An address as /proc/net/tcp{,6} prints it (8 or 32 hex digits); IPv4-mapped IPv6 comes back as plain IPv4. */
export function decodeAddress(hex: string, littleEndian = endianness() === 'LE'): string | undefined {
  if (!/^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32})$/.test(hex)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 8) bytes.push(...word(hex.slice(i, i + 8), littleEndian));
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The compressed form (RFC 5952), as Node reports a socket's address.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function endpoint(text: string, littleEndian: boolean): Endpoint | undefined {
  const match = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(text);
  if (match === null) return undefined;
  const address = decodeAddress(match[1]!, littleEndian);
  return address === undefined ? undefined : { address, port: Number.parseInt(match[2]!, 16) };
}

/** The lines after the header that contain `needle`, each once. */
function* linesHolding(text: string, needle: string): Generator<string> {
  let from = text.indexOf('\n') + 1;
  if (from === 0) return;
  for (let at = text.indexOf(needle, from); at !== -1; at = text.indexOf(needle, from)) {
    const start = text.lastIndexOf('\n', at) + 1;
    const newline = text.indexOf('\n', at);
    const end = newline === -1 ? text.length : newline;
    yield text.slice(start, end);
    from = end + 1;
  }
}

/**
 * The rows of /proc/net/{tcp,tcp6,udp,udp6} (one format). A line that does
 * not have the kernel's shape is skipped: callers that look for a match fail
 * closed on it. `port`, when given, keeps only rows with that local port
 * (`remotePort`: that remote port), and skips decoding every other row (the
 * tables can hold many thousands).
 */
export function parseProcNetTable(
  text: string,
  options: { port?: number; remotePort?: number; littleEndian?: boolean } = {},
): ProcNetRow[] {
  const littleEndian = options.littleEndian ?? endianness() === 'LE';
  const hex = (port: number | undefined): string | undefined =>
    port === undefined ? undefined : `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const portHex = hex(options.port);
  const remoteHex = hex(options.remotePort);
  const rows: ProcNetRow[] = [];
  // With a port asked for, only the lines that hold it are looked at (the kernel
  // prints ports as %04X, then a space): a large table is not split line by line.
  const needle = portHex ?? remoteHex;
  for (const line of needle === undefined ? text.split('\n').slice(1) : linesHolding(text, `${needle} `)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]!)) continue;
    if (portHex !== undefined && !fields[1]!.toUpperCase().endsWith(portHex)) continue;
    if (remoteHex !== undefined && !fields[2]!.toUpperCase().endsWith(remoteHex)) continue;
    const local = endpoint(fields[1]!, littleEndian);
    const remote = endpoint(fields[2]!, littleEndian);
    if (local === undefined || remote === undefined || !/^[0-9A-Fa-f]{2}$/.test(fields[3]!)) continue;
    if (!/^\d+$/.test(fields[7]!) || !/^\d+$/.test(fields[9]!)) continue;
    rows.push({ local, remote, state: fields[3]!.toUpperCase(), uid: Number(fields[7]), inode: Number(fields[9]) });
  }
  return rows;
}

/** TCP_LISTEN in the `st` column of /proc/net/tcp{,6}. */
export const TCP_LISTEN = '0A';

/**
 * The sockets a /proc/net table lists as holding `port`: for TCP only
 * listeners (a connection's local port is not a service), for UDP every
 * bound socket. One rule for the helper (who serves a port, T27) and the
 * backend (which of the user's own processes holds it).
 */
export function portHolderRows(text: string, port: number, protocol: 'tcp' | 'udp', littleEndian?: boolean): ProcNetRow[] {
  return parseProcNetTable(text, { port, ...(littleEndian === undefined ? {} : { littleEndian }) }).filter((row) => protocol === 'udp' || row.state === TCP_LISTEN);
}
