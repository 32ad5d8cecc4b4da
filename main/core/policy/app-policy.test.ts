import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { capabilitiesSchema } from '../../../common/api/capabilities';
import { generateKeyPair } from '../../../common/policy';
import { runFixtureAs } from '../../../test/support/processes';
import {
  NO_POLICY,
  policyEnforced,
  policyLocks,
  policySource,
  printable,
  readAppPolicy,
  readHelperConfig,
  readPolicyState,
  policyPortRules,
  registryDecision,
  type AppPolicy,
} from './app-policy';
import { policyMachine, policyPayload, type PolicyMachine } from './test-setup';

const users = inject('users');
const stranger = generateKeyPair();
let machine: PolicyMachine;

beforeEach(() => {
  machine = policyMachine('berth-app-policy', users.test.uid);
});

const read = (now?: Date): AppPolicy => readAppPolicy({ configPath: machine.configPath, ...(now ? { now } : {}) });

describe('readAppPolicy', () => {
  it('none: no helper config and no cache (an unmanaged machine)', () => {
    expect(read()).toEqual(NO_POLICY);
    machine.writeConfig();
    expect(read()).toEqual(NO_POLICY);
    expect(capabilitiesSchema.shape.policy.parse(read())).toEqual(NO_POLICY);
  });

  it('valid: the cache signed by the org key from the config, in the capabilities report’s exact shape', () => {
    machine.writeConfig();
    const payload = policyPayload();
    machine.writeCache(payload);
    const policy = read();
    expect(policy).toEqual({
      state: 'valid',
      reason: null,
      organization: 'Example Corp',
      version: 3,
      expires: payload.expires,
      lockedSettings: { cliToolsLocation: 'user', hostsEntries: true },
      allowedRegistries: ['registry.example.com/team', 'docker.io/library', 'mirror.example.com:5000'],
      portRules: null,
    });
    expect(policyPortRules(policy)).toBeNull();
    // A policy's port rules reach the app as signed, with who set them.
    machine.writeCache(policyPayload({ version: 4, portRules: { deny: [25], udp: 'none' } }));
    expect(policyPortRules(read())).toEqual({ rules: { deny: [25], udp: 'none' }, source: 'Example Corp policy v4' });
    // Strict: no extra field could slip into the capabilities report.
    expect(capabilitiesSchema.shape.policy.parse(policy)).toEqual(policy);
    expect(policyEnforced(policy)).toBe(true);
    expect(policyLocks(policy)).toEqual({ cliToolsLocation: 'user', hostsEntries: true });
    expect(policySource(policy)).toBe('Example Corp policy v3');
  });

  it('the cache directory comes from the config’s stateDir unless given', () => {
    machine.writeConfig();
    machine.writeCache();
    expect(readAppPolicy({ configPath: machine.configPath }).state).toBe('valid');
    expect(readAppPolicy({ configPath: machine.configPath, stateDir: join(machine.root, 'run') })).toEqual(NO_POLICY);
  });

  it('expired: still in force (locks and allowlist kept), and says so', () => {
    machine.writeConfig();
    machine.writeCache({ issued: '2026-01-01T00:00:00Z', expires: '2026-02-01T00:00:00Z' });
    const policy = read(new Date('2026-03-01T00:00:00Z'));
    expect(policy).toMatchObject({ state: 'expired', reason: null, expires: '2026-02-01T00:00:00Z', version: 3 });
    expect(policyEnforced(policy)).toBe(true);
    expect(policyLocks(policy)).toEqual({ cliToolsLocation: 'user', hostsEntries: true });
    expect(capabilitiesSchema.shape.policy.parse(policy)).toEqual(policy);
  });

  it.each<[string, () => void, RegExp]>([
    ['signed by another key', () => machine.writeCache({}, stranger.privateKeyPem), /signed with key [0-9a-f]{16}, but the organization key here is/],
    ['tampered with', () => writeFileSync(machine.cachePath, machine.writeCache().replace(/"signature":"./, '"signature":"A')), /signature|base64/],
    ['not owned by root (a possible rollback)', () => { machine.writeCache(); chownSync(machine.cachePath, users.test.uid, users.test.gid); }, /owned by uid/],
    ['not JSON', () => writeFileSync(machine.cachePath, '{"format":', { mode: 0o644 }), /not valid JSON/],
  ])('untrusted: a cache %s is ignored, with the reason, and locks nothing', (_what, spoil, reason) => {
    machine.writeConfig();
    spoil();
    const policy = read();
    expect(policy).toEqual({ ...NO_POLICY, state: 'untrusted', reason: expect.stringMatching(reason) });
    expect(policyEnforced(policy)).toBe(false);
    expect(policyLocks(policy)).toEqual({});
    expect(policySource(policy)).toBeNull();
    expect(capabilitiesSchema.shape.policy.parse(policy)).toEqual(policy);
  });

  it('untrusted: a cache with no config to verify it says there is no key', () => {
    machine.writeCache();
    expect(readAppPolicy({ configPath: machine.configPath, stateDir: machine.stateDir })).toEqual({
      ...NO_POLICY,
      state: 'untrusted',
      reason: 'no organization key is recorded to verify the policy cache',
    });
  });

  it('untrusted: a config that is not root’s alone is not used, and the reason says why', () => {
    machine.writeConfig();
    machine.writeCache();
    chownSync(machine.configPath, users.test.uid, users.test.gid);
    const policy = readAppPolicy({ configPath: machine.configPath, stateDir: machine.stateDir });
    expect(policy.state).toBe('untrusted');
    expect(policy.reason).toBe(
      `the helper's config cannot be used (${machine.configPath} is owned by uid ${users.test.uid}, not root), so the policy cache cannot be verified`,
    );
    expect(readHelperConfig(machine.configPath)).toEqual({ state: 'unusable', reason: `${machine.configPath} is owned by uid ${users.test.uid}, not root` });
  });

  it('untrusted: a config with a bad field is not used', () => {
    machine.writeConfig({ policyUrl: 'http://example.com/policy.json' });
    machine.writeCache();
    const policy = readAppPolicy({ configPath: machine.configPath, stateDir: machine.stateDir });
    expect(policy.state).toBe('untrusted');
    expect(policy.reason).toMatch(/policyUrl.*must use https/);
  });

  it('readPolicyState also returns the document in force and the config read', () => {
    machine.writeConfig();
    const document = machine.writeCache();
    const state = readPolicyState({ configPath: machine.configPath });
    expect(state.document).toBe(document);
    expect(state.config).toMatchObject({ state: 'ok', config: { orgPublicKey: machine.keys.publicKeyPem } });
    rmSync(machine.cachePath);
    expect(readPolicyState({ configPath: machine.configPath })).toMatchObject({ policy: NO_POLICY, document: null });
  });

  it('reads the same as the unprivileged user the app runs as', async () => {
    machine.writeConfig();
    machine.writeCache();
    const asUser = await runFixtureAs<{ uid: number; policy: AppPolicy }>(users.test, 'policy-settings', ['read', machine.configPath]);
    expect(asUser.uid).toBe(users.test.uid);
    expect(asUser.policy).toEqual(read());
    expect(asUser.policy.state).toBe('valid');
  });
});

describe('registryDecision', () => {
  const valid = (): AppPolicy => {
    machine.writeConfig();
    machine.writeCache();
    return read();
  };

  it.each<[string, boolean, RegExp]>([
    ['registry.example.com/team/app:1.2', true, /^registry\.example\.com\/team\/app:1\.2 is allowed by "registry\.example\.com\/team" in Example Corp policy v3$/],
    ['nginx', true, /^docker\.io\/library\/nginx is allowed by "docker\.io\/library" in Example Corp policy v3$/],
    ['mirror.example.com:5000/x/y', true, /allowed by "mirror\.example\.com:5000"/],
    [
      'registry.example.com/other/app',
      false,
      /^registry\.example\.com\/other\/app is not allowed by Example Corp policy v3: it allows only: registry\.example\.com\/team, docker\.io\/library, mirror\.example\.com:5000$/,
    ],
    ['bitnami/redis', false, /^docker\.io\/bitnami\/redis is not allowed by Example Corp policy v3/],
    ['mirror.example.com/x', false, /is not allowed/],
  ])('%s under a policy → allowed %s', (ref, allowed, reason) => {
    const decision = registryDecision(ref, valid());
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toMatch(reason);
    expect(decision.matchedEntry === null).toBe(!allowed);
  });

  it('allows everything without a policy, and says why', () => {
    expect(registryDecision('evil.example.net/x', NO_POLICY)).toEqual({
      allowed: true,
      reason: 'evil.example.net/x is allowed: no organization policy is in force, so every registry is allowed',
      image: { registry: 'evil.example.net', path: 'x' },
      matchedEntry: null,
    });
    const untrusted: AppPolicy = { ...NO_POLICY, state: 'untrusted', reason: 'the policy cache is owned by uid 1000, not root' };
    expect(registryDecision('nginx', untrusted).reason).toBe(
      'docker.io/library/nginx is allowed: the cached policy is ignored (the policy cache is owned by uid 1000, not root), so every registry is allowed',
    );
  });

  it('an expired policy still decides, and says it expired', () => {
    machine.writeConfig();
    machine.writeCache({ issued: '2026-01-01T00:00:00Z', expires: '2026-02-01T00:00:00Z' });
    const decision = registryDecision('ghcr.io/x/y', read(new Date('2026-03-01T00:00:00Z')));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/Example Corp policy v3 \(expired on 1 Feb 2026, still in force until a newer one arrives\)/);
  });

  it('an empty allowlist allows nothing, and says so', () => {
    machine.writeConfig();
    machine.writeCache({ allowedRegistries: [] });
    expect(registryDecision('nginx', read())).toMatchObject({ allowed: false, reason: expect.stringMatching(/it allows no registry at all$/) });
  });

  it('refuses a reference that does not parse, with or without a policy, and echoes it safely', () => {
    expect(registryDecision('NGINX', NO_POLICY)).toEqual({ allowed: false, reason: '"NGINX" is not a valid image reference', image: null, matchedEntry: null });
    expect(registryDecision('a b\u001b[31m', valid()).reason).toBe('"a b\\u001b[31m" is not a valid image reference');
    expect(printable('x'.repeat(300))).toHaveLength(201);
    expect(printable('ok\u202etxt\n')).toBe('ok\\u202etxt\\u000a');
  });
});
