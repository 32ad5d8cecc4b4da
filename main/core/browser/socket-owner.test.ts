import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import { isIPv6, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runFixtureAs } from '../../../test/support/processes';
import { clientSocketUid, decodeAddress, parseProcNetTcp } from './socket-owner';

/**
 * The kernel's socket tables as browser mode reads them (T25): the parser
 * against rows written the way the kernel writes them (fast-check), and the
 * real tables telling a connection from another user from one of our own.
 */

/** An address as the kernel prints it: each 32-bit word in the host's byte order. */
function encodeAddress(address: string, littleEndian: boolean): string {
  const bytes = isIPv6(address) ? ipv6Bytes(address) : address.split('.').map(Number);
  let hex = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.slice(i, i + 4);
    for (const b of littleEndian ? word.reverse() : word) hex += b.toString(16).padStart(2, '0').toUpperCase();
  }
  return hex;
}

function ipv6Bytes(written: string): number[] {
  // A dotted IPv4 tail (::ffff:1.2.3.4) is two groups.
  const address = written.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff]);
}

const canonical = (address: string): string => (isIPv6(address) ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address);

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

describe('parseProcNetTcp', () => {
  const row = fc.record({
    local: fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 0, max: 65535 }) }),
    remote: fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 0, max: 65535 }) }),
    uid: fc.integer({ min: 0, max: 2 ** 32 - 2 }),
    inode: fc.integer({ min: 0, max: 2 ** 31 }),
  });

  it('reads back every row the kernel could print, in either byte order', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), fc.boolean(), (rows, littleEndian) => {
        const text = [
          HEADER,
          ...rows.map((r, i) => {
            const ep = (e: { address: string; port: number }) =>
              `${encodeAddress(e.address, littleEndian)}:${e.port.toString(16).padStart(4, '0').toUpperCase()}`;
            return `  ${i}: ${ep(r.local)} ${ep(r.remote)} 01 00000000:00000000 00:00000000 00000000 ${String(r.uid).padStart(5)}        0 ${r.inode} 1 0000000000000000 20 4 30 10 -1`;
          }),
          '',
        ].join('\n');
        // IPv4-mapped IPv6 reads as plain IPv4, as Node reports it for a dual-stack socket.
        const expected = (address: string): string => {
          const c = canonical(address);
          return /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(c) ? c.slice(7) : c;
        };
        expect(parseProcNetTcp(text, littleEndian)).toEqual(
          rows.map((r) => ({
            local: { address: expected(r.local.address), port: r.local.port },
            remote: { address: expected(r.remote.address), port: r.remote.port },
            uid: r.uid,
            inode: r.inode,
          })),
        );
      }),
    );
  });

  it('skips lines that do not have the kernel\'s shape, whatever they hold', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 200 }).filter((l) => !/^\s*\d+:/.test(l))), (lines) => {
        expect(parseProcNetTcp([HEADER, ...lines].join('\n'))).toEqual([]);
      }),
    );
    const good = '   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1';
    for (const bad of [
      good.replace('0100007F:1F90', '0100007:1F90'), // 7 hex digits
      good.replace('0100007F:1F90', '0100007F:1F9'), // short port
      good.replace(' 1000 ', ' -1 '), // uid not a number
      good.replace('0100007F:D431', 'ZZ00007F:D431'),
      good.split(' ').slice(0, 8).join(' '), // cut short
    ]) {
      expect(parseProcNetTcp(`${HEADER}\n${bad}\n`, true)).toEqual([]);
    }
    expect(parseProcNetTcp(`${HEADER}\n${good}\n`, true)).toEqual([
      { local: { address: '127.0.0.1', port: 8080 }, remote: { address: '127.0.0.1', port: 54321 }, uid: 1000, inode: 4242 },
    ]);
  });

  it('decodes addresses as the kernel writes them on this machine and the other byte order', () => {
    expect(decodeAddress('0100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
    expect(decodeAddress('0000000000000000FFFF00000100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000', true)).toBe('::1');
    expect(decodeAddress('0100007G', true)).toBeUndefined();
  });
});

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
