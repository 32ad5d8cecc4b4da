import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { decodeAddress, parseProcNetTable } from './proc-net';

/**
 * The kernel's socket tables (T25, T27): the parser against rows written the
 * way the kernel writes them (fast-check), in either byte order.
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

describe('parseProcNetTable', () => {
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
        expect(parseProcNetTable(text, { littleEndian })).toEqual(
          rows.map((r) => ({
            local: { address: expected(r.local.address), port: r.local.port },
            remote: { address: expected(r.remote.address), port: r.remote.port },
            state: '01',
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
        expect(parseProcNetTable([HEADER, ...lines].join('\n'))).toEqual([]);
      }),
    );
    const good = '   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1';
    for (const bad of [
      good.replace('0100007F:1F90', '0100007:1F90'), // 7 hex digits
      good.replace('0100007F:1F90', '0100007F:1F9'), // short port
      good.replace(' 1000 ', ' -1 '), // uid not a number
      good.replace('0100007F:D431', 'ZZ00007F:D431'),
      good.split(' ').slice(0, 8).join(' '), // cut short
      good.replace(' 01 ', ' 1 '), // state not two hex digits
    ]) {
      expect(parseProcNetTable(`${HEADER}\n${bad}\n`, { littleEndian: true })).toEqual([]);
    }
    expect(parseProcNetTable(`${HEADER}\n${good}\n`, { littleEndian: true })).toEqual([
      { local: { address: '127.0.0.1', port: 8080 }, remote: { address: '127.0.0.1', port: 54321 }, state: '01', uid: 1000, inode: 4242 },
    ]);
  });

  it('decodes addresses as the kernel writes them on this machine and the other byte order', () => {
    expect(decodeAddress('0100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
    expect(decodeAddress('0000000000000000FFFF00000100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000', true)).toBe('::1');
    expect(decodeAddress('0100007G', true)).toBeUndefined();
  });
  it('keeps only the rows on one local port when asked, without decoding the others', () => {
    const at = (port: string, state: string) => `   0: 0100007F:${port} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 4242 1`;
    const text = [HEADER, at('0277', '0A'), at('0050', '0A'), at('0277', '01'), '   9: garbage:0277 x'].join('\n');
    expect(parseProcNetTable(text, { port: 631, littleEndian: true }).map((r) => r.state)).toEqual(['0A', '01']);
    expect(parseProcNetTable(text, { port: 80, littleEndian: true })).toHaveLength(1);
  });

  it('keeps only the rows whose remote port is the one asked for (the clients of one server)', () => {
    const row = (local: string, remote: string) => `   0: 0100007F:${local} 0100007F:${remote} 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1`;
    const text = [HEADER, row('D431', '1F90'), row('1F90', 'D431'), row('D432', '1F90'), row('D433', '0050')].join('\n');
    expect(parseProcNetTable(text, { remotePort: 8080, littleEndian: true }).map((r) => r.local.port)).toEqual([0xd431, 0xd432]);
  });
});
