import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runFixtureAs } from '../../../test/support/processes';
import { clientSocketUid } from './socket-owner';

/**
 * The real kernel tables telling a connection from another user from one of
 * our own (T25); the parser itself is tested in common/net/proc-net.test.ts.
 */

describe('clientSocketUid, on the real tables', () => {
  const users = inject('users');
  let server: Server | undefined;

  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  /** A server that answers each request with the uid the tables give its client's socket. */
  async function ownerReporter(): Promise<number> {
    server = createServer((req, res) => {
      const socket: Socket = req.socket;
      const uid = clientSocketUid({ address: socket.remoteAddress!, port: socket.remotePort! }, { address: socket.localAddress!, port: socket.localPort! });
      res.end(String(uid));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('names the user who opened the connection: another user, and ourselves', async () => {
    const port = await ownerReporter();
    const other = await runFixtureAs<{ status: number; body: string }>(users.other, 'ports-http', ['get', `http://127.0.0.1:${port}/`]);
    expect(other.body).toBe(String(users.other.uid));
    const test = await runFixtureAs<{ status: number; body: string }>(users.test, 'ports-http', ['get', `http://127.0.0.1:${port}/`]);
    expect(test.body).toBe(String(users.test.uid));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe(String(process.getuid!()));
  });

  it('knows no owner for a connection that is not there (fail closed)', async () => {
    const port = await ownerReporter();
    expect(clientSocketUid({ address: '127.0.0.1', port: 1 }, { address: '127.0.0.1', port })).toBeUndefined();
    expect(clientSocketUid({ address: '127.0.0.1', port: 1 }, { address: '127.0.0.1', port }, ['/nonexistent/tcp'])).toBeUndefined();
  });
});
