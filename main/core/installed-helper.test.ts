import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeStaleSocket } from '../../test/support/processes';
import { probeInstalledHelper } from './installed-helper';

/** Nothing listens in these tests: the socket is missing, or a crash's leftover (ECONNREFUSED). */
let dir: string;
let socketPath: string;
let configPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-installed-'));
  socketPath = join(dir, 'helper.sock');
  configPath = join(dir, 'helper.json');
  writeFileSync(configPath, JSON.stringify({ socketPath, allowUid: 1000 }));
});

const start = (): string[] => ['/opt/My Berth/resources/helper/berth-helper'];

describe('probeInstalledHelper: a helper that is installed but does not answer', () => {
  it.each([
    ['standalone', 'The helper is installed but not running: this machine has no service manager, so nothing starts it at boot.'],
    ['systemd', 'The helper is installed, but its service is not listening (systemd normally keeps it).'],
    ['launchd', 'The helper is installed, but its service is not listening (launchd normally keeps it).'],
  ] as const)('under %s: not running, with the command that starts it (a path with a space stays one word)', async (serviceManager, said) => {
    const status = await probeInstalledHelper({ socketPath, configPath, stateDir: dir, serviceManager, startCommand: start });
    expect(status).toMatchObject({
      state: 'not-running',
      message: said,
      diagnosis: {
        condition: 'not-running',
        sentence: said,
        fix: 'Start it: run "sudo \'/opt/My Berth/resources/helper/berth-helper\' start", or choose "Start helper" in Berth (it asks for your password).',
        command: "sudo '/opt/My Berth/resources/helper/berth-helper' start",
        prompt: 'install',
      },
    });
  });

  it('says the same of a socket file nobody listens on (a killed helper left it)', async () => {
    const stale = join(dir, 'stale.sock');
    makeStaleSocket(stale);
    const config = join(dir, 'stale.json');
    writeFileSync(config, JSON.stringify({ socketPath: stale, allowUid: 1000 }));
    const status = await probeInstalledHelper({ socketPath: stale, configPath: config, stateDir: dir, serviceManager: 'standalone', startCommand: start });
    expect(status.state).toBe('not-running');
    expect(status.message).toContain('nothing starts it at boot');
  });

  it('falls back to "install again" when the app has no helper to run', async () => {
    const missing = (): string[] => {
      throw new Error('the helper is missing from the installed app');
    };
    const status = await probeInstalledHelper({ socketPath, configPath, stateDir: dir, serviceManager: 'standalone', startCommand: missing });
    expect(status.diagnosis).toMatchObject({
      fix: 'Start it by installing it again: choose "Start helper" in Berth, or run "berth helper install" (it asks for your password).',
      command: 'berth helper install',
    });
  });

  it('leaves "not installed" alone without a config, and for a socket the config does not name', async () => {
    const none = await probeInstalledHelper({ socketPath, configPath: join(dir, 'absent.json'), stateDir: dir, serviceManager: 'standalone', startCommand: start });
    expect(none).toMatchObject({
      state: 'not-installed',
      message: 'The helper is not installed.',
      diagnosis: { condition: 'not-installed', detail: `the helper is not installed (no socket at ${socketPath})` },
    });
    const other = join(dir, 'side-by-side.sock');
    const elsewhere = await probeInstalledHelper({ socketPath: other, configPath, stateDir: dir, serviceManager: 'standalone', startCommand: start });
    expect(elsewhere.state).toBe('not-installed');
  });
});
