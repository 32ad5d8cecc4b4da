import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/backend-api';
import { mappingKey, mappingSpec } from './mapping';
import { forwardsToItself } from './self-loop';
import {
  describeKeyProblem,
  describeSpecProblem,
  formatListen,
  formatDockerMapping,
  formatMapping,
  looksLikeMapping,
  parseListen,
  parseMappingInput,
  parseMapping,
  parsePort,
  parseTarget,
} from './parse';

/** The ApiError a parse throws; fails the test if it parses. */
function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal, but it parsed');
}

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 1, max: 65535 });
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const hostname = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));

describe('parseListen', () => {
  it.each([
    ['80', { address: '127.0.0.1', port: 80 }],
    ['127.0.0.1:80', { address: '127.0.0.1', port: 80 }],
    ['0.0.0.0:443', { address: '0.0.0.0', port: 443 }],
    ['[::1]:8080', { address: '::1', port: 8080 }],
    ['[::]:80', { address: '::', port: 80 }],
    [' 65535 ', { address: '127.0.0.1', port: 65535 }],
  ])('%j → %j', (text, key) => {
    expect(parseListen(text)).toEqual(key);
  });

  it.each([
    ['0', 'port must be 1-65535 (got 0)'],
    ['70000', 'port must be 1-65535 (got 70000)'],
    ['127.0.0.1:70000', 'port must be 1-65535 (got 70000)'],
    ['99999999999999999999', 'port must be 1-65535 (got 999999999999…)'],
    ['http', 'port must be a number 1-65535 (got "http")'],
    ['-1', 'port must be a number 1-65535 (got "-1")'],
    ['8o', 'port must be a number 1-65535 (got "8o")'],
    ['127.0.0.1:', 'port is missing; give a number 1-65535'],
    ['', 'the listen address is empty; give [ADDR:]PORT, e.g. 80 or 127.0.0.1:80'],
    [':80', 'the listen address is empty; leave it out for 127.0.0.1, or give one such as 0.0.0.0'],
    [
      '127.0.0.x:80',
      '127.0.0.x is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
    ],
    [
      'localhost:80',
      'localhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
    ],
    ['::1:80', 'listen address "::1:80" is ambiguous; write an IPv6 address in brackets, e.g. [::1]:80'],
    ['[::1]80', 'listen address "[::1]80" needs ":PORT" after the bracketed address, e.g. [::1]:80'],
    ['[::1:80', 'listen address "[::1:80" has "[" without "]"; write IPv6 addresses as [::1]:80'],
    ['[127.0.0.1]:80', 'only IPv6 addresses go in brackets; write 127.0.0.1 without them'],
    ['[fe80::1%eth0]:80', '"fe80::1%eth0" has a zone id; use an address without "%…" (zone ids are not supported)'],
  ])('refuses %j: %s', (text, message) => {
    const error = refusal(() => parseListen(text));
    expect(error.code).toBe('INVALID');
    expect(error.message).toBe(message);
  });

  it('keeps error messages short for a pasted blob', () => {
    const error = refusal(() => parseListen(`${'x'.repeat(500)}:80`));
    expect(error.message.length).toBeLessThan(250);
  });

  it('round-trips every IPv4 and IPv6 address and port through formatListen', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), port, (address, p) => {
        const key = { address, port: p };
        expect(parseListen(formatListen(key))).toEqual(key);
      }),
    );
  });

  it('accepts only what the shared schema accepts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        let key;
        try {
          key = parseListen(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          return;
        }
        expect(mappingKey.safeParse(key).success).toBe(true);
      }),
    );
  });
});

describe('parseTarget and parsePort', () => {
  it('defaults the target host to 127.0.0.1 and takes names and literals', () => {
    expect(parseTarget('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseTarget('localhost:8080')).toEqual({ host: 'localhost', port: 8080 });
    expect(parseTarget('[::1]:3000')).toEqual({ host: '::1', port: 3000 });
    expect(parseTarget('db.internal:5432')).toEqual({ host: 'db.internal', port: 5432 });
  });

  it.each([
    ['localhost:0', 'target port must be 1-65535 (got 0)'],
    ['under_score:80', 'the target host "under_score" is not a valid hostname or IP address'],
    ['-bad.example:80', 'the target host "-bad.example" is not a valid hostname or IP address'],
    ['[example.com]:80', 'only IPv6 addresses go in brackets (got [example.com])'],
    ['', 'the target is empty; give [HOST:]PORT, e.g. 8080 or localhost:8080'],
  ])('refuses target %j: %s', (text, message) => {
    expect(refusal(() => parseTarget(text)).message).toBe(message);
  });

  it('parses every port 1-65535 and nothing else', () => {
    fc.assert(
      fc.property(port, (p) => {
        expect(parsePort(String(p))).toBe(p);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -100000, max: 200000 }).filter((n) => n < 1 || n > 65535), (n) => {
        expect(refusal(() => parsePort(String(n))).code).toBe('INVALID');
      }),
    );
  });
});

describe('parseMapping', () => {
  it.each([
    ['80=8080', { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: 8080 } }],
    ['127.0.0.1:80=localhost:8080', { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } }],
    ['[::1]:443=[::1]:8443', { address: '::1', port: 443, target: { host: '::1', port: 8443 } }],
    ['0.0.0.0:80=web:80', { address: '0.0.0.0', port: 80, target: { host: 'web', port: 80 } }],
  ])('%j → %j', (text, spec) => {
    expect(parseMapping(text)).toEqual(spec);
  });

  it.each([
    ['80', '"80" says where to listen but not where to forward; write [ADDR:]PORT=[HOST:]PORT or Docker\'s [ADDR:]HOST_PORT:TARGET_PORT, e.g. 80:8080'],
    ['80=8080=9090', '"80=8080=9090" has more than one "="; write [ADDR:]PORT=[HOST:]PORT, e.g. 127.0.0.1:80=localhost:8080'],
    ['70000=8080', 'port must be 1-65535 (got 70000)'],
    ['80=localhost:70000', 'target port must be 1-65535 (got 70000)'],
    [
      'myhost:80=8080',
      'myhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
    ],
  ])('refuses %j: %s', (text, message) => {
    expect(refusal(() => parseMapping(text)).message).toBe(message);
  });

  it('round-trips every valid spec through formatMapping', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), port, fc.oneof(ipv4, ipv6, hostname), port, fc.boolean(), (address, p, host, targetPort, udp) => {
        const spec = { address, port: p, target: { host, port: targetPort }, ...(udp ? { protocol: 'udp' as const } : {}) };
        fc.pre(!forwardsToItself(spec));
        expect(mappingSpec.safeParse(spec).success).toBe(true);
        expect(parseMappingInput(formatMapping(spec))).toEqual({ spec });
      }),
    );
  });

  it('never throws anything but a one-line ApiError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          expect(mappingSpec.safeParse(parseMapping(text)).success).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          expect((error as ApiError).message).not.toContain('\n');
        }
      }),
    );
  });
});

describe('describeSpecProblem / describeKeyProblem', () => {
  it('words schema failures like the parser does', () => {
    const base = { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } };
    expect(describeSpecProblem(base)).toBeUndefined();
    expect(describeSpecProblem({ ...base, port: 0 })).toBe('port must be 1-65535 (got 0)');
    expect(describeSpecProblem({ ...base, port: 70000 })).toBe('port must be 1-65535 (got 70000)');
    expect(describeSpecProblem({ ...base, address: 'localhost' })).toBe(
      'localhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
    );
    expect(describeSpecProblem({ ...base, target: { host: 'a b', port: 1 } })).toBe(
      'the target host must be a hostname or an IP address (got "a b")',
    );
    expect(describeSpecProblem({ ...base, target: { host: 'x', port: 1.5 } })).toBe('target port must be 1-65535 (got 1.5)');
    expect(describeSpecProblem({ ...base, extra: 1 })).toMatch(/^the mapping is not valid: /);
    expect(describeKeyProblem({ address: '10.0.0.1', port: 65536 })).toBe('port must be 1-65535 (got 65536)');
    expect(describeKeyProblem({ address: '10.0.0.1', port: 1 })).toBeUndefined();
    expect(describeKeyProblem({ address: '10.0.0.1', port: 1, protocol: 'udp' })).toBeUndefined();
    expect(describeSpecProblem({ ...base, protocol: 'sctp' })).toBe('protocol must be "tcp" or "udp" (got "sctp")');
  });
});

const BOTH = 'write [ADDR:]PORT=[HOST:]PORT or Docker\'s [ADDR:]HOST_PORT:TARGET_PORT';

describe("parseMappingInput: Docker's [ADDR:]HOST_PORT:TARGET_PORT", () => {
  it.each([
    ['8080:80', { address: '127.0.0.1', port: 8080, target: { host: '127.0.0.1', port: 80 } }],
    ['80:3000', { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: 3000 } }],
    ['8080:80/tcp', { address: '127.0.0.1', port: 8080, target: { host: '127.0.0.1', port: 80 } }],
    ['8080:80/TCP', { address: '127.0.0.1', port: 8080, target: { host: '127.0.0.1', port: 80 } }],
    ['0.0.0.0:8080:80', { address: '0.0.0.0', port: 8080, target: { host: '127.0.0.1', port: 80 } }],
    ['[::1]:80:3000', { address: '::1', port: 80, target: { host: '127.0.0.1', port: 3000 } }],
    ['[::]:80:3000/tcp', { address: '::', port: 80, target: { host: '127.0.0.1', port: 3000 } }],
  ])('%j → %j, and says how it was understood', (text, spec) => {
    const parsed = parseMappingInput(text);
    expect(parsed.spec).toEqual(spec);
    expect(parsed.understood).toBe(`Understood ${JSON.stringify(text)} as ${formatListen(spec)} → ${spec.target.host}:${spec.target.port}.`);
  });

  it('takes /tcp on Berth\'s own form too, and says nothing extra for it', () => {
    expect(parseMappingInput('80=8080/tcp')).toEqual({ spec: { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: 8080 } } });
  });

  it.each([
    ['5353:53/udp', { address: '127.0.0.1', port: 5353, protocol: 'udp', target: { host: '127.0.0.1', port: 53 } }, '127.0.0.1:5353/udp'],
    ['0.0.0.0:53:5353/udp', { address: '0.0.0.0', port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } }, '0.0.0.0:53/udp'],
    ['[::1]:53:5353/udp', { address: '::1', port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } }, '[::1]:53/udp'],
    ['[::]:53:5353/Udp', { address: '::', port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } }, '[::]:53/udp'],
  ])("Docker's UDP form %j → %j (%s)", (text, spec, id) => {
    const parsed = parseMappingInput(text);
    expect(parsed.spec).toEqual(spec);
    expect(formatListen(parsed.spec)).toBe(id);
    expect(parsed.understood).toBe(`Understood ${JSON.stringify(text)} as ${id} → 127.0.0.1:${spec.target.port}.`);
  });

  it("takes /udp on Berth's own form, IPv6 targets included, and formats it back", () => {
    const spec = { address: '::1', port: 53, protocol: 'udp', target: { host: '::1', port: 5353 } };
    expect(parseMappingInput('[::1]:53=[::1]:5353/udp')).toEqual({ spec });
    expect(formatMapping(parseMapping('[::1]:53=[::1]:5353/udp'))).toBe('[::1]:53=[::1]:5353/udp');
    expect(parseMapping('53=localhost:5353/udp')).toEqual({ address: '127.0.0.1', port: 53, protocol: 'udp', target: { host: 'localhost', port: 5353 } });
    expect(refusal(() => parseMappingInput('5353=5353/udp')).message).toMatch(/^127\.0\.0\.1:5353\/udp → 127\.0\.0\.1:5353 forwards to itself, so every datagram would be sent back to it without end/);
  });

  it.each([
    ['8080:80/sctp', '"8080:80/sctp" ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP'],
    ['8080:80/', '"8080:80/" ends in "/" without a protocol; write /tcp or /udp, or leave it out for TCP'],
    ['53/udp=5353', 'put /udp at the end of the mapping, e.g. "53=5353/udp"'],
    ['5353/udp:53', '"5353/udp:53" ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP'],
    ['5353:53/udp/udp', '"5353:53/udp/udp" has more than one "/"; give the protocol once, at the end, e.g. 5353:53/udp'],
    ['127.0.0.1:80', `"127.0.0.1:80" says where to listen but not where to forward; ${BOTH}, e.g. 127.0.0.1:80=8080`],
    ['[::1]:80', `"[::1]:80" says where to listen but not where to forward; ${BOTH}, e.g. [::1]:80:8080`],
    ['127.0.0.1:8080', `"127.0.0.1:8080" says where to listen but not where to forward; ${BOTH}, e.g. 127.0.0.1:8080=3000`],
    ['localhost:80', `"localhost:80" says where to listen but not where to forward; ${BOTH}, e.g. 8080:80`],
    ['127.0.0.1::80', '"127.0.0.1::80" has no port to listen on; Berth does not pick one for you, so give it, e.g. 127.0.0.1:8080:80'],
    [':80', '":80" has no port to listen on; Berth does not pick one for you, so give it, e.g. 8080:80'],
    ['localhost:8080:80', 'localhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)'],
    ['::1:8080:80', '"::1:8080:80" is ambiguous; write an IPv6 address in brackets, e.g. [::1]:8080:80'],
    ['[::1]:8080:80:1', `"[::1]:8080:80:1" has too many ":"; ${BOTH}, e.g. [::1]:8080:80`],
    ['[::1', '"[::1" has "[" without "]"; write IPv6 addresses in brackets, e.g. [::1]:8080:80'],
    ['[1.2.3.4]:80:81', 'only IPv6 addresses go in brackets; write 1.2.3.4 without them'],
    ['8080:70000', 'target port must be 1-65535 (got 70000)'],
    ['', `the mapping is empty; ${BOTH}, e.g. 8080=80 or 8080:80`],
  ])('refuses %j: %s', (text, message) => {
    expect(refusal(() => parseMappingInput(text)).message).toBe(message);
  });

  it.each(['8089=8089', '8089:8089', '127.0.0.1:8089=localhost:8089', '0.0.0.0:8089:8089', '[::]:8089=127.0.0.1:8089', '[::1]:8089=localhost:8089'])(
    'refuses %j: it forwards to itself',
    (text) => {
      expect(refusal(() => parseMappingInput(text)).message).toMatch(/forwards to itself, so every connection would open another without end; give a different target port/);
    },
  );

  it('round-trips every Docker-form spec (with or without /tcp or /udp) and says how it understood it', () => {
    fc.assert(
      fc.property(fc.option(fc.oneof(ipv4, ipv6)), port, port, fc.constantFrom('', '/tcp', '/udp', '/UDP'), (address, p, targetPort, suffix) => {
        const udp = suffix.toLowerCase() === '/udp';
        const spec = { address: address ?? '127.0.0.1', port: p, target: { host: '127.0.0.1', port: targetPort }, ...(udp ? { protocol: 'udp' as const } : {}) };
        fc.pre(!forwardsToItself(spec));
        const text = address === null ? `${p}:${targetPort}${suffix}` : `${formatDockerMapping({ ...spec, protocol: 'tcp' })!}${suffix}`;
        const parsed = parseMappingInput(text);
        expect(parsed.spec).toEqual(spec);
        if (udp) expect(formatDockerMapping(spec)).toBe(`${formatDockerMapping({ ...spec, protocol: 'tcp' })!}/udp`);
        expect(parsed.understood).toContain(`as ${formatListen(spec)} → 127.0.0.1:${targetPort}`);
        expect(formatListen(spec).endsWith('/udp')).toBe(udp);
        expect(looksLikeMapping(text)).toBe(true);
      }),
    );
  });

  it('never throws anything but a one-line ApiError on arbitrary or port-like input', () => {
    const portish = fc
      .array(fc.constantFrom('8', '0', '1', ':', '::', '[', ']', '=', '.', '/tcp', '/udp', '/', 'a', '%', ' ', '127.0.0.1', '::1', 'localhost'), { maxLength: 12 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), portish), (text) => {
        for (const parse of [parseMappingInput, parseListen]) {
          try {
            const value = parse(text);
            expect(parse === parseListen ? mappingKey.safeParse(value).success : mappingSpec.safeParse((value as { spec: unknown }).spec).success).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(ApiError);
            expect((error as ApiError).message).not.toContain('\n');
            expect((error as ApiError).message.length).toBeLessThan(400);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseListen and mappings', () => {
  it.each(['8080:80', '80=8080', '0.0.0.0:8080:80', '[::1]:8080:80', '8080:80/tcp'])('refuses the mapping %j where only a listen address goes', (text) => {
    expect(refusal(() => parseListen(text)).message).toBe(
      `${JSON.stringify(text)} is a mapping (where to listen and where to forward); give only where to listen, [ADDR:]PORT, e.g. 80 or 127.0.0.1:80`,
    );
  });

  it('takes /tcp (the same as none) and /udp, with IPv6 brackets too', () => {
    expect(parseListen('80/tcp')).toEqual({ address: '127.0.0.1', port: 80 });
    expect(parseListen('53/udp')).toEqual({ address: '127.0.0.1', port: 53, protocol: 'udp' });
    expect(parseListen('0.0.0.0:53/UDP')).toEqual({ address: '0.0.0.0', port: 53, protocol: 'udp' });
    expect(parseListen('[::1]:5353/udp')).toEqual({ address: '::1', port: 5353, protocol: 'udp' });
    expect(formatListen({ address: '::1', port: 5353, protocol: 'udp' })).toBe('[::1]:5353/udp');
    expect(refusal(() => parseListen('5353:53/udp')).message).toBe(
      '"5353:53/udp" is a mapping (where to listen and where to forward); give only where to listen, [ADDR:]PORT, e.g. 80 or 127.0.0.1:80',
    );
    expect(refusal(() => parseListen('53/quic')).message).toBe('"53/quic" ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP');
  });
});
