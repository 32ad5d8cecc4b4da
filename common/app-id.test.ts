import { getConfig } from 'app-builder-lib/out/util/config/config';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/support/constants';
import { APP_BUNDLE_ID } from './app-id';

describe('the app bundle id', () => {
  it('is the appId electron-builder signs the app with (electron-builder.yml, as electron-builder itself reads it)', async () => {
    const config = await getConfig(REPO_ROOT, null, null);
    expect(config.appId).toBe(APP_BUNDLE_ID);
  });
});
