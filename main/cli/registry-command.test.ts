import { beforeEach, describe, expect, inject, it } from 'vitest';
import { finished, spawnFixtureAs } from '../../test/support/processes';
import { NO_POLICY, readAppPolicy } from '../core/policy/app-policy';
import { policyMachine, type PolicyMachine } from '../core/policy/test-setup';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';
import { REGISTRY_USAGE, registryCommand } from './registry-command';

const users = inject('users');
let machine: PolicyMachine;

beforeEach(() => {
  machine = policyMachine('berth-registry-cli', users.test.uid);
});

async function run(args: string[], withPolicy = true): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await registryCommand(args, io, () => (withPolicy ? readAppPolicy({ configPath: machine.configPath }) : NO_POLICY));
  return { code, out, err };
}

function managed(): void {
  machine.writeConfig();
  machine.writeCache();
}

describe('berth registry', () => {
  it('shows help, and refuses bad usage with 64 and a pointer to the help', async () => {
    expect(await run(['--help'])).toEqual({ code: EXIT.ok, out: REGISTRY_USAGE, err: '' });
    expect(await run(['check', '-h'])).toMatchObject({ code: EXIT.ok, out: REGISTRY_USAGE });
    expect(REGISTRY_USAGE).toMatch(/Exit codes: 0 allowed, 1 denied/);
    expect(await run([])).toMatchObject({ code: EXIT.usage, err: REGISTRY_USAGE });
    for (const [args, message] of [
      [['allow', 'nginx'], /unknown registry command "allow" \(only: check\)/],
      [['check'], /check takes exactly one IMAGE \(got 0\)/],
      [['check', 'nginx', 'redis'], /check takes exactly one IMAGE \(got 2\)/],
      [['check', 'nginx', '--jsn'], /Unknown option '--jsn'/],
    ] as const) {
      const result = await run([...args]);
      expect(result.code).toBe(EXIT.usage);
      expect(result.out).toBe('');
      expect(result.err).toMatch(message);
      expect(result.err).toMatch(/Run "berth registry --help" for usage\.\n$/);
    }
  });

  it('without a policy in force: allowed (exit 0), and it says so', async () => {
    expect(await run(['check', 'evil.example.net/x:1'])).toEqual({
      code: EXIT.ok,
      out: 'allowed: evil.example.net/x:1 is allowed: no organization policy is in force, so every registry is allowed\n',
      err: '',
    });
  });

  it('with a policy: allowed names the entry (exit 0), denied names the policy and the allowlist (exit 1)', async () => {
    managed();
    expect(await run(['check', 'nginx:1.27'])).toEqual({
      code: EXIT.ok,
      out: 'allowed: docker.io/library/nginx:1.27 is allowed by "docker.io/library" in Example Corp policy v3\n',
      err: '',
    });
    expect(await run(['check', 'ghcr.io/someone/app'])).toEqual({
      code: EXIT.error,
      out: 'denied: ghcr.io/someone/app is not allowed by Example Corp policy v3: it allows only: registry.example.com/team, docker.io/library, mirror.example.com:5000\n',
      err: '',
    });
  });

  it('an invalid reference exits 64 with a clear message, policy or not', async () => {
    managed();
    for (const withPolicy of [true, false]) {
      const result = await run(['check', 'Team/App'], withPolicy);
      expect(result).toEqual({
        code: EXIT.usage,
        out: '',
        err: 'berth registry: "Team/App" is not a valid image reference; expected [registry[:port]/]name[:tag][@digest], with a lowercase name\n',
      });
    }
  });

  it('--json: the decision and the policy behind it', async () => {
    managed();
    const denied = await run(['check', 'bitnami/redis', '--json']);
    expect(denied.code).toBe(EXIT.error);
    expect(JSON.parse(denied.out)).toEqual({
      reference: 'bitnami/redis',
      image: 'docker.io/bitnami/redis',
      allowed: false,
      reason: expect.stringMatching(/^docker\.io\/bitnami\/redis is not allowed by Example Corp policy v3/),
      matchedEntry: null,
      policy: {
        state: 'valid',
        reason: null,
        organization: 'Example Corp',
        version: 3,
        expires: expect.any(String),
        allowedRegistries: ['registry.example.com/team', 'docker.io/library', 'mirror.example.com:5000'],
      },
    });
    const allowed = await run(['check', '--json', 'registry.example.com/team/app@sha256:' + 'a'.repeat(64)]);
    expect(allowed.code).toBe(EXIT.ok);
    expect(JSON.parse(allowed.out)).toMatchObject({ allowed: true, matchedEntry: 'registry.example.com/team' });
    const invalid = await run(['check', '--json', 'a b']);
    expect(invalid.code).toBe(EXIT.usage);
    expect(JSON.parse(invalid.out)).toMatchObject({ reference: 'a b', image: null, allowed: false });
    expect(invalid.err).toMatch(/is not a valid image reference/);
  });

  it('as the unprivileged user, from the root-owned cache: exit 0 allowed, 1 denied, 64 invalid', async () => {
    managed();
    const check = (ref: string) => finished(spawnFixtureAs(users.test, 'policy-settings', ['registry', machine.configPath, 'check', ref]));
    const allowed = await check('registry.example.com/team/app');
    expect(allowed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^allowed: .* by "registry\.example\.com\/team" in Example Corp policy v3\n$/) });
    const denied = await check('registry.example.com/other/app');
    expect(denied).toMatchObject({ code: 1, stdout: expect.stringMatching(/^denied: .*Example Corp policy v3: it allows only: /) });
    expect(await check('UPPER')).toMatchObject({ code: 64, stdout: '', stderr: expect.stringMatching(/"UPPER" is not a valid image reference/) });
  });
});
