import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, verifyPolicy, type PolicyPayload } from '../../common/policy';
import { runCli } from './cli';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from './policy-command';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await runCli(args, io);
  return { code, out, err };
}

const payload: PolicyPayload = {
  organization: 'Acme Corp',
  version: 2,
  issued: '2026-01-01T00:00:00Z',
  expires: '2099-01-01T00:00:00Z',
  allowedRegistries: ['registry.acme.com/team', 'docker.io/library'],
  lockedSettings: { hostsEntries: true, cliToolsLocation: 'user' },
  portRules: { allow: [80, '8000-8999'], deny: [8081], wildcardAddresses: false, udp: 'loopback' },
};

let dir: string;
let keys: string;
let payloadPath: string;
let policyPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-policy-cli-'));
  keys = join(dir, 'keys');
  payloadPath = join(dir, 'payload.json');
  policyPath = join(dir, 'policy.json');
  writeFileSync(payloadPath, JSON.stringify(payload, null, 2));
  const keygen = await run(['policy', 'keygen', '--out', keys]);
  expect(keygen.code, keygen.err).toBe(EXIT.ok);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('berth policy', () => {
  it('shows help for the group and each command, and refuses bad usage with 64', async () => {
    expect((await run(['--help'])).out).toMatch(/^ {2}policy /m);
    for (const args of [['policy', '--help'], ['policy', 'keygen', '--help'], ['policy', 'sign', '-h'], ['policy', 'verify', '--help']]) {
      const help = await run(args);
      expect(help.code).toBe(EXIT.ok);
      expect(help.out).toMatch(/keygen --out DIR/);
    }
    expect((await run(['policy'])).code).toBe(EXIT.usage);
    expect(await run(['policy', 'publish'])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/unknown policy command "publish"/) });
    expect(await run(['policy', 'sign', '--in', payloadPath])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/--key is required/) });
    expect(await run(['policy', 'verify', '--keys', 'x'])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/Unknown option '--keys'/) });
    const badDate = await run(['policy', 'verify', '--key', 'k', '--in', 'p', '--at', 'soon']);
    expect(badDate).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/--at "soon" is not a date/) });
  });

  it('keygen writes a 0600 private key and a 0644 public key and prints the key id', async () => {
    const fresh = join(dir, 'fresh');
    const result = await run(['policy', 'keygen', '--out', fresh, '--json']);
    expect(result.code).toBe(EXIT.ok);
    const report = JSON.parse(result.out) as { keyId: string; privateKey: string; publicKey: string };
    expect(report.privateKey).toBe(join(fresh, PRIVATE_KEY_FILE));
    expect(statSync(report.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(report.publicKey).mode & 0o777).toBe(0o644);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(readFileSync(report.privateKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(keyIdOf(readFileSync(report.publicKey, 'utf8'))).toBe(report.keyId);
    const table = await run(['policy', 'keygen', '--out', join(dir, 'fresh2')]);
    expect(table.out).toMatch(/^Key id\s+[0-9a-f]{16}$/m);
  });

  it('keygen refuses to overwrite an existing key, leaving both files as they were', async () => {
    const privateBefore = readFileSync(join(keys, PRIVATE_KEY_FILE));
    const publicBefore = readFileSync(join(keys, PUBLIC_KEY_FILE));
    const again = await run(['policy', 'keygen', '--out', keys]);
    expect(again.code).toBe(EXIT.error);
    expect(again.err).toMatch(/org-key\.pem already exists; refusing to overwrite/);
    expect(readFileSync(join(keys, PRIVATE_KEY_FILE)).equals(privateBefore)).toBe(true);
    expect(readFileSync(join(keys, PUBLIC_KEY_FILE)).equals(publicBefore)).toBe(true);
    // Only the public key in the way: the private key it had just created is removed again.
    const half = join(dir, 'half');
    await run(['policy', 'keygen', '--out', half]);
    rmSync(join(half, PRIVATE_KEY_FILE));
    const partial = await run(['policy', 'keygen', '--out', half]);
    expect(partial).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/org-key\.pub\.pem already exists/) });
    expect(() => statSync(join(half, PRIVATE_KEY_FILE))).toThrow(/ENOENT/);
  });

  it('keygen → sign → verify round trip', async () => {
    const signed = await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', payloadPath, '--out', policyPath]);
    expect(signed.code, signed.err).toBe(EXIT.ok);
    expect(signed.out).toMatch(/Signed Acme Corp policy version 2/);
    const document = readFileSync(policyPath, 'utf8');
    expect(verifyPolicy(document, readFileSync(join(keys, PUBLIC_KEY_FILE), 'utf8'), new Date())).toMatchObject(payload);

    const printed = await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', payloadPath]);
    expect(JSON.parse(printed.out)).toMatchObject({ format: 'berth-policy/1' });

    const verified = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', policyPath]);
    expect(verified.code, verified.err).toBe(EXIT.ok);
    expect(verified.out).toMatch(/^Organization\s+Acme Corp$/m);
    expect(verified.out).toMatch(/^Version\s+2$/m);
    expect(verified.out).toMatch(/^Expires\s+1 Jan 2099$/m);
    expect(verified.out).toMatch(/^ {2}registry\.acme\.com\/team$/m);
    expect(verified.out).toMatch(/^ {2}hostsEntries = true$/m);
    expect(verified.out).toMatch(/^ {2}cliToolsLocation = "user"$/m);
    expect(verified.out).toMatch(/^Port rules:\n {2}Allowed ports: 80, 8000-8999\n {2}Denied ports: 8081\n {2}Every address \(0\.0\.0\.0, ::\): not allowed, only specific addresses\n {2}UDP: on loopback addresses only/m);

    const json = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', policyPath, '--json']);
    expect(JSON.parse(json.out)).toEqual({ valid: true, ...payload, keyId: keyIdOf(readFileSync(join(keys, PUBLIC_KEY_FILE), 'utf8')) });
  });

  it('sign names the missing or bad fields of a payload and exits 1', async () => {
    const rest: Partial<PolicyPayload> = { ...payload };
    delete rest.lockedSettings;
    const bad = join(dir, 'bad-payload.json');
    writeFileSync(bad, JSON.stringify({ ...rest, version: 0, allowedRegistries: ['Registry.acme.com'] }));
    const result = await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', bad]);
    expect(result.code).toBe(EXIT.error);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/is not a valid policy payload/);
    expect(result.err).toMatch(/^ {2}- lockedSettings: is required$/m);
    expect(result.err).toMatch(/^ {2}- version: /m);
    expect(result.err).toMatch(/^ {2}- allowedRegistries\.0: must be lowercase$/m);
    writeFileSync(bad, '{"organization": ');
    expect(await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', bad])).toMatchObject({
      code: EXIT.error,
      err: expect.stringMatching(/is not valid JSON/),
    });
  });

  it('sign refuses a public key or a missing key file, and warns about an expired payload', async () => {
    const withPublic = await run(['policy', 'sign', '--key', join(keys, PUBLIC_KEY_FILE), '--in', payloadPath]);
    expect(withPublic).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/not an unencrypted PEM private key/) });
    const missing = await run(['policy', 'sign', '--key', join(dir, 'nope.pem'), '--in', payloadPath]);
    expect(missing).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/cannot read key .*nope\.pem: ENOENT/) });
    const expiredPath = join(dir, 'expired.json');
    writeFileSync(expiredPath, JSON.stringify({ ...payload, expires: '2026-01-02T00:00:00Z' }));
    const expired = await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', expiredPath]);
    expect(expired.code).toBe(EXIT.ok);
    expect(expired.err).toMatch(/warning: this policy expired on 2 Jan 2026;/);
  });

  it('verify of a tampered document exits 1 and says the signature does not match', async () => {
    await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', payloadPath, '--out', policyPath]);
    const doc = JSON.parse(readFileSync(policyPath, 'utf8')) as Record<string, string>;
    doc.payload = Buffer.from(JSON.stringify({ ...payload, allowedRegistries: ['evil.example.com'] })).toString('base64');
    const tampered = join(dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify(doc));
    const result = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', tampered]);
    expect(result.code).toBe(EXIT.error);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/tampered\.json is not valid: the signature does not match/);
    const json = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', tampered, '--json']);
    expect(json.code).toBe(EXIT.error);
    expect(JSON.parse(json.out)).toMatchObject({ valid: false, code: 'POLICY_INVALID', reason: 'signature' });
  });

  it('verify reports another key, truncation and expiry (--at)', async () => {
    await run(['policy', 'sign', '--key', join(keys, PRIVATE_KEY_FILE), '--in', payloadPath, '--out', policyPath]);
    const otherKeys = join(dir, 'other-keys');
    await run(['policy', 'keygen', '--out', otherKeys]);
    const wrongKey = await run(['policy', 'verify', '--key', join(otherKeys, PUBLIC_KEY_FILE), '--in', policyPath]);
    expect(wrongKey).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/signed with key [0-9a-f]{16}, but the organization key here is/) });
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, readFileSync(policyPath, 'utf8').slice(0, 100));
    const cut = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', truncated]);
    expect(cut).toMatchObject({ code: EXIT.error, err: expect.stringMatching(/not valid JSON \(is it truncated\?\)/) });
    const later = await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', policyPath, '--at', '2100-01-01T00:00:00Z', '--json']);
    expect(later.code).toBe(EXIT.error);
    expect(JSON.parse(later.out)).toMatchObject({ valid: false, code: 'POLICY_EXPIRED' });
    expect(await run(['policy', 'verify', '--key', join(keys, PUBLIC_KEY_FILE), '--in', join(dir, 'missing.json')])).toMatchObject({
      code: EXIT.error,
      err: expect.stringMatching(/cannot read policy .*missing\.json: ENOENT/),
    });
  });
});
