import { spawnSync } from 'node:child_process';

/**
 * macOS: before the password prompt runs the helper as root, check that the
 * helper and its addon are signed by Berth's own team (Developer ID, hardened
 * runtime), the way the Linux flow checks who can change them. A copy of the
 * app anyone could write to, or a swapped file, fails here instead of
 * running as root. Electron-free and small: it asks /usr/bin/codesign.
 * (It cannot run on the Linux test machines; its parsing and decision are
 * unit-tested with codesign's real output.)
 */

/** The team that signs Berth's releases, baked into the bundle at build time (scripts/build.mjs, BERTH_MAC_TEAM_ID); empty in a build without one. */
declare const __BERTH_MAC_TEAM_ID__: string | undefined;
export const BUILD_TEAM_ID: string = typeof __BERTH_MAC_TEAM_ID__ === 'string' ? __BERTH_MAC_TEAM_ID__ : '';

const CODESIGN = '/usr/bin/codesign';
/** Apple team identifiers: ten upper-case letters and digits (also what makes it safe inside the requirement's quotes). */
export const TEAM_ID = /^[A-Z0-9]{10}$/;

/** What `codesign -dv --verbose=2 FILE` prints (on stderr) that the decision needs. */
export interface SignatureDisplay {
  identifier: string | null;
  /** null: "TeamIdentifier=not set" (ad hoc or unsigned). */
  teamIdentifier: string | null;
  /** The hardened runtime flag: without it, DYLD_* variables could inject code into the root process. */
  hardenedRuntime: boolean;
}

export function parseCodesignDisplay(text: string): SignatureDisplay {
  const field = (name: string): string | null => {
    const match = new RegExp(`^${name}=(.*)$`, 'm').exec(text);
    return match === null ? null : match[1]!.trim();
  };
  const team = field('TeamIdentifier');
  const flags = /^CodeDirectory .*flags=0x[0-9a-f]+\(([^)]*)\)/m.exec(text)?.[1] ?? '';
  return {
    identifier: field('Identifier'),
    teamIdentifier: team === null || team === 'not set' ? null : team,
    hardenedRuntime: flags.split(',').includes('runtime'),
  };
}

/** The designated requirement every elevated file must meet: Apple-anchored, issued to our team. */
export function teamRequirement(team: string): string {
  if (!TEAM_ID.test(team)) throw new RangeError(`"${team}" is not an Apple team identifier`);
  return `=anchor apple generic and certificate leaf[subject.OU] = "${team}"`;
}

export interface CodesignRun {
  status: number | null;
  stderr: string;
}

/** Runs codesign with fixed arguments; injectable so that the decision can be tested where codesign does not exist. */
export type RunCodesign = (args: readonly string[]) => CodesignRun;

const runCodesign: RunCodesign = (args) => {
  const run = spawnSync(CODESIGN, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
  return { status: run.status, stderr: run.error !== undefined ? `${CODESIGN}: ${run.error.message}` : run.stderr };
};

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'no reason given';
}

/**
 * Every file must (1) pass `codesign --verify --strict` against our team's
 * requirement, which checks the signature over the file's current bytes and
 * the Apple chain, and (2) name our team and carry the hardened runtime.
 */
export function verifySignatures(files: readonly string[], team: string, run: RunCodesign = runCodesign): SignatureVerdict {
  if (!TEAM_ID.test(team)) return { ok: false, reason: `this build of Berth names no valid signing team ("${team}")` };
  const requirement = teamRequirement(team);
  for (const file of files) {
    const verify = run(['--verify', '--strict', `-R${requirement}`, file]);
    if (verify.status !== 0) return { ok: false, reason: `${file}: ${firstLine(verify.stderr)}` };
    const display = run(['-dv', '--verbose=2', file]);
    if (display.status !== 0) return { ok: false, reason: `${file}: ${firstLine(display.stderr)}` };
    const shown = parseCodesignDisplay(display.stderr);
    if (shown.teamIdentifier !== team) {
      return { ok: false, reason: `${file} is signed by team ${shown.teamIdentifier ?? '(none)'}, not Berth's ${team}` };
    }
    if (!shown.hardenedRuntime) return { ok: false, reason: `${file} is signed without the hardened runtime` };
  }
  return { ok: true };
}

/**
 * Whether the helper is vouched for by its signature rather than by who
 * owns its folders: a signed macOS build. A Finder drag-install leaves
 * /Applications/Berth.app owned by the user who dragged it, so on macOS the
 * ownership rule alone would warn on every ordinary install; there the
 * signature check below (Berth's team, hardened runtime) is the guard.
 */
export function signatureVouches(platform: NodeJS.Platform = process.platform, team: string = BUILD_TEAM_ID): boolean {
  return platform === 'darwin' && team !== '';
}

/**
 * The macOS decision before the prompt. A build without a team (a developer's
 * own, unsigned) has no signature to check: the who-can-change warning is
 * its guard. A build with one refuses any file that is not ours.
 */
export function helperSignatureVerdict(
  files: readonly string[],
  platform: NodeJS.Platform = process.platform,
  team: string = BUILD_TEAM_ID,
  run: RunCodesign = runCodesign,
): SignatureVerdict {
  if (platform !== 'darwin' || team === '') return { ok: true };
  return verifySignatures(files, team, run);
}
