import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, isWildcardAddress, portRuleRefusal } from './port-rule-check';
import { portEntrySchema, portRulesSchema, type PortEntry } from './port-rules';

const port = fc.integer({ min: 1, max: 65535 });
const entry: fc.Arbitrary<PortEntry> = fc.oneof(
  port,
  fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
);
const covers = (e: PortEntry, p: number): boolean => {
  if (typeof e === 'number') return e === p;
  const [lo, hi] = e.split('-').map(Number) as [number, number];
  return p >= lo && p <= hi;
};

describe('port rules', () => {
  it('deny wins over allow; allow, when given, is the whole list', () => {
    fc.assert(
      fc.property(fc.option(fc.array(entry, { maxLength: 6 }), { nil: undefined }), fc.array(entry, { maxLength: 6 }), port, (allow, deny, p) => {
        const refused = portRuleRefusal({ allow, deny }, { address: '127.0.0.1', port: p, protocol: 'tcp' }) !== undefined;
        const expected = deny.some((e) => covers(e, p)) || (allow !== undefined && !allow.some((e) => covers(e, p)));
        expect(refused).toBe(expected);
      }),
    );
  });

  it('says what refused, in words', () => {
    const rules = { allow: [80, '8000-8999'], deny: [8080], wildcardAddresses: false, udp: 'loopback' as const };
    const at = (address: string, p: number, protocol: 'tcp' | 'udp' = 'tcp') => portRuleRefusal(rules, { address, port: p, protocol });
    expect(at('127.0.0.1', 8080)).toBe('port 8080 is on its list of denied ports');
    expect(at('127.0.0.1', 443)).toBe('port 443 is not among its allowed ports (80, 8000-8999)');
    expect(at('0.0.0.0', 80)).toMatch(/every address/);
    expect(at('192.0.2.1', 80, 'udp')).toMatch(/loopback addresses only/);
    expect(at('::1', 80, 'udp')).toBeUndefined();
    expect(portRuleRefusal({ allow: [] }, { address: '127.0.0.1', port: 80, protocol: 'tcp' })).toBe('no port may be published');
    expect(portRuleRefusal(undefined, { address: '0.0.0.0', port: 53, protocol: 'udp' })).toBeUndefined();
    expect(portRuleRefusal(undefined, { address: '0.0.0.0', port: 53, protocol: 'udp' }, 'loopback')).toMatch(/loopback/);
  });

  it('refuses entries an admin could mistype, with a sentence', () => {
    for (const [bad, message] of [
      ['80-', /a port \(80\) or a range/],
      ['0-10', /1\.\.65535/],
      ['90-80', /runs backwards: write 80-90/],
      [0, /Too small|>=1/i],
      ['eighty', /a port \(80\) or a range/],
    ] as const) {
      const result = portEntrySchema.safeParse(bad);
      expect(result.success, String(bad)).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toMatch(message);
    }
    expect(portRulesSchema.safeParse({ allow: [80], extra: true }).success).toBe(false);
    expect(portRulesSchema.safeParse({ udp: 'everywhere' }).success).toBe(false);
  });

  it('knows loopback and wildcard addresses however they are spelled', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['128.0.0.1', '::2', '0.0.0.0', 'localhost']) expect(isLoopbackAddress(a), a).toBe(false);
    for (const a of ['0.0.0.0', '::', '0:0::0']) expect(isWildcardAddress(a), a).toBe(true);
    for (const a of ['127.0.0.1', '::1', 'x']) expect(isWildcardAddress(a), a).toBe(false);
  });
});
