import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors';
import { MAX_JSON_DEPTH, parseJson, validateRequest, RequestError } from './messages';
import { negotiateVersion } from './version';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const hello = { id: 1, op: 'hello', args: { protocol: [1, 1], client: 'test' } };
const bind = { id: 2, op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' } };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof ProtocolError ? error.code : 'not a ProtocolError';
  }
  return undefined;
}

describe('request validation', () => {
  it('accepts well-formed hello and bindPort requests', () => {
    expect(validateRequest(parseJson(json(hello)))).toEqual(hello);
    expect(validateRequest(parseJson(json(bind)))).toEqual(bind);
    expect(validateRequest(parseJson(json({ ...bind, args: { ...bind.args, address: '::1', protocol: 'udp' } }))).op).toBe(
      'bindPort',
    );
  });

  it('refuses unknown fields at every level', () => {
    expect(codeOf(() => validateRequest({ ...hello, extra: 1 }))).toBe('BAD_REQUEST');
    expect(codeOf(() => validateRequest({ ...bind, args: { ...bind.args, reuse: true } }))).toBe('BAD_REQUEST');
  });

  it('refuses prototype-reaching keys anywhere, even where the schema would ignore them', () => {
    for (const text of [
      '{"id":1,"op":"hello","args":{"__proto__":{"admin":true}}}',
      '{"__proto__":1,"id":1,"op":"hello","args":{}}',
      '{"id":1,"op":"hello","args":{"protocol":[1,1],"client":"x","constructor":{"prototype":{}}}}',
      // Escaped spelling: JSON.parse decodes it to __proto__, so the check must come after parsing.
      '{"id":1,"op":"hello","args":{"\\u005f_proto__":{"admin":true}}}',
      '{"id":1,"op":"hello","args":{"list":[{"a":[{"__proto__":1}]}]}}',
    ]) {
      expect(() => parseJson(Buffer.from(text))).toThrow(/not allowed/);
    }
  });

  it('refuses deep JSON before parsing it', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseJson(Buffer.from(deep))).toThrow(`deeper than ${MAX_JSON_DEPTH}`);
    // Brackets inside strings do not count.
    expect(parseJson(Buffer.from(JSON.stringify({ s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' })))).toEqual({
      s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    });
  });

  it('refuses invalid UTF-8 and invalid JSON with BAD_REQUEST', () => {
    expect(codeOf(() => parseJson(Buffer.from([0x7b, 0xff, 0x7d])))).toBe('BAD_REQUEST');
    expect(codeOf(() => parseJson(Buffer.from('{"id":')))).toBe('BAD_REQUEST');
  });

  it('names an unknown op as UNKNOWN_OP and keeps the request id', () => {
    let error: unknown;
    try {
      validateRequest({ id: 7, op: 'runShell', args: { command: 'id' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).code).toBe('UNKNOWN_OP');
    expect((error as RequestError).id).toBe(7);
  });

  it.each([
    ['hostname', { address: 'localhost' }],
    ['IPv4 range', { address: '127.0.0.0/8' }],
    ['zone id', { address: 'fe80::1%eth0' }],
    ['short IPv4', { address: '127.1' }],
    ['empty address', { address: '' }],
    ['numeric address', { address: 2130706433 }],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['port 70000', { port: 70000 }],
    ['fractional port', { port: 80.5 }],
    ['port as string', { port: '80' }],
    ['negative port', { port: -1 }],
    ['port range', { port: '80-90' }],
    ['protocol sctp', { protocol: 'sctp' }],
    ['protocol uppercase', { protocol: 'TCP' }],
    ['missing protocol', { protocol: undefined }],
  ])('refuses bindPort with a bad field: %s', (_name, change) => {
    const args = { ...bind.args, ...change };
    expect(codeOf(() => validateRequest({ ...bind, args }))).toBe('BAD_REQUEST');
  });

  it('refuses malformed envelopes', () => {
    for (const bad of [null, [], 'hello', { id: -1, op: 'hello', args: {} }, { id: 1.5, op: 'hello', args: {} }, { id: 1, op: 'hello' }, { id: 1, op: 'hello', args: [] }]) {
      expect(codeOf(() => validateRequest(bad))).toBe('BAD_REQUEST');
    }
  });

  it('never throws anything but a ProtocolError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const code = codeOf(() => validateRequest(value));
        expect(code === undefined || code === 'BAD_REQUEST' || code === 'UNKNOWN_OP').toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const code = codeOf(() => validateRequest(parseJson(Buffer.from(bytes))));
        expect(code === undefined || code === 'BAD_REQUEST' || code === 'UNKNOWN_OP').toBe(true);
      }),
    );
  });

  it('accepts exactly the bindPort requests with a literal address, a port in range and tcp|udp', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
        fc.integer({ min: -10, max: 70_000 }),
        fc.constantFrom('tcp', 'udp', 'sctp', ''),
        (address, port, protocol) => {
          const expectOk =
            (/^\d+\.\d+\.\d+\.\d+$/.test(address) || address.includes(':')) &&
            !address.includes('%') &&
            port >= 1 &&
            port <= 65535 &&
            (protocol === 'tcp' || protocol === 'udp');
          const code = codeOf(() => validateRequest({ id: 1, op: 'bindPort', args: { address, port, protocol } }));
          if (!expectOk) expect(code).toBe('BAD_REQUEST');
          if (code === undefined) expect(expectOk).toBe(true);
        },
      ),
    );
  });
});

describe('version negotiation', () => {
  it('picks the highest common version', () => {
    expect(negotiateVersion([1, 1])).toBe(1);
    expect(negotiateVersion([1, 9])).toBe(1);
  });

  it('says the helper needs an update when the app is newer', () => {
    expect(() => negotiateVersion([2, 3])).toThrow(/helper needs update/);
  });

  it('says the app needs an update when it is older than the helper can serve', () => {
    expect(() => negotiateVersion([0, 0])).toThrow(/update Berth/);
  });
});
