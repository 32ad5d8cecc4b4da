import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { safeScratchDir } from '../../test/support/scratch';
import { POLICY_CACHE_NAME, generateKeyPair, policyInForce, readCachedPolicy, signPolicy, type PolicyPayload } from '.';

const users = inject('users');
const keys = generateKeyPair();
const other = generateKeyPair();


function payload(overrides: Partial<PolicyPayload> = {}): PolicyPayload {
  return {
    organization: 'Acme Corp',
    version: 7,
    issued: '2026-01-01T00:00:00Z',
    expires: '2030-01-01T00:00:00Z',
    allowedRegistries: ['registry.acme.com'],
    lockedSettings: { startAtLogin: false },
    ...overrides,
  };
}

let stateDir: string;
let cachePath: string;

function writeCache(content: string, mode = 0o644): void {
  writeFileSync(cachePath, content, { mode });
  chmodSync(cachePath, mode);
}

beforeEach(() => {
  stateDir = join(safeScratchDir('berth-policy-cache'), 'state');
  mkdirSync(stateDir, { mode: 0o755 });
  chmodSync(stateDir, 0o755);
  cachePath = join(stateDir, POLICY_CACHE_NAME);
});

describe('readCachedPolicy (what the app reads, as any user)', () => {
  it('is absent when there is no cache, or no state directory', () => {
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toEqual({ state: 'absent' });
    expect(readCachedPolicy(join(stateDir, 'none'), keys.publicKeyPem)).toEqual({ state: 'absent' });
  });

  it('returns a root-owned cache signed by the org key, re-verified', () => {
    const document = signPolicy(payload(), keys.privateKeyPem);
    writeCache(document);
    const cached = readCachedPolicy(stateDir, keys.publicKeyPem, new Date('2026-06-01T00:00:00Z'));
    expect(cached).toMatchObject({ state: 'valid', expired: false, policy: { version: 7, document, keyId: keys.keyId } });
    expect(policyInForce(cached)?.allowedRegistries).toEqual(['registry.acme.com']);
  });

  it('keeps an expired policy in force but says it expired', () => {
    writeCache(signPolicy(payload(), keys.privateKeyPem));
    const cached = readCachedPolicy(stateDir, keys.publicKeyPem, new Date('2030-01-01T00:00:00Z'));
    expect(cached).toMatchObject({ state: 'valid', expired: true });
  });

  it('ignores a cache it cannot verify: another key, tampering, or no org key recorded', () => {
    writeCache(signPolicy(payload(), other.privateKeyPem));
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/signed with key/) });
    const document = JSON.parse(signPolicy(payload(), keys.privateKeyPem)) as Record<string, string>;
    document.payload = Buffer.from(JSON.stringify(payload({ allowedRegistries: [] }))).toString('base64');
    writeCache(JSON.stringify(document));
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/signature/) });
    writeCache(signPolicy(payload(), keys.privateKeyPem));
    expect(readCachedPolicy(stateDir)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/no organization key/) });
    expect(policyInForce(readCachedPolicy(stateDir))).toBeNull();
  });

  it('ignores a validly signed cache that someone other than root could have written (a rollback)', () => {
    writeCache(signPolicy(payload(), keys.privateKeyPem));
    chownSync(cachePath, users.test.uid, users.test.gid);
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/owned by uid/) });
    chownSync(cachePath, 0, 0);
    chmodSync(cachePath, 0o664);
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/writable by group/) });
    chmodSync(cachePath, 0o644);
    chmodSync(stateDir, 0o777);
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/writable by group or others/) });
  });

  it('ignores a symlinked cache or state directory, and a cache under /tmp', () => {
    const real = join(stateDir, 'real.json');
    writeFileSync(real, signPolicy(payload(), keys.privateKeyPem), { mode: 0o644 });
    symlinkSync(real, cachePath);
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/ELOOP/) });
    const linkedDir = `${stateDir}-link`;
    symlinkSync(stateDir, linkedDir);
    expect(readCachedPolicy(linkedDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/symlink/) });
    const loose = mkdtempSync(join(tmpdir(), 'berth-policy-'));
    try {
      writeFileSync(join(loose, POLICY_CACHE_NAME), signPolicy(payload(), keys.privateKeyPem), { mode: 0o644 });
      expect(readCachedPolicy(loose, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/writable by group or others/) });
    } finally {
      rmSync(loose, { recursive: true, force: true });
    }
  });

  it('ignores a cache that is not JSON or is too large', () => {
    writeCache('{"format":"berth-pol');
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted' });
    writeCache(' '.repeat(70_000));
    expect(readCachedPolicy(stateDir, keys.publicKeyPem)).toMatchObject({ state: 'untrusted', reason: expect.stringMatching(/larger than/) });
  });
});
