import { isIP as nodeIsIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIP } from './node-net';

// The renderer validates addresses with this shim and the backend with Node's
// own isIP: if they disagreed, the form would accept what the backend refuses
// (or the reverse). So the two are compared on many inputs.
describe('renderer node:net shim', () => {
  it('agrees with node:net on well-formed addresses', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6()), (address) => {
        expect(isIP(address)).toBe(nodeIsIP(address));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with node:net on address-like noise', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEFxg:.%-/ '.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 45 }), (text) => {
        expect(isIP(text)).toBe(nodeIsIP(text));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['127.0.0.1', 4],
    ['0.0.0.0', 4],
    ['01.1.1.1', 0],
    ['256.1.1.1', 0],
    ['::', 6],
    ['::1', 6],
    ['::ffff:1.2.3.4', 6],
    ['fe80::1%eth0', 6],
    ['fe80::1%', 0],
    ['localhost', 0],
    ['', 0],
  ])('isIP(%j) is %i, as in Node', (address, expected) => {
    expect(isIP(address)).toBe(expected);
    expect(nodeIsIP(address)).toBe(expected);
  });
});
