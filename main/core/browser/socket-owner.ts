import { readFileSync } from 'node:fs';
import { parseProcNetTable, type Endpoint } from '../../../common/net/proc-net';

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
    for (const row of parseProcNetTable(text, { port: client.port })) {
      if (row.inode !== 0 && same(row.local, client) && same(row.remote, server)) owners.add(row.uid);
    }
  }
  // Two live sockets cannot share one 4-tuple; if the tables ever say so, trust neither.
  return owners.size === 1 ? [...owners][0] : undefined;
}
