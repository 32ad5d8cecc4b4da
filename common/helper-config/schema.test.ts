import { describe, expect, it } from 'vitest';
import { MAX_POLICY_URL_LENGTH, helperConfig, policyUrlProblem, policyUrlSchema } from './schema';

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
    const base = { socketPath: '/run/berth/helper.sock', allowUid: 1000 };
    expect(helperConfig.parse(base).policyUrl).toBeUndefined();
    expect(helperConfig.parse({ ...base, policyUrl: 'https://mdm.example.com/p.json' }).policyUrl).toBe('https://mdm.example.com/p.json');
    const refused = helperConfig.safeParse({ ...base, policyUrl: 'http://mdm.example.com/p.json' });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]).toMatchObject({ path: ['policyUrl'], message: expect.stringMatching(/must use https/) });
  });
});
