import { describe, expect, it } from 'vitest';
import { holdersIn, reachSameNames, shadowedHolder } from './holders';

/** An address as the kernel prints it in /proc/net: each 32-bit word in host order (little-endian here). */
function procHex(bytes: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 4) out.push(Buffer.from(bytes.slice(i, i + 4).reverse()).toString('hex').toUpperCase());
  return out.join('');
}

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (local: string, remote: string, state: string, uid: number): string =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 11158 1 0000000029990466 100 0 0 10 0`;

describe('who holds a port, from /proc/net', () => {
  it('lists TCP listeners (not connections) and every UDP socket on the port, with their owners', () => {
    const table = [
      HEADER,
      row('0100007F:0277', '00000000:0000', '0A', 0), // 127.0.0.1:631 listening, root
      row('0100007F:0277', '0100007F:D2A0', '01', 1000), // a connection from that port: not a service
      row('00000000:0050', '00000000:0000', '0A', 999), // 0.0.0.0:80
      'garbage line',
    ].join('\n');
    expect(holdersIn(table, 631, 'tcp', true)).toEqual([{ address: '127.0.0.1', port: 631, uid: 0 }]);
    expect(holdersIn(table, 631, 'udp', true)).toHaveLength(2);
    expect(holdersIn(table, 80, 'tcp', true)).toEqual([{ address: '0.0.0.0', port: 80, uid: 999 }]);
  });

  it("sees a dual-stack socket on ::ffff:127.0.0.1 as 127.0.0.1, so a user's [::1] cannot shadow it", () => {
    const tcp6 = [HEADER, row(`${procHex([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1])}:0277`, `${'0'.repeat(32)}:0000`, '0A', 0)].join('\n');
    const holders = holdersIn(tcp6, 631, 'tcp', true);
    expect(holders).toEqual([{ address: '127.0.0.1', port: 631, uid: 0 }]);
    expect(shadowedHolder('::1', holders, 1000)).toEqual(holders[0]);
  });
});

describe('which addresses the same names reach', () => {
  const cases: Array<[string, string, boolean]> = [
    ['127.0.0.1', '::1', true],
    ['::1', '127.0.0.1', true],
    ['0.0.0.0', '::1', true],
    ['::', '127.0.0.1', true],
    ['0.0.0.0', '::', true],
    ['::', '192.168.1.5', true],
    ['127.0.0.1', '127.0.0.1', true],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['127.0.0.1', '127.0.0.2', false],
    ['192.168.1.5', '::1', false],
    ['192.168.1.5', '192.168.1.6', false],
  ];
  it.each(cases)('%s and %s: %s', (a, b, expected) => {
    expect(reachSameNames(a, b)).toBe(expected);
  });

  it("never counts the caller's own sockets", () => {
    const holders = [{ address: '127.0.0.1', port: 80, uid: 1000 }];
    expect(shadowedHolder('::1', holders, 1000)).toBeUndefined();
    expect(shadowedHolder('::1', holders, 1001)).toEqual(holders[0]);
  });
});
