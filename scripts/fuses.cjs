'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: electron-builder loads its hooks with require(). */
// Electron fuses of release builds, defined once: scripts/after-pack.cjs
// flips them in the packaged binary and scripts/fuses.test.ts asserts them
// (electronegativity does not look at fuses). Fuses are bits in the Electron
// binary itself, read before any of our code runs: an environment variable or
// a command-line flag cannot turn them back.
const { FuseV1Options, FuseVersion } = require('@electron/fuses');

/** Every fuse @electron/fuses 1.8 knows, by its FuseV1Options name. */
const FUSES = Object.freeze({
  // ELECTRON_RUN_AS_NODE would make the signed app a plain Node that runs any
  // script with the app's identity (and a root helper started that way could
  // be hijacked the same way).
  RunAsNode: false,
  // Cookies on disk are encrypted with a key kept in the OS keychain.
  EnableCookieEncryption: true,
  // NODE_OPTIONS could --require arbitrary code into the main process.
  EnableNodeOptionsEnvironmentVariable: false,
  // --inspect and friends would let anyone attach a debugger to the main process.
  EnableNodeCliInspectArguments: false,
  // app.asar must match the hash electron-builder records at packaging
  // (macOS Info.plist); a modified app.asar is refused.
  EnableEmbeddedAsarIntegrityValidation: true,
  // Load the app only from app.asar, never from a planted resources/app/
  // folder, which the integrity check would not cover.
  OnlyLoadAppFromAsar: true,
  // Electron's default: Berth ships no custom V8 snapshot.
  LoadBrowserProcessSpecificV8Snapshot: false,
  // Off: the pages load from berth://app (main/electron/app-protocol.ts), so
  // file:// gets no more than a browser gives it (no fetch or module scripts
  // across the disk, no extra privileges for a file:// page anything opens).
  GrantFileProtocolExtraPrivileges: false,
});

/**
 * The @electron/fuses config for one packaged app. Fuses not listed keep the
 * binary's default (Electron 45's wire may be longer than 1.8 knows; strict
 * mode would refuse it).
 */
function fuseConfig(platform, arch) {
  const config = {
    version: FuseVersion.V1,
    // Flipping fuses breaks the signature; Apple silicon runs no unsigned
    // code, so an ad-hoc one is put back (electron-builder re-signs after).
    resetAdHocDarwinSignature: platform === 'darwin' && arch === 'arm64',
  };
  for (const [name, enabled] of Object.entries(FUSES)) {
    const index = FuseV1Options[name];
    if (typeof index !== 'number') throw new Error(`@electron/fuses has no fuse named ${name}`);
    config[index] = enabled;
  }
  return config;
}

module.exports = { FUSES, fuseConfig };
