import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * Who owns the other end of a loopback TCP connection, from the kernel's
 * socket tables (/proc/net/tcp and /proc/net/tcp6, Linux only). Loopback TCP
 * carries no peer credentials (SO_PEERCRED answers only for UNIX sockets), but
 * both ends of a loopback connection are sockets of this machine, listed with
 * the uid that created them: the client's socket is the row whose local
 * address is the connection's remote one and whose remote address is ours.
 * Browser mode uses it to serve its own user only (T25), as the control socket
 * does with SO_PEERCRED (T18).
 */

export interface Endpoint {
  address: string;
  port: number;
}

export interface TcpSocketRow {
  local: Endpoint;
  remote: Endpoint;
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

/**
 * The rows of /proc/net/tcp or /proc/net/tcp6. A line that does not have the
 * kernel's shape is skipped: a row we cannot read can only fail to match, so
 * a connection it might describe is refused (fail closed).
 */
export function parseProcNetTcp(text: string, littleEndian = endianness() === 'LE'): TcpSocketRow[] {
  const rows: TcpSocketRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]!)) continue;
    const local = endpoint(fields[1]!, littleEndian);
    const remote = endpoint(fields[2]!, littleEndian);
    if (local === undefined || remote === undefined || !/^\d+$/.test(fields[7]!) || !/^\d+$/.test(fields[9]!)) continue;
    rows.push({ local, remote, uid: Number(fields[7]), inode: Number(fields[9]) });
  }
  return rows;
}

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'] as const;

/**
 * The uid owning the client end of the connection `client` -> `server` (both
 * as this process sees them), or undefined when no such socket is listed (not
 * Linux, gone already, or in another network namespace). A row with inode 0 is
 * a socket in TIME_WAIT whose owner the kernel no longer knows: never a match.
 */
export function clientSocketUid(client: Endpoint, server: Endpoint, tables: readonly string[] = TABLES): number | undefined {
  const same = (a: Endpoint, b: Endpoint): boolean => a.port === b.port && a.address === b.address;
  const owners = new Set<number>();
  for (const table of tables) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of parseProcNetTcp(text)) {
      if (row.inode !== 0 && same(row.local, client) && same(row.remote, server)) owners.add(row.uid);
    }
  }
  // Two live sockets cannot share one 4-tuple; if the tables ever say so, trust neither.
  return owners.size === 1 ? [...owners][0] : undefined;
}
