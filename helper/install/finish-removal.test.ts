import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import { installLayout, type InstallLayout } from '../../common/paths';
import { generateKeyPair } from '../../common/policy';
import { safeScratchDir } from '../../test/support/scratch';
import { recordRemovalRequest, REMOVAL_REQUEST_NAME } from '../daemon/removal-request';
import { finishRemoval } from './finish-removal';

/**
 * The finisher's refusals. What it does with a valid request (hand over to a
 * transient unit, then uninstall from outside the sandbox) needs systemd as
 * PID 1: helper/ops/uninstall.systemd.test.ts. Here, everything that must
 * end in "nothing removed" before any of that, on scratch paths.
 */

let root: string;
let config: HelperConfig;
let layout: InstallLayout;
let lines: string[];
const log = (line: string): void => {
  lines.push(line);
};
const EXITED_FOR_REMOVAL = { EXIT_STATUS: '75' };

/** Every file under the scratch root, with its bytes, but the removal request: nothing of it may change. */
function everything(dir = root): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(files, { [`${path}/`]: '' }, everything(path));
    else if (path !== join(config.stateDir, REMOVAL_REQUEST_NAME)) files[path] = readFileSync(path, 'utf8');
  }
  return files;
}

beforeEach(() => {
  root = safeScratchDir('berth-finish-removal');
  lines = [];
  mkdirSync(join(root, 'Berth'), { mode: 0o755 });
  mkdirSync(join(root, 'state'), { mode: 0o755 });
  writeFileSync(join(root, 'state/install.json'), '{"version":1,"paths":[]}', { mode: 0o644 });
  config = helperConfig.parse({ socketPath: join(root, 'helper.sock'), allowUids: [1000], stateDir: join(root, 'state'), appPath: join(root, 'Berth') });
  // Only the state dir is the scratch one's: none of the refusals below may reach the others.
  layout = { ...installLayout('linux'), stateDir: config.stateDir };
});

describe('finish-removal', () => {
  it('does nothing after an exit that was not for removal (idle, crash, stop), even with a request recorded', async () => {
    recordRemovalRequest(config.stateDir, 1000);
    const request = readFileSync(join(config.stateDir, REMOVAL_REQUEST_NAME), 'utf8');
    const before = everything();
    for (const env of [{}, { EXIT_STATUS: '0' }, { EXIT_STATUS: '1' }, { EXIT_STATUS: 'KILL' }]) {
      expect(await finishRemoval(config, layout, env, false, log)).toBe(false);
    }
    expect(everything()).toEqual(before);
    expect(readFileSync(join(config.stateDir, REMOVAL_REQUEST_NAME), 'utf8')).toBe(request);
    expect(lines).toEqual([]);
  });

  it.each([
    [
      'not a request',
      () => writeFileSync(join(config.stateDir, REMOVAL_REQUEST_NAME), '{"uid":1000,"run":"/bin/sh"}'),
      () => `${config.stateDir}/${REMOVAL_REQUEST_NAME} is not a removal request the helper wrote`,
    ],
    ['from an account that is not enrolled', () => recordRemovalRequest(config.stateDir, 1001), () => 'uid 1001 is not enrolled'],
  ])('ignores a request %s, discards it, and removes nothing', async (_name, plant, why) => {
    plant();
    const before = everything();
    expect(await finishRemoval(config, layout, EXITED_FOR_REMOVAL, false, log)).toBe(false);
    expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
    expect(lines).toEqual([`a removal request was recorded, but ${why()}: nothing removed, and the request discarded`]);
    expect(everything()).toEqual(before);
  });

  it('removes nothing after a refused request even when the app is gone: a refused uninstall never becomes an app-gone removal', async () => {
    rmSync(join(root, 'Berth'), { recursive: true });
    const before = everything();
    for (const outside of [false, true]) {
      recordRemovalRequest(config.stateDir, 1001); // not enrolled
      expect(await finishRemoval(config, layout, EXITED_FOR_REMOVAL, outside, log)).toBe(false);
    }
    expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
    expect(everything()).toEqual(before);
    expect(lines).toEqual(Array(2).fill('a removal request was recorded, but uid 1001 is not enrolled: nothing removed, and the request discarded'));
  });

  it("refuses an enrolled user's request for a managed helper (only root removes it), from outside the sandbox too", async () => {
    const managed = { ...config, orgPublicKey: generateKeyPair().publicKeyPem };
    for (const outside of [false, true]) {
      recordRemovalRequest(config.stateDir, 1000);
      const before = everything();
      expect(await finishRemoval(managed, layout, EXITED_FOR_REMOVAL, outside, log)).toBe(false);
      expect(existsSync(join(config.stateDir, REMOVAL_REQUEST_NAME))).toBe(false);
      expect(everything()).toEqual(before);
    }
    expect(lines).toEqual(
      Array(2).fill('a removal request was recorded, but the helper is managed by an organization, so only root removes it: nothing removed, and the request discarded'),
    );
  });

  it('with no request, removes nothing while the app is there', async () => {
    const before = everything();
    expect(await finishRemoval(config, layout, EXITED_FOR_REMOVAL, false, log)).toBe(false);
    expect(await finishRemoval(config, layout, {}, true, log)).toBe(false);
    expect(everything()).toEqual(before);
    expect(existsSync(join(root, 'Berth'))).toBe(true);
    expect(lines).toEqual(Array(2).fill(`the helper reported its app gone, but ${join(root, 'Berth')} is there (or cannot be seen): nothing removed`));
  });
});
