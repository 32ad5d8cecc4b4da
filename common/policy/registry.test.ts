import { describe, expect, it } from 'vitest';
import { parseImageReference, registryAllowed } from '.';

describe('parseImageReference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', path: 'library/nginx' }],
    ['nginx:1.27', { registry: 'docker.io', path: 'library/nginx', tag: '1.27' }],
    ['library/nginx', { registry: 'docker.io', path: 'library/nginx' }],
    ['bitnami/redis', { registry: 'docker.io', path: 'bitnami/redis' }],
    ['docker.io/nginx', { registry: 'docker.io', path: 'library/nginx' }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', path: 'library/nginx' }],
    ['registry.acme.com/team/app:1.2', { registry: 'registry.acme.com', path: 'team/app', tag: '1.2' }],
    ['Registry.ACME.com/team/app', { registry: 'registry.acme.com', path: 'team/app' }],
    ['localhost/app', { registry: 'localhost', path: 'app' }],
    ['localhost:5000/app:dev', { registry: 'localhost:5000', path: 'app', tag: 'dev' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', path: 'app' }],
    [
      `ghcr.io/o/app@sha256:${'a'.repeat(64)}`,
      { registry: 'ghcr.io', path: 'o/app', digest: `sha256:${'a'.repeat(64)}` },
    ],
    [
      `ghcr.io/o/app:v1@sha256:${'b'.repeat(64)}`,
      { registry: 'ghcr.io', path: 'o/app', tag: 'v1', digest: `sha256:${'b'.repeat(64)}` },
    ],
  ])('%s', (reference, expected) => {
    expect(parseImageReference(reference)).toEqual(expected);
  });

  it.each(['', 'NGINX', 'team/App', 'a//b', '/nginx', 'nginx/', 'nginx:', 'nginx@sha256:short', 'host:99999/app', 'a b', 'x'.repeat(2000)])(
    'refuses %j',
    (reference) => {
      expect(parseImageReference(reference)).toBeNull();
    },
  );
});

describe('registryAllowed', () => {
  const policy = {
    allowedRegistries: ['registry.acme.com/team', 'docker.io/library', 'mirror.acme.com:5000', 'ghcr.io'],
  };

  it.each([
    ['registry.acme.com/team/app:1.2', true],
    ['registry.acme.com/team', true],
    ['REGISTRY.acme.com/team/app', true],
    ['registry.acme.com/team-b/app', false],
    ['registry.acme.com/teamx/app', false],
    ['registry.acme.com/other/app', false],
    ['registry.acme.com.evil.com/team/app', false],
    ['evil.com/registry.acme.com/team/app', false],
    ['nginx', true],
    ['nginx:latest', true],
    ['docker.io/library/nginx', true],
    ['index.docker.io/library/nginx', true],
    ['bitnami/redis', false],
    ['docker.io/libraryx/redis', false],
    ['mirror.acme.com:5000/anything/here', true],
    ['mirror.acme.com/anything', false],
    ['mirror.acme.com:5001/anything', false],
    ['ghcr.io/anyone/app', true],
    ['ghcr.io.evil.com/x', false],
    ['not a reference', false],
  ])('%s → %s', (reference, allowed) => {
    expect(registryAllowed(policy, reference)).toBe(allowed);
  });

  it('allows everything without a policy and nothing with an empty allowlist', () => {
    expect(registryAllowed(null, 'anything.example/x')).toBe(true);
    expect(registryAllowed(undefined, 'nginx')).toBe(true);
    expect(registryAllowed({ allowedRegistries: [] }, 'nginx')).toBe(false);
  });
});
