import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../common/api/backend-api';
import type { MappingSpec } from '../../../common/ports/mapping';
import { explainOwnHolder, mayHold, ownHolder } from './own-holder';

const target = { host: 'localhost', port: 3000 };
const listening = (address: string, port = 8080): MappingSpec => ({ address, port, target });

describe('ownHolder', () => {
  it.each([
    ['a specific address under our any-address', '127.0.0.1', ['0.0.0.0'], '0.0.0.0'],
    ['the any-address over our specific one', '0.0.0.0', ['127.0.0.1'], '127.0.0.1'],
    ['IPv6 the same way', '::1', ['::'], '::'],
    ['IPv6 any-address over ours on ::1', '::', ['::1'], '::1'],
  ])('%s', (_what, address, ours, holder) => {
    expect(ownHolder({ address, port: 8080 }, ours.map((a) => listening(a)))?.address).toBe(holder);
  });

  it.each([
    ['another port', '127.0.0.1', [listening('0.0.0.0', 8081)]],
    ['the other family (IPv6 sockets are IPv6-only)', '127.0.0.1', [listening('::')]],
    ['two specific addresses (they do not overlap)', '127.0.0.1', [listening('127.0.0.2')]],
    ['nothing of ours listening', '127.0.0.1', []],
  ])('not for %s', (_what, address, ours) => {
    expect(ownHolder({ address, port: 8080 }, ours)).toBeUndefined();
  });
});

describe('mayHold', () => {
  it.each([
    ['the same address', { address: '127.0.0.1', port: 80 }, { address: '127.0.0.1', port: 80 }, true],
    ['an any-address holder', { address: '0.0.0.0', port: 80 }, { address: '127.0.0.1', port: 80 }, true],
    ['an any-address wanted', { address: '::1', port: 80 }, { address: '::', port: 80 }, true],
    ['UDP beside TCP', { address: '127.0.0.1', port: 53, protocol: 'udp' as const }, { address: '127.0.0.1', port: 53 }, false],
    ['IPv6 beside IPv4 (IPv6-only sockets)', { address: '::', port: 80 }, { address: '0.0.0.0', port: 80 }, false],
    ['two specific addresses', { address: '127.0.0.2', port: 80 }, { address: '127.0.0.1', port: 80 }, false],
    ['another port', { address: '0.0.0.0', port: 81 }, { address: '127.0.0.1', port: 80 }, false],
  ])('%s', (_what, holder, wanted, holds) => {
    expect(mayHold(holder, wanted)).toBe(holds);
  });
});

describe('explainOwnHolder', () => {
  const inUse = new ApiError('PORT_IN_USE', '127.0.0.1:8080 is already in use by another program');

  it("names Berth's own mapping instead of 'another program'", () => {
    const explained = explainOwnHolder(inUse, { address: '127.0.0.1', port: 8080 }, [listening('0.0.0.0')]);
    expect(explained).toMatchObject({
      code: 'PORT_IN_USE',
      message: "127.0.0.1:8080 is in use by Berth's own mapping 0.0.0.0:8080 (to localhost:3000): remove one of the two",
    });
  });

  it('leaves other errors, and a port in use with no holder of ours, as they are', () => {
    const locked = new ApiError('LOCKED', 'not allowed');
    expect(explainOwnHolder(locked, { address: '127.0.0.1', port: 8080 }, [listening('0.0.0.0')])).toBe(locked);
    expect(explainOwnHolder(inUse, { address: '127.0.0.1', port: 8080 }, [listening('127.0.0.2')])).toBe(inUse);
  });
});
