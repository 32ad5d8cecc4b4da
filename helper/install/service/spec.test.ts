import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { installLayout } from '../../../common/paths';
import { launchdPlist } from './launchd';
import { SERVICE_FILES } from './paths';
import { validateServiceSpec, type ServiceSpec } from './spec';
import { systemdServiceUnit, systemdSocketUnit } from './systemd';

const good: ServiceSpec = {
  label: 'dev.berth.helper',
  helperCommand: ['/usr/local/libexec/berth/berth-helper', 'serve', '--config', '/etc/berth/helper.json'],
  socketPath: '/run/berth/helper.sock',
};

const generators = { launchdPlist, systemdSocketUnit, systemdServiceUnit };

/** The spec with one field replaced (or removed, for undefined). */
function withField(field: string, value: unknown): unknown {
  return { ...good, [field]: value };
}

describe('service spec validation', () => {
  it('accepts a normal spec, a dev-install argv, and spaces in arguments', () => {
    expect(validateServiceSpec(good)).toEqual(good);
    const dev = { ...good, helperCommand: ['/usr/bin/node', '/usr/local/libexec/berth/berth-helper.js', 'serve'] };
    expect(validateServiceSpec(dev)).toEqual(dev);
    const spaced = { ...good, helperCommand: ['/Library/Application Support/Berth/berth-helper', 'serve'] };
    expect(validateServiceSpec(spaced)).toEqual(spaced);
    // Each install layout's own socket: it fits sun_path and has no whitespace.
    for (const platform of ['darwin', 'linux'] as const) {
      const installed = { ...good, socketPath: installLayout(platform).socketPath };
      expect(validateServiceSpec(installed)).toEqual(installed);
    }
    expect(validateServiceSpec({ ...good, installDir: '/usr/local/libexec/berth' }).installDir).toBe('/usr/local/libexec/berth');
  });

  it.each([
    ['socketPath', '/run/berth/helper.sock\nExecStartPre=/bin/sh', /^invalid service spec: socketPath: contains a newline$/],
    ['socketPath', 'run/berth/helper.sock', /socketPath: must be an absolute, normalized path/],
    ['socketPath', '/run/berth/../helper.sock', /socketPath: must be an absolute, normalized path/],
    ['socketPath', '/run/berth//helper.sock', /socketPath: must be an absolute, normalized path/],
    ['socketPath', '/run/berth/', /socketPath: must be an absolute, normalized path/],
    ['socketPath', '/run/my berth/helper.sock', /socketPath: must not contain whitespace/],
    ['socketPath', `/run/${'x'.repeat(100)}.sock`, /socketPath: must fit in a UNIX socket address/],
    ['socketPath', '/run/berth/helper\0.sock', /socketPath: contains a NUL byte/],
    ['socketPath', '/run/berth/%i.sock', /socketPath: contains a '%'/],
    ['socketPath', 42, /socketPath: Invalid input: expected string/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', 'serve"', '--x'], /^invalid service spec: helperCommand\.1: contains a double quote$/],
    ['helperCommand', ["/usr/local/libexec/berth/berth-helper'"], /helperCommand\.0: contains a single quote/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', 'a\\b'], /helperCommand\.1: contains a backslash/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', '$HOME'], /helperCommand\.1: contains a '\$'/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', 'a\tb'], /helperCommand\.1: contains a tab/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', 'a\u0085b'], /helperCommand\.1: contains the character U\+0085/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', 'a\ud800b'], /helperCommand\.1: contains the character U\+D800/],
    ['helperCommand', ['/usr/local/libexec/berth/berth-helper', ''], /helperCommand\.1: must not be empty/],
    ['helperCommand', ['berth-helper', 'serve'], /helperCommand\.0: must be an absolute, normalized path to the program/],
    ['helperCommand', ['/usr/local/libexec/berth/../berth/berth-helper'], /helperCommand\.0: must be an absolute, normalized path/],
    ['helperCommand', [], /helperCommand: must name the helper program/],
    ['helperCommand', '/usr/local/libexec/berth/berth-helper', /helperCommand: Invalid input: expected array/],
    ['label', 'Dev.Berth.Helper', /^invalid service spec: label: must be reverse-DNS like "dev\.berth\.helper"/],
    ['label', 'berth', /label: must be reverse-DNS/],
    ['label', 'dev.berth/../x', /label: must be reverse-DNS/],
    ['label', 'dev.berth.helper\n', /label: must be reverse-DNS/],
    ['label', '-dev.berth', /label: must be reverse-DNS/],
    // The socket is root's for every enrolled user: no per-user owner may be smuggled into a unit.
    ['socketUid', 1000, /spec: Unrecognized key: "socketUid"/],
    ['installDir', '/', /installDir: must be an absolute, normalized path \(not "\/"\)/],
    ['installDir', '/usr/local/libexec/my berth', /installDir: must not contain whitespace/],
    ['socketUID', 1000, /spec: Unrecognized key: "socketUID"/],
  ])('refuses %s = %j, naming the field', (field, value, message) => {
    const spec = withField(field, value);
    expect(() => validateServiceSpec(spec)).toThrow(message);
    // Every generator validates itself: none can be handed a bad spec by a caller that skipped the check.
    for (const generate of Object.values(generators)) expect(() => generate(spec as ServiceSpec)).toThrow(message);
  });

  it('lists every problem at once', () => {
    expect(() => validateServiceSpec({ ...good, label: 'x', installDir: '/', socketPath: 'rel' })).toThrow(
      /label: .*; socketPath: .*; installDir: /,
    );
  });

  it('refuses any control character, quote, backslash, "%" or "$" in any string, for every generator', () => {
    const unsafe = fc.constantFrom(...'\0\n\r\t\u000b\u001b\u007f\u0085"\'\\%$');
    const field = fc.constantFrom('socketPath', 'argv0', 'argv1', 'installDir');
    fc.assert(
      fc.property(field, unsafe, fc.nat(12), (where, bad, at) => {
        const inject = (s: string): string => s.slice(0, Math.min(at, s.length)) + bad + s.slice(Math.min(at, s.length));
        const spec: ServiceSpec = { ...good, helperCommand: [...good.helperCommand], installDir: '/usr/local/libexec/berth' };
        if (where === 'argv0') spec.helperCommand[0] = inject(spec.helperCommand[0]!);
        else if (where === 'argv1') spec.helperCommand[1] = inject(spec.helperCommand[1]!);
        else if (where === 'socketPath') spec.socketPath = inject(spec.socketPath);
        else spec.installDir = inject(spec.installDir!);
        for (const generate of Object.values(generators)) expect(() => generate(spec)).toThrow(/^invalid service spec: /);
      }),
    );
  });
});

describe('SERVICE_FILES', () => {
  it('names the fixed install paths', () => {
    expect(SERVICE_FILES.launchd('dev.berth.helper')).toBe('/Library/LaunchDaemons/dev.berth.helper.plist');
    expect(SERVICE_FILES.systemdSocket('dev.berth.helper')).toBe('/etc/systemd/system/dev.berth.helper.socket');
    expect(SERVICE_FILES.systemdService('dev.berth.helper')).toBe('/etc/systemd/system/dev.berth.helper.service');
  });

  it.each(['../../etc/passwd', 'dev.berth/x', 'berth', ''])('refuses to build a path from the label %j', (label) => {
    for (const file of Object.values(SERVICE_FILES)) expect(() => file(label)).toThrow(/invalid service label/);
  });
});
