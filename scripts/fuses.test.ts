// The Electron fuses of release builds, asserted here because
// electronegativity does not check fuses (FIELD-NOTES).
import { FuseV1Options, FuseVersion } from '@electron/fuses';
import { describe, expect, it } from 'vitest';
import { FUSES, fuseConfig } from './fuses.cjs';

describe('release fuses (scripts/fuses.cjs)', () => {
  it('turn off every way to run other code in the app and file:// extra privileges, and on the asar checks and cookie encryption', () => {
    expect(FUSES).toEqual({
      RunAsNode: false,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      EnableCookieEncryption: true,
      // The pages load from berth://app (main/electron/app-protocol.ts): file:// needs no extra privileges.
      GrantFileProtocolExtraPrivileges: false,
      // Electron's default, set explicitly so every fuse 1.8 knows is decided here.
      LoadBrowserProcessSpecificV8Snapshot: false,
    });
    expect(Object.isFrozen(FUSES)).toBe(true);
  });

  it('decide every fuse @electron/fuses knows', () => {
    const known = Object.keys(FuseV1Options).filter((key) => !/^\d+$/.test(key));
    expect(Object.keys(FUSES).sort()).toEqual(known.sort());
  });

  it('become a V1 config keyed by each fuse index', () => {
    expect(fuseConfig('linux', 'x64')).toEqual({
      version: FuseVersion.V1,
      resetAdHocDarwinSignature: false,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
      [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
      [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    });
  });

  it('put an ad-hoc signature back only on Apple silicon (which runs no unsigned code)', () => {
    expect(fuseConfig('darwin', 'arm64').resetAdHocDarwinSignature).toBe(true);
    expect(fuseConfig('darwin', 'x64').resetAdHocDarwinSignature).toBe(false);
    expect(fuseConfig('linux', 'arm64').resetAdHocDarwinSignature).toBe(false);
  });
});
