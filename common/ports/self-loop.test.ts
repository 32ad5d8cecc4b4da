import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardsToItself } from './self-loop';

const spec = (address: string, host: string, port = 8089, targetPort = port) => ({ address, port, target: { host, port: targetPort } });

describe('forwardsToItself', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.0.0.1', 'localhost'],
    ['127.0.0.1', 'LocalHost.'],
    ['127.0.0.1', 'app.localhost'],
    ['127.0.0.1', '::ffff:127.0.0.1'],
    ['127.0.0.1', '0.0.0.0'],
    ['::1', '0:0::1'],
    ['::1', 'localhost'],
    ['::1', '::'],
    ['0.0.0.0', '127.0.0.1'],
    ['0.0.0.0', '127.1.2.3'],
    ['0.0.0.0', 'localhost'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::1'],
    ['::', '127.0.0.1'],
    ['::', '0.0.0.0'],
    ['10.1.2.3', '10.1.2.3'],
  ])('%s → %s on the same port loops', (address, host) => {
    expect(forwardsToItself(spec(address, host))).toBe(true);
  });

  it('counts this machine\'s own addresses for an any-address listener', () => {
    expect(forwardsToItself(spec('0.0.0.0', '192.168.5.7'), ['192.168.5.7'])).toBe(true);
    expect(forwardsToItself(spec('0.0.0.0', '192.168.5.7'), ['192.168.5.8'])).toBe(false);
  });

  it.each([
    ['127.0.0.2', 'localhost'],
    ['127.0.0.2', '127.0.0.1'],
    ['127.0.0.1', '::1'],
    ['127.0.0.1', 'web'],
    ['10.1.2.3', '10.1.2.4'],
  ])('%s → %s is another socket', (address, host) => {
    expect(forwardsToItself(spec(address, host))).toBe(false);
  });

  it('never calls a mapping to another port a loop', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('localhost')), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), (address, host, p, q) => {
        fc.pre(p !== q);
        expect(forwardsToItself(spec(address, host, p, q))).toBe(false);
      }),
    );
  });
});
