import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { exec as sudoPromptExec } from '@vscode/sudo-prompt';
import { rootShellArgv } from './e2e-root-shell';

/** True only in a test build (scripts/build.mjs with BERTH_E2E_ROOT_SHELL=1); see e2e-root-shell.ts. */
declare const __BERTH_E2E_ROOT_SHELL__: boolean | undefined;

/**
 * Runs one fixed command as root through the OS authorization prompt and
 * says what happened in terms the app and the CLI can act on. Linux: pkexec
 * runs the program itself (no shell), so polkit names the program's own
 * action where one is installed (Berth's dev.berth.helper.install, with its
 * own message). macOS: @vscode/sudo-prompt (osascript).
 */
export type ElevationOutcome =
  | { kind: 'approved'; stdout: string; stderr: string }
  /** Authorized, but the command itself failed (exitCode undefined: killed by a signal). */
  | { kind: 'failed'; exitCode: number | undefined; stdout: string; stderr: string }
  /** The user dismissed the prompt. */
  | { kind: 'cancelled' }
  /** polkit refused this user outright. */
  | { kind: 'not-authorized' }
  /** No polkit authentication agent could show a prompt (no desktop session, SSH). */
  | { kind: 'no-agent' }
  /** No prompt is possible here, or the request was refused before one was shown. */
  | { kind: 'unavailable'; detail: string }
  /** Not asked: someone other than root can change the program (who-can-change.ts), and the user did not confirm. */
  | { kind: 'unsafe-location'; warning: string }
  /** Not asked: on macOS the helper is not signed by Berth's team (code-signature.ts). */
  | { kind: 'untrusted-helper'; detail: string };

export interface ElevateOptions {
  /** Shown by the macOS prompt (on Linux, polkit's action names itself); letters, digits and spaces, at most 70 (sudo-prompt's rule). */
  name?: string;
}

/** sudo-prompt's fixed message (index.js, 9.3.2) when the privileged script never ran. */
export const SUDO_PROMPT_PERMISSION_DENIED = 'User did not grant permission.';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * POSIX single-quote quoting: the shell takes everything up to the next `'`
 * literally, so only `'` itself needs the close-escape-reopen dance.
 * NUL cannot be passed in an argv at all, and a lone UTF-16 surrogate would
 * silently become U+FFFD on the way to the process: both are refused.
 */
export function quoteArg(arg: string): string {
  checkArgument(arg);
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** What no argv can carry intact, quoted or not. */
function checkArgument(arg: string): void {
  if (arg.includes('\0')) throw new RangeError('an argument for the elevated command contains NUL');
  if (LONE_SURROGATE.test(arg)) throw new RangeError('an argument for the elevated command is not well-formed Unicode');
}

/** sudo-prompt (macOS) runs `cd "<cwd>"` in a shell first, escaping only `"`. */
const UNQUOTABLE_IN_DOUBLE_QUOTES = /[\\$`]/;

const VALID_NAME = /^[a-z0-9 ]+$/i;

/** The one pkexec Berth runs: a fixed path, never a PATH lookup (sudo-prompt would also take kdesudo, which knows no polkit actions). */
export const PKEXEC = '/usr/bin/pkexec';
/** Enough for any installer report; more is cut, not buffered without bound. */
const MAX_OUTPUT = 1024 * 1024;

/** pkexec's own words when it refuses (pkexec.c, 0.105 to 124; never translated: it links no gettext). */
const PKEXEC_REFUSED = 'Error executing command as another user: ';
export const PKEXEC_DISMISSED = `${PKEXEC_REFUSED}Request dismissed\n`;
export const PKEXEC_NOT_AUTHORIZED = `${PKEXEC_REFUSED}Not authorized\n\nThis incident has been reported.\n`;
export const PKEXEC_NO_AGENT = `${PKEXEC_REFUSED}No authentication agent found.\n`;
/** pkexec's other failures before it runs anything: no bus, no polkitd, a missing program, not setuid. */
const PKEXEC_OWN_ERROR = /^(Error (getting authority|accessing |checking for authorization)|Refusing to render service|pkexec must be setuid root|Cannot run program)/;

/** What pkexec left behind when it ended. */
export interface PkexecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Maps pkexec's end to an outcome. pkexec runs the program in its own place
 * (exec), so the exit code is the program's once polkit said yes, and
 * pkexec's own (126 dismissed, 127 anything else) when it refused. A refusal
 * is recognised only by exactly pkexec's text on stderr and nothing on stdout:
 * a program that printed anything else, or exited otherwise, ran. (A program
 * that prints exactly pkexec's refusal and exits with its code would read as
 * that refusal; the only program Berth elevates, its helper, never does.)
 */
export function classifyPkexecResult({ code, signal, stdout, stderr }: PkexecResult): ElevationOutcome {
  if (code === 0) return { kind: 'approved', stdout, stderr };
  if (signal !== null) return { kind: 'failed', exitCode: undefined, stdout, stderr };
  if (stdout === '' && (code === 126 || code === 127)) {
    if (code === 126 && stderr === PKEXEC_DISMISSED) return { kind: 'cancelled' };
    if (code === 127 && stderr === PKEXEC_NOT_AUTHORIZED) return { kind: 'not-authorized' };
    if (code === 127 && stderr === PKEXEC_NO_AGENT) return { kind: 'no-agent' };
    if (code === 127 && PKEXEC_OWN_ERROR.test(stderr)) return { kind: 'unavailable', detail: lastLine(stderr, 'pkexec failed') };
  }
  return { kind: 'failed', exitCode: code ?? undefined, stdout, stderr };
}

/** What a finished child printed (each stream capped at MAX_OUTPUT) and how it ended. */
interface Captured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `program` as pkexec would run the command: in /, with only a safe
 * PATH in its environment, no stdin; resolves with what it printed, or
 * with the spawn error.
 */
function runCaptured(program: string, args: readonly string[]): Promise<Captured | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (into.reduce((n, b) => n + b.length, 0) < MAX_OUTPUT) into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    child.once('close', (code, signal) => {
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).subarray(0, MAX_OUTPUT).toString('utf8');
      resolve({ code, signal, stdout: text(out), stderr: text(err) });
    });
  });
}

/**
 * Root needs no prompt: the command runs as it is, with the same clean
 * environment and working directory pkexec would give it.
 */
async function runAsRoot(argv: readonly string[]): Promise<ElevationOutcome> {
  const ran = await runCaptured(argv[0]!, argv.slice(1));
  if (ran instanceof Error) return refuse(`cannot start ${argv[0]}: ${ran.message}`);
  const { code, stdout, stderr } = ran;
  return code === 0 ? { kind: 'approved', stdout, stderr } : { kind: 'failed', exitCode: code ?? undefined, stdout, stderr };
}

/**
 * pkexec with the program as its own argv: no shell, so nothing is quoted or
 * expanded, and polkit checks the action annotated for this program's path
 * (`org.freedesktop.policykit.exec.path`), with its own message and defaults;
 * any other path gets the generic org.freedesktop.policykit.exec. The
 * internal text agent stays off (no terminal to ask on: a desktop agent asks,
 * or the answer is no-agent). pkexec gives the program a clean environment
 * and runs it in / whatever it is given; it starts in / here too.
 */
async function runPkexec(argv: readonly string[]): Promise<ElevationOutcome> {
  const ran = await runCaptured(PKEXEC, ['--disable-internal-agent', ...argv]);
  if (ran instanceof Error) return refuse(ran.code === 'ENOENT' ? `${PKEXEC} is not installed` : `cannot start ${PKEXEC}: ${ran.message}`);
  return classifyPkexecResult(ran);
}

interface SudoPromptError extends Error {
  code?: unknown;
  signal?: unknown;
}

/** What sudo-prompt hands its callback. */
export interface SudoPromptResult {
  error: SudoPromptError | null | undefined;
  stdout: string | Buffer | undefined;
  stderr: string | Buffer | undefined;
}

function text(value: string | Buffer | undefined): string {
  return value === undefined ? '' : value.toString();
}

/** The last non-empty line of what the prompt tool printed, for `unavailable` details. */
function lastLine(stderr: string, fallback: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.at(-1) ?? fallback;
}

/**
 * Maps sudo-prompt's callback arguments (macOS: osascript) to an outcome.
 * Pure, so the one outcome a test cannot produce without a person (a
 * dismissed prompt) is covered with the exact values sudo-prompt produces.
 *
 * Elevated or not is decided by `marker`, a line with a fresh nonce that
 * runElevated's command prints first as root: sudo-prompt's own marker must
 * open stdout, and a shell's start-up files may print before it.
 * Not elevated: no `code` file from the privileged script gives
 * PERMISSION_DENIED with no exit code, which a cancelled dialog produces.
 */
export function classifySudoPromptResult(result: SudoPromptResult, marker?: string): ElevationOutcome {
  let stdout = text(result.stdout);
  const stderr = text(result.stderr);
  const { error } = result;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const signalled = typeof error?.signal === 'string';

  const markerAt = marker === undefined ? -1 : stdout.indexOf(`${marker}\n`);
  if (marker !== undefined && markerAt >= 0) {
    // Whatever came before the marker is root's shell start-up noise, not the command's.
    stdout = stdout.slice(markerAt + marker.length + 1);
    if (error === undefined || error === null) return { kind: 'approved', stdout, stderr };
    if (code !== undefined || signalled) return { kind: 'failed', exitCode: code, stdout, stderr };
  }
  if (error === undefined || error === null) return { kind: 'approved', stdout, stderr };

  const message = error.message;
  if (message === SUDO_PROMPT_PERMISSION_DENIED) {
    return code === undefined ? { kind: 'cancelled' } : { kind: 'unavailable', detail: lastLine(stderr, message) };
  }
  if (message.startsWith('Command failed: ')) {
    // The applet reports its own failure this way too; -128 is AppleScript's "User canceled".
    if (/\(-128\)|User cancell?ed/.test(message + stderr)) return { kind: 'cancelled' };
    if (code !== undefined || signalled) return { kind: 'failed', exitCode: code, stdout, stderr };
  }
  // Anything else never reached a prompt: a bad name, fs errors.
  return { kind: 'unavailable', detail: message };
}

function refuse(detail: string): ElevationOutcome {
  return { kind: 'unavailable', detail };
}

export async function runElevated(argv: readonly string[], options: ElevateOptions = {}): Promise<ElevationOutcome> {
  const platform = process.platform;
  if (platform !== 'linux' && platform !== 'darwin') {
    return refuse(`Berth asks for administrator rights only on macOS and Linux, not on ${platform}`);
  }
  const name = options.name ?? 'Berth';
  if (!VALID_NAME.test(name) || name.trim().length === 0 || name.length > 70) {
    return refuse(`the prompt name "${name}" must be letters, digits and spaces, at most 70 characters`);
  }
  const program = argv[0];
  // pkexec clears PATH, and a PATH lookup is a hijack waiting to happen: only absolute paths.
  if (program === undefined || !program.startsWith('/')) {
    return refuse(`the command must start with an absolute path, not "${program ?? ''}"`);
  }
  try {
    argv.forEach(checkArgument);
  } catch (error) {
    return refuse((error as Error).message);
  }
  // Already root (an admin's shell, sudo berth): there is no one to ask.
  if (process.getuid?.() === 0) return runAsRoot(argv);
  if (platform === 'linux') return runPkexec(argv);
  // Test builds only, and only here: the macOS end-to-end suite's runner has no one at the prompt but
  // passwordless sudo. Written inline so esbuild folds it to `false` and drops it from every other build.
  if (typeof __BERTH_E2E_ROOT_SHELL__ === 'boolean' && __BERTH_E2E_ROOT_SHELL__) return runAsRoot(rootShellArgv(argv));
  const command = argv.map(quoteArg).join(' ');
  const cwd = process.cwd();
  if (UNQUOTABLE_IN_DOUBLE_QUOTES.test(cwd)) {
    return refuse(`the working directory ${JSON.stringify(cwd)} contains a backslash, a dollar sign or a backtick, which the prompt tool cannot quote; start Berth from another directory`);
  }
  const marker = `berth-elevated-${randomBytes(16).toString('hex')}`;
  return new Promise((resolve) => {
    sudoPromptExec(`echo ${marker}; ${command}`, { name }, (error, stdout, stderr) => {
      resolve(classifySudoPromptResult({ error, stdout, stderr }, marker));
    });
  });
}

/** Details longer than this are cut: a notice shows one line of them. */
const MAX_DETAIL = 160;

/** The first non-empty line, trimmed and cut to one short line: what the system said, never a page of it. */
function firstLine(value: string): string {
  const line = value.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL - 1)}…` : line;
}

/** What happened, the system's own words for it (one line, or none), and what to do next. */
interface OutcomeParts {
  what: string;
  detail: string | null;
  todo: string;
}

function outcomeParts(outcome: Exclude<ElevationOutcome, { kind: 'unsafe-location' }>): OutcomeParts {
  switch (outcome.kind) {
    case 'approved':
      return { what: 'You approved the request and the command ran with administrator rights', detail: null, todo: 'nothing more to do' };
    case 'failed': {
      const how = outcome.exitCode === undefined ? 'was stopped by a signal' : `failed with exit code ${outcome.exitCode}`;
      return { what: `You approved the request, but the command ${how}`, detail: firstLine(outcome.stderr) || null, todo: 'try again, and report it if it keeps failing' };
    }
    case 'cancelled':
      return { what: 'The administrator prompt was cancelled, so nothing was changed', detail: null, todo: 'try again when you are ready' };
    case 'not-authorized':
      return {
        what: 'Your account is not allowed to run this as administrator',
        detail: null,
        todo: 'ask an administrator to run it for you, or to set Berth up in user mode for your account (berth-helper install --user NAME, run as root)',
      };
    case 'no-agent':
      return {
        what: 'No password prompt could be shown because no polkit authentication agent is running (as over SSH or without a desktop session)',
        detail: null,
        todo: 'run this from your desktop session, or as root with sudo',
      };
    case 'unavailable':
      return { what: 'Berth cannot ask for administrator rights here', detail: firstLine(outcome.detail) || null, todo: 'run this as root instead, for example with sudo' };
    case 'untrusted-helper':
      return {
        what: 'Berth did not ask for your password because the helper it would run as root is not the one Berth signed',
        detail: firstLine(outcome.detail) || null,
        todo: 'reinstall Berth from its official download',
      };
  }
}

/** One sentence for the CLI and the prompt's reply: what happened (with the system's words), and what to do next. */
export function describeOutcome(outcome: ElevationOutcome): string {
  if (outcome.kind === 'unsafe-location') return outcome.warning;
  const { what, detail, todo } = outcomeParts(outcome);
  return `${what}${detail !== null ? ` (${detail})` : ''}; ${todo}.`;
}

/**
 * The same for a notice: the sentence without the system's words, which
 * come apart as at most one line of detail (pkexec's and the installer's
 * raw text never fills the screen).
 */
export function explainOutcome(outcome: ElevationOutcome): { text: string; detail: string | null } {
  if (outcome.kind === 'unsafe-location') return { text: outcome.warning, detail: null };
  const { what, detail, todo } = outcomeParts(outcome);
  return { text: `${what}; ${todo}.`, detail };
}
