import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_POLICY_BYTES } from '../protocol';
import {
  PolicyError,
  assertNewer,
  generateKeyPair,
  isNewerThan,
  keyIdOf,
  parsePolicyPayload,
  policyPayloadSchema,
  registryEntryProblem,
  signPolicy,
  verifyPolicy,
  verifySignature,
  type PolicyPayload,
} from '.';

const keys = generateKeyPair();
const other = generateKeyPair();
const NOW = new Date('2026-06-01T00:00:00Z');

function payload(overrides: Partial<PolicyPayload> = {}): PolicyPayload {
  return {
    organization: 'Acme Corp',
    version: 3,
    issued: '2026-05-01T00:00:00Z',
    expires: '2027-05-01T00:00:00Z',
    allowedRegistries: ['registry.acme.com', 'docker.io/library'],
    lockedSettings: { hostsEntries: true, cliToolsLocation: 'user' },
    ...overrides,
  };
}

function refusal(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error('expected a PolicyError');
}

/** Re-encodes the document with one field replaced (the signature is left as it was). */
function withField(document: string, field: string, value: unknown): string {
  return JSON.stringify({ ...(JSON.parse(document) as Record<string, unknown>), [field]: value });
}

describe('organization keys', () => {
  it('generates Ed25519 PEM pairs with a 16-hex key id of the DER SPKI', () => {
    expect(keys.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(keys.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(keys.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(keys.publicKeyPem)).toBe(keys.keyId);
    expect(keys.keyId).not.toBe(other.keyId);
  });

  it('refuses keys that are not Ed25519, and private keys where the public one belongs', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPublic = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsaPrivate = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(refusal(() => keyIdOf(rsaPublic))).toMatchObject({ kind: 'key', code: 'NOT_CONFIGURED' });
    expect(refusal(() => signPolicy(payload(), rsaPrivate)).message).toMatch(/not Ed25519/);
    expect(refusal(() => verifyPolicy(signPolicy(payload(), keys.privateKeyPem), keys.privateKeyPem, NOW)).message).toMatch(
      /private key/,
    );
    expect(refusal(() => keyIdOf('not a key')).code).toBe('NOT_CONFIGURED');
  });
});

describe('signPolicy / verifyPolicy', () => {
  it('round-trips: the document carries the exact signed payload bytes', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    const parsed = JSON.parse(document) as Record<string, string>;
    expect(Object.keys(parsed)).toEqual(['format', 'keyId', 'payload', 'signature']);
    expect(parsed.format).toBe('berth-policy/1');
    expect(parsed.keyId).toBe(keys.keyId);
    expect(JSON.parse(Buffer.from(parsed.payload!, 'base64').toString('utf8'))).toEqual(payload());
    const verified = verifyPolicy(document, keys.publicKeyPem, NOW);
    expect(verified).toMatchObject({ ...payload(), keyId: keys.keyId, document });
  });

  it('refuses a payload changed after signing (signature)', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    const forged = withField(document, 'payload', Buffer.from(JSON.stringify(payload({ allowedRegistries: ['evil.example'] }))).toString('base64'));
    const error = refusal(() => verifyPolicy(forged, keys.publicKeyPem, NOW));
    expect(error).toMatchObject({ kind: 'invalid', reason: 'signature', code: 'POLICY_INVALID' });
    expect(error.message).toMatch(/signature/);
  });

  it('refuses a policy signed by another key, whether or not the key id was forged', () => {
    const document = signPolicy(payload(), other.privateKeyPem);
    expect(refusal(() => verifyPolicy(document, keys.publicKeyPem, NOW))).toMatchObject({ reason: 'key-id', code: 'POLICY_INVALID' });
    const disguised = withField(document, 'keyId', keys.keyId);
    expect(refusal(() => verifyPolicy(disguised, keys.publicKeyPem, NOW))).toMatchObject({ reason: 'signature', code: 'POLICY_INVALID' });
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'policy'],
    ['an array', '[]'],
    ['null', 'null'],
    ['deeply nested', `${'['.repeat(100)}${']'.repeat(100)}`],
  ])('refuses %s as POLICY_INVALID', (_name, document) => {
    expect(refusal(() => verifyPolicy(document, keys.publicKeyPem, NOW)).code).toBe('POLICY_INVALID');
  });

  it('refuses other formats, unknown and missing fields, and prototype keys', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    expect(refusal(() => verifyPolicy(withField(document, 'format', 'berth-policy/2'), keys.publicKeyPem, NOW)).message).toMatch(
      /unsupported policy format "berth-policy\/2"/,
    );
    expect(refusal(() => verifyPolicy(withField(document, 'extra', 1), keys.publicKeyPem, NOW)).reason).toBe('format');
    const unsigned = JSON.parse(document) as Record<string, string>;
    delete unsigned.signature;
    expect(refusal(() => verifyPolicy(JSON.stringify(unsigned), keys.publicKeyPem, NOW)).message).toMatch(/signature: is required/);
    const polluted = document.replace('{', '{"__proto__":{"x":1},');
    expect(refusal(() => verifyPolicy(polluted, keys.publicKeyPem, NOW)).message).toMatch(/__proto__/);
  });

  it('refuses non-canonical base64 that would decode to the same bytes', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    const { signature } = JSON.parse(document) as { signature: string };
    // 64 bytes → 88 chars ending "=="; the last data character carries 4 unused bits.
    const last = signature[85]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    const sameBytes = signature.slice(0, 85) + twin + signature.slice(86);
    expect(Buffer.from(sameBytes, 'base64').equals(Buffer.from(signature, 'base64'))).toBe(true);
    expect(refusal(() => verifyPolicy(withField(document, 'signature', sameBytes), keys.publicKeyPem, NOW)).reason).toBe('format');
  });

  it('refuses a signed payload it does not understand rather than enforcing part of it', () => {
    const privateKey = keys.privateKeyPem;
    // Sign a payload with an extra field by hand, as a newer tool might.
    const bytes = Buffer.from(JSON.stringify({ ...payload(), allowedImages: ['x'] }));
    const document = JSON.stringify({
      format: 'berth-policy/1',
      keyId: keys.keyId,
      payload: bytes.toString('base64'),
      signature: sign(null, bytes, privateKey).toString('base64'),
    });
    expect(refusal(() => verifyPolicy(document, keys.publicKeyPem, NOW))).toMatchObject({ reason: 'payload', code: 'POLICY_INVALID' });
  });

  it('refuses an expired policy with POLICY_EXPIRED; issued in the future is accepted', () => {
    const expired = signPolicy(payload({ issued: '2025-01-01T00:00:00Z', expires: '2026-06-01T00:00:00Z' }), keys.privateKeyPem);
    expect(refusal(() => verifyPolicy(expired, keys.publicKeyPem, NOW))).toMatchObject({ kind: 'expired', code: 'POLICY_EXPIRED' });
    expect(verifySignature(expired, keys.publicKeyPem).version).toBe(3);
    const future = signPolicy(payload({ issued: '2026-07-01T00:00:00Z', expires: '2026-08-01T00:00:00Z' }), keys.privateKeyPem);
    expect(verifyPolicy(future, keys.publicKeyPem, NOW).issued).toBe('2026-07-01T00:00:00Z');
  });

  it('refuses to sign a policy larger than the helper accepts', () => {
    const many = Array.from({ length: 200 }, (_, i) => `registry-${i}.${'a'.repeat(200)}.example.com`);
    const error = refusal(() => signPolicy(payload({ allowedRegistries: many }), keys.privateKeyPem));
    expect(error.reason).toBe('too-large');
    expect(error.message).toContain(String(MAX_POLICY_BYTES));
  });

  it('fast-check: any single-byte change or truncation of a valid document is POLICY_INVALID', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    const bytes = Buffer.from(document);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const mutated = Buffer.from(bytes);
        mutated[at] = mutated[at]! ^ xor;
        const text = mutated.toString('utf8');
        let accepted = false;
        try {
          verifyPolicy(text, keys.publicKeyPem, NOW);
          accepted = true;
        } catch (error) {
          expect(error).toBeInstanceOf(PolicyError);
          expect((error as PolicyError).code).toBe('POLICY_INVALID');
        }
        expect(accepted).toBe(false);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.nat({ max: document.length - 1 }), (cut) => {
        expect(refusal(() => verifyPolicy(document.slice(0, cut), keys.publicKeyPem, NOW)).code).toBe('POLICY_INVALID');
      }),
    );
  });
});

describe('payload schema', () => {
  it('names every missing or bad field', () => {
    const missing: Partial<PolicyPayload> = payload();
    delete missing.expires;
    expect(refusal(() => parsePolicyPayload(missing)).message).toBe('payload: expires: is required');
    const bad = { ...payload(), version: 0, organization: 'a\u0007b', lockedSettings: { hostsEntries: 'yes' }, extra: 1 };
    const message = refusal(() => parsePolicyPayload(bad)).message;
    expect(message).toMatch(/organization: must be printable/);
    expect(message).toMatch(/version: /);
    expect(message).toMatch(/lockedSettings\.hostsEntries: /);
    expect(message).toMatch(/Unrecognized key: "extra"/);
  });

  it.each([
    ['expires before issued', { expires: '2026-04-01T00:00:00Z' }, /expires: must be later than issued/],
    ['a local-time date', { issued: '2026-05-01T00:00:00+02:00' }, /issued: must be an ISO-8601 UTC/],
    ['a date that does not exist', { expires: '2027-02-30T00:00:00Z' }, /expires: /],
    ['a fractional version', { version: 1.5 }, /version: /],
    ['a version beyond 2^31-1', { version: 2 ** 31 }, /version: /],
    ['an unknown locked setting', { lockedSettings: { telemetry: false } as PolicyPayload['lockedSettings'] }, /Unrecognized key/],
    ['an empty organization', { organization: '' }, /organization: /],
    ['a long organization', { organization: 'x'.repeat(101) }, /organization: /],
  ])('refuses %s', (_name, overrides, message) => {
    expect(refusal(() => parsePolicyPayload(payload(overrides))).message).toMatch(message);
  });

  it('accepts Unicode organization names, the version bounds and an empty allowlist', () => {
    for (const p of [payload({ organization: 'Société Générale — 東京' }), payload({ version: 1 }), payload({ version: 2 ** 31 - 1, allowedRegistries: [] })]) {
      expect(policyPayloadSchema.safeParse(p).success).toBe(true);
    }
  });

  it.each([
    ['registry.acme.com', undefined],
    ['registry.acme.com:5000', undefined],
    ['registry.acme.com/team/sub-team', undefined],
    ['localhost:5000/x', undefined],
    ['10.0.0.1:5000', undefined],
    ['[::1]:5000/app', undefined],
    ['Registry.acme.com', 'must be lowercase'],
    ['https://registry.acme.com', 'must not have a scheme'],
    ['*.acme.com', 'wildcards'],
    ['registry.acme.com/', 'must not end with "/"'],
    ['registry.acme.com:0', 'port must be 1..65535'],
    ['registry.acme.com:70000', 'port must be 1..65535'],
    ['registry..acme.com', 'must be a registry host'],
    ['registry.acme.com//team', 'must be a registry host'],
    ['-bad.acme.com', 'must be a registry host'],
    ['acme.com/Team', 'must be lowercase'],
    ['acme.com/te am', 'must be a registry host'],
  ])('allowlist entry %j', (entry, problem) => {
    const found = registryEntryProblem(entry);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});

describe('versions (POLICY_STALE)', () => {
  it('accepts only strictly higher versions than the cached one', () => {
    expect(isNewerThan({ version: 1 }, null)).toBe(true);
    expect(isNewerThan({ version: 1 }, undefined)).toBe(true);
    expect(isNewerThan({ version: 4 }, { version: 3 })).toBe(true);
    expect(isNewerThan({ version: 3 }, { version: 3 })).toBe(false);
    expect(isNewerThan({ version: 2 }, { version: 3 })).toBe(false);
    const error = refusal(() => assertNewer({ version: 2 }, { version: 3 }));
    expect(error).toMatchObject({ kind: 'stale', code: 'POLICY_STALE' });
    expect(error.message).toMatch(/version 2 .* cached version 3/);
  });

  it('key ids come from the DER SPKI, whatever the PEM text looks like', () => {
    const der = createPublicKey(keys.publicKeyPem).export({ type: 'spki', format: 'der' });
    const rewrapped = `-----BEGIN PUBLIC KEY-----\r\n${der.toString('base64')}\r\n-----END PUBLIC KEY-----\r\n`;
    expect(keyIdOf(rewrapped)).toBe(keys.keyId);
  });
});
