import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENROLLED_UIDS, MAX_POLICY_URL_LENGTH, helperConfig, policyUrlProblem, policyUrlSchema } from './schema';

describe('the admin’s policy URL', () => {
  it.each([
    'https://mdm.example.com/berth/policy.json',
    'https://10.0.0.5:8443/policy.json?sig=abc&expires=1',
    'http://127.0.0.1:8080/policy.json',
    'http://127.1/policy.json',
    'http://localhost/policy.json',
    'http://[::1]:9000/policy.json',
    `https://example.com/${'a'.repeat(MAX_POLICY_URL_LENGTH - 'https://example.com/'.length)}`,
  ])('accepts %s', (url) => {
    expect(policyUrlProblem(url)).toBeUndefined();
  });

  it.each<[string, RegExp]>([
    ['', /must not be empty/],
    [`https://example.com/${'a'.repeat(MAX_POLICY_URL_LENGTH)}`, /at most 2048 characters/],
    ['https://exa mple.com/p', /printable ASCII without spaces/],
    ['https://exämple.com/p', /printable ASCII/],
    ['https://example.com/p\n', /printable ASCII/],
    ['mdm.example.com/policy.json', /must be an absolute URL/],
    ['ftp://example.com/policy.json', /must use https \(not ftp:\)/],
    ['file:///etc/berth/policy.json', /must use https \(not file:\)/],
    ['javascript:alert(1)', /must use https/],
    ['http://mdm.example.com/policy.json', /plain http is allowed only to this machine/],
    ['http://127.0.0.1.nip.io/policy.json', /plain http is allowed only to this machine/],
    ['http://[::ffff:127.0.0.1]/policy.json', /plain http is allowed only to this machine/],
    ['http://0.0.0.0/policy.json', /plain http is allowed only to this machine/],
    ['https://admin@mdm.example.com/policy.json', /must not contain a user name or password/],
    ['https://:secret@mdm.example.com/policy.json', /must not contain a user name or password/],
    ['https://mdm.example.com/policy.json#v2', /must not have a #fragment/],
    ['https://mdm.example.com/policy.json#', /must not have a #fragment/],
  ])('refuses %j: %s', (url, message) => {
    expect(policyUrlProblem(url)).toMatch(message);
    expect(policyUrlSchema.safeParse(url).success).toBe(false);
  });

  it('is stored normalized, so every reader sees the same text', () => {
    expect(policyUrlSchema.parse('HTTPS://MDM.Example.COM:443/berth/policy.json')).toBe('https://mdm.example.com/berth/policy.json');
    expect(policyUrlSchema.parse('http://127.1:80/p')).toBe('http://127.0.0.1/p');
  });

  it('is an optional field of the helper config, validated like everything else there', () => {
    const base = { socketPath: '/run/berth/helper.sock', allowUids: [1000] };
    expect(helperConfig.parse(base).policyUrl).toBeUndefined();
    expect(helperConfig.parse({ ...base, policyUrl: 'https://mdm.example.com/p.json' }).policyUrl).toBe('https://mdm.example.com/p.json');
    const refused = helperConfig.safeParse({ ...base, policyUrl: 'http://mdm.example.com/p.json' });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]).toMatchObject({ path: ['policyUrl'], message: expect.stringMatching(/must use https/) });
  });
});

describe('who the helper serves: allowUids', () => {
  const base = { socketPath: '/run/berth/helper.sock' };

  it('is a list of the enrolled uids, kept in the order they enrolled', () => {
    expect(helperConfig.parse({ ...base, allowUids: [1001, 1000, 4_000_000_000] }).allowUids).toEqual([1001, 1000, 4_000_000_000]);
  });

  it('loads a config an older install wrote with one allowUid, as a list of that uid', () => {
    const legacy = { ...base, allowUid: 1000, appPath: '/opt/Berth' };
    const parsed = helperConfig.parse(legacy);
    expect(parsed.allowUids).toEqual([1000]);
    expect(parsed).not.toHaveProperty('allowUid');
    // The legacy value is checked by the same rules.
    expect(helperConfig.safeParse({ ...base, allowUid: 0 }).error?.issues[0]).toMatchObject({ path: ['allowUids', 0] });
    // The input is not changed: the upgrade is a copy.
    expect(legacy).toEqual({ ...base, allowUid: 1000, appPath: '/opt/Berth' });
  });

  it('refuses a config with both keys: which would be meant?', () => {
    const both = helperConfig.safeParse({ ...base, allowUid: 1000, allowUids: [1001] });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]?.message).toMatch(/Unrecognized key: "allowUid"/);
  });

  it.each<[string, unknown, RegExp]>([
    ['root', [0], /must be a user other than root/],
    ['65535 (the 16-bit "no user")', [1000, 65535], /must not be 65535/],
    ['(uid_t)-1', [2 ** 32 - 1], /Too big/],
    ['a negative uid', [-1], /must be a user other than root/],
    ['a fraction', [1000.5], /expected int/],
    ['a string', ['1000'], /expected number/],
    ['an empty list', [], /must name at least one user/],
    ['a repeated uid', [1000, 1001, 1000], /must not repeat a uid/],
    ['more than the cap', Array.from({ length: MAX_ENROLLED_UIDS + 1 }, (_, i) => 1000 + i), /Too big: expected array to have <=256 items/],
    ['no list at all', undefined, /expected array/],
  ])('refuses %s, naming allowUids', (_what, allowUids, message) => {
    const parsed = helperConfig.safeParse({ ...base, allowUids });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path[0]).toBe('allowUids');
    expect(parsed.error?.issues[0]?.message).toMatch(message);
  });

  it('accepts exactly the unique lists of enrolable uids, up to the cap (fast-check)', () => {
    const uid = fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constantFrom(0, 65535, 65534, 0xfffffffe, 0xffffffff));
    fc.assert(
      fc.property(fc.array(uid, { maxLength: MAX_ENROLLED_UIDS + 2 }), (uids) => {
        const enrolable = uids.every((u) => u >= 1 && u <= 0xfffffffe && u !== 65535);
        const ok = uids.length >= 1 && uids.length <= MAX_ENROLLED_UIDS && new Set(uids).size === uids.length && enrolable;
        expect(helperConfig.safeParse({ ...base, allowUids: uids }).success).toBe(ok);
        // The legacy key obeys the same rule for its one uid.
        if (uids.length === 1) expect(helperConfig.safeParse({ ...base, allowUid: uids[0] }).success).toBe(ok);
      }),
    );
  });

  it('an upgraded legacy config round-trips in the new shape', () => {
    const upgraded = helperConfig.parse({ ...base, allowUid: 1000 });
    const written = JSON.parse(JSON.stringify(upgraded)) as Record<string, unknown>;
    expect(written.allowUids).toEqual([1000]);
    expect(helperConfig.parse(written)).toEqual(upgraded);
  });

  it('caps connections per account, 16 by default', () => {
    expect(helperConfig.parse({ ...base, allowUids: [1000] }).limits.maxConnectionsPerUid).toBe(16);
    expect(helperConfig.safeParse({ ...base, allowUids: [1000], limits: { maxConnectionsPerUid: 0 } }).success).toBe(false);
  });
});
