import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

const endpointsKey = (a: Endpoint, b: Endpoint): string => `${a.address} ${a.port} ${b.address} ${b.port}`;

interface Waiting {
  client: Endpoint;
  server: Endpoint;
  resolve(uid: number | undefined): void;
}

/**
 * clientSocketUid for many connections at once, without blocking: reading
 * the tables costs ~25 ms with a few thousand sockets listed, so a flood of
 * connections read one by one would stall the whole backend (forwarding and
 * the CLI included). Connections wait for the next read, which starts after
 * they were accepted (so it lists them) and answers every one of them; the
 * read itself runs off the event loop.
 */
export class SocketOwnerLookup {
  private waiting: Waiting[] = [];
  private reading = false;

  constructor(private readonly tables: readonly string[] = TABLES) {}

  /** The uid owning the client end of `client` -> `server`, or undefined (fail closed, as clientSocketUid). */
  uidOf(client: Endpoint, server: Endpoint): Promise<number | undefined> {
    return new Promise((resolve) => {
      this.waiting.push({ client, server, resolve });
      if (!this.reading) void this.readBatch();
    });
  }

  private async readBatch(): Promise<void> {
    this.reading = true;
    while (this.waiting.length > 0) {
      // Only those already waiting: a connection accepted during the read may not be listed in it.
      const batch = this.waiting;
      this.waiting = [];
      const owners = await this.readOwners(new Set(batch.map((w) => w.server.port))).catch(() => new Map<string, Set<number>>());
      for (const { client, server, resolve } of batch) {
        const found = owners.get(endpointsKey(client, server));
        // Two live sockets cannot share one 4-tuple; if the tables ever say so, trust neither.
        resolve(found?.size === 1 ? [...found][0] : undefined);
      }
    }
    this.reading = false;
  }

  /** Every live socket whose remote port is one of `serverPorts`: its owners, by local and remote endpoint. */
  private async readOwners(serverPorts: ReadonlySet<number>): Promise<Map<string, Set<number>>> {
    const texts = await Promise.all(this.tables.map((table) => readFile(table, 'utf8').catch(() => '')));
    const owners = new Map<string, Set<number>>();
    for (const port of serverPorts) {
      for (const text of texts) {
        for (const row of parseProcNetTable(text, { remotePort: port })) {
          if (row.inode === 0) continue;
          const key = endpointsKey(row.local, row.remote);
          owners.set(key, (owners.get(key) ?? new Set()).add(row.uid));
        }
      }
    }
    return owners;
  }
}
