import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appPathOfCliTool, appResourcesDir, CLI_TOOLS, cliToolTarget } from './cli-tools';

describe('where the CLI tools live in the app', () => {
  it('inside the resources electron-builder makes, per platform', () => {
    expect(cliToolTarget('/opt/Berth', 'berth', 'linux')).toBe('/opt/Berth/resources/bin/berth');
    expect(cliToolTarget('/Applications/Berth.app', 'berth', 'darwin')).toBe('/Applications/Berth.app/Contents/Resources/bin/berth');
    expect(appResourcesDir('/opt/Berth', 'linux')).toBe('/opt/Berth/resources');
  });

  it('a packaged tool finds its app from its own path: the inverse of cliToolTarget', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9 ._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom<NodeJS.Platform>('linux', 'darwin'), fc.constantFrom(...CLI_TOOLS), (parts, platform, tool) => {
        const app = `/${parts.join('/')}`;
        expect(appPathOfCliTool(cliToolTarget(app, tool, platform), platform)).toBe(app);
      }),
    );
  });

  it.each([
    ['/usr/local/bin/berth', 'linux'],
    ['/resources/bin/berth', 'linux'],
    ['/opt/Berth/resources/bin/sub/berth', 'linux'],
    ['/opt/Berth/resources/bin/berth', 'darwin'],
    ['dist/cli/berth.js', 'linux'],
  ] as const)('%s (%s) is not inside an app: undefined, never a guess', (path, platform) => {
    expect(appPathOfCliTool(path, platform)).toBeUndefined();
  });
});
