import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILD_TEAM_ID, helperSignatureVerdict, signatureVouches, parseCodesignDisplay, teamRequirement, verifySignatures, type CodesignRun } from './code-signature';

/** `codesign -dv --verbose=2` of an Electron app's Developer ID-signed, hardened helper (macOS 14). */
const SIGNED = `Executable=/Applications/Berth.app/Contents/Resources/helper/berth-helper
Identifier=berth-helper
Format=Mach-O thin (arm64)
CodeDirectory v=20500 size=741384 flags=0x10000(runtime) hashes=23157+7 location=embedded
Signature size=8987
Authority=Developer ID Application: Berth Developers (ABCDE12345)
Authority=Developer ID Certification Authority
Authority=Apple Root CA
Timestamp=2 Dec 2026 at 10:00:00
Info.plist=not bound
TeamIdentifier=ABCDE12345
Runtime Version=14.0.0
Sealed Resources=none
Internal requirements count=1 size=180
`;
/** The same file signed ad hoc (codesign -s -), as a local build or a tampered copy re-signed is. */
const ADHOC = `Executable=/Users/u/Berth.app/Contents/Resources/helper/berth-helper
Identifier=berth-helper
Format=Mach-O thin (arm64)
CodeDirectory v=20400 size=741309 flags=0x2(adhoc) hashes=23157+2 location=embedded
Signature=adhoc
Info.plist=not bound
TeamIdentifier=not set
Sealed Resources=none
Internal requirements count=0 size=12
`;
const UNSIGNED = '/Users/u/Berth.app/Contents/Resources/helper/berth-helper: code object is not signed at all\n';

const TEAM = 'ABCDE12345';
const FILES = ['/Applications/Berth.app/Contents/Resources/helper/berth-helper', '/Applications/Berth.app/Contents/Resources/helper/berth_native.node'];

/** codesign as it answers for files signed as `display` shows; `verifies`: whether --verify passes. */
function codesign(display: string, verifies: boolean, calls: string[][] = []): (args: readonly string[]) => CodesignRun {
  return (args) => {
    calls.push([...args]);
    if (args[0] === '--verify') {
      return verifies ? { status: 0, stderr: '' } : { status: 3, stderr: `${args.at(-1)}: test-requirement: code failed to satisfy specified code requirement(s)\n` };
    }
    return display === UNSIGNED ? { status: 1, stderr: display } : { status: 0, stderr: display };
  };
}

describe('parseCodesignDisplay', () => {
  it('reads the identifier, the team and the hardened runtime flag', () => {
    expect(parseCodesignDisplay(SIGNED)).toEqual({ identifier: 'berth-helper', teamIdentifier: TEAM, hardenedRuntime: true });
    expect(parseCodesignDisplay(ADHOC)).toEqual({ identifier: 'berth-helper', teamIdentifier: null, hardenedRuntime: false });
    expect(parseCodesignDisplay(UNSIGNED)).toEqual({ identifier: null, teamIdentifier: null, hardenedRuntime: false });
  });

  it('takes the runtime flag from the flag names, not from any "runtime" text', () => {
    expect(parseCodesignDisplay('CodeDirectory v=20500 size=1 flags=0x10002(adhoc,runtime) hashes=1\n').hardenedRuntime).toBe(true);
    expect(parseCodesignDisplay('CodeDirectory v=20500 size=1 flags=0x0(none) hashes=1\nRuntime Version=14.0.0\n').hardenedRuntime).toBe(false);
  });
});

describe('teamRequirement', () => {
  it('quotes only real team identifiers: nothing else reaches the requirement language', () => {
    expect(teamRequirement(TEAM)).toBe('=anchor apple generic and certificate leaf[subject.OU] = "ABCDE12345"');
    fc.assert(
      fc.property(fc.string().filter((s) => !/^[A-Z0-9]{10}$/.test(s)), (team) => {
        expect(() => teamRequirement(team)).toThrow(/not an Apple team identifier/);
      }),
    );
  });
});

describe('verifySignatures: the macOS decision before the prompt', () => {
  it("accepts files that meet the team's requirement, name the team and are hardened; checks every file", () => {
    const calls: string[][] = [];
    expect(verifySignatures(FILES, TEAM, codesign(SIGNED, true, calls))).toEqual({ ok: true });
    expect(calls).toEqual(
      FILES.flatMap((file) => [
        ['--verify', '--strict', `-R${teamRequirement(TEAM)}`, file],
        ['-dv', '--verbose=2', file],
      ]),
    );
  });

  it('refuses a file that fails verification (changed bytes, another team, no Apple chain), naming it and why', () => {
    expect(verifySignatures(FILES, TEAM, codesign(SIGNED, false))).toEqual({
      ok: false,
      reason: `${FILES[0]}: ${FILES[0]}: test-requirement: code failed to satisfy specified code requirement(s)`,
    });
  });

  it('refuses an ad hoc or unsigned file, another team, and no hardened runtime', () => {
    expect(verifySignatures(FILES, TEAM, codesign(ADHOC, true))).toEqual({ ok: false, reason: `${FILES[0]} is signed by team (none), not Berth's ${TEAM}` });
    expect(verifySignatures(FILES, TEAM, codesign(UNSIGNED, true))).toEqual({ ok: false, reason: `${FILES[0]}: ${UNSIGNED.trim()}` });
    expect(verifySignatures(FILES, TEAM, codesign(SIGNED.replace(`TeamIdentifier=${TEAM}`, 'TeamIdentifier=ZZZZZ99999'), true))).toEqual({
      ok: false,
      reason: `${FILES[0]} is signed by team ZZZZZ99999, not Berth's ${TEAM}`,
    });
    expect(verifySignatures(FILES, TEAM, codesign(SIGNED.replace('flags=0x10000(runtime)', 'flags=0x0(none)'), true))).toEqual({
      ok: false,
      reason: `${FILES[0]} is signed without the hardened runtime`,
    });
  });

  it('refuses when the build names no valid team, without running codesign', () => {
    const calls: string[][] = [];
    expect(verifySignatures(FILES, 'abc" or true', codesign(SIGNED, true, calls)).ok).toBe(false);
    expect(calls).toEqual([]);
  });

  it('checks only on macOS, and only in a build that names its team (an unsigned build relies on the location warning)', () => {
    const calls: string[][] = [];
    expect(helperSignatureVerdict(FILES, 'linux', TEAM, codesign(ADHOC, false, calls))).toEqual({ ok: true });
    expect(helperSignatureVerdict(FILES, 'darwin', '', codesign(ADHOC, false, calls))).toEqual({ ok: true });
    expect(calls).toEqual([]);
    expect(helperSignatureVerdict(FILES, 'darwin', TEAM, codesign(ADHOC, true, calls)).ok).toBe(false);
    // This test build bakes no team.
    expect(BUILD_TEAM_ID).toBe('');
  });

  it('lets the signature, not the folder owner, vouch for a signed macOS build (a Finder drag-install is the user\'s)', () => {
    expect(signatureVouches('darwin', TEAM)).toBe(true);
    expect(signatureVouches('darwin', '')).toBe(false);
    expect(signatureVouches('linux', TEAM)).toBe(false);
  });
});
