import { randomBytes } from 'node:crypto';
import { exec as sudoPromptExec } from '@vscode/sudo-prompt';

/**
 * Runs one fixed command as root through the OS authorization prompt
 * (@vscode/sudo-prompt: osascript on macOS, pkexec on Linux) and says what
 * happened in terms the app and the CLI can act on.
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
  | { kind: 'unavailable'; detail: string };

export interface ElevateOptions {
  /** Shown by the macOS prompt; letters, digits and spaces, at most 70 (sudo-prompt's rule). */
  name?: string;
}

/** sudo-prompt's fixed messages (index.js, 9.3.2); it replaces the error message with one of these. */
export const SUDO_PROMPT_PERMISSION_DENIED = 'User did not grant permission.';
export const SUDO_PROMPT_NO_POLKIT_AGENT = 'No polkit authentication agent found.';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * POSIX single-quote quoting: the shell takes everything up to the next `'`
 * literally, so only `'` itself needs the close-escape-reopen dance.
 * NUL cannot be passed in an argv at all, and a lone UTF-16 surrogate would
 * silently become U+FFFD on the way to the process: both are refused.
 */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new RangeError('an argument for the elevated command contains NUL');
  if (LONE_SURROGATE.test(arg)) throw new RangeError('an argument for the elevated command is not well-formed Unicode');
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * On Linux sudo-prompt pastes the command inside the double quotes of
 * `/bin/bash -c "..."`, which the user's /bin/sh parses first, escaping only
 * `"`. Inside double quotes sh still expands `$` and backquotes and eats
 * backslashes, so those are escaped here; sudo-prompt adds the `\"`.
 * (On macOS it writes the command to a script file verbatim.)
 */
function forDoubleQuotes(command: string): string {
  return command.replace(/[\\$`]/g, (c) => `\\${c}`);
}

/** sudo-prompt runs `cd "<cwd>"` in the user's shell first, with the same double-quote-only escaping. */
const UNQUOTABLE_IN_DOUBLE_QUOTES = /[\\$`]/;

const VALID_NAME = /^[a-z0-9 ]+$/i;

interface SudoPromptError extends Error {
  code?: unknown;
  signal?: unknown;
}

/** What sudo-prompt hands its callback (on Linux a success passes child_process's `null`, whatever its typings say). */
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
 * Maps sudo-prompt's callback arguments to an outcome. Pure, so the one
 * outcome a test cannot produce without a person (a dismissed prompt) is
 * covered with the exact values sudo-prompt was seen to produce.
 *
 * Elevated or not is decided by `marker`, a line with a fresh nonce that
 * runElevated's command prints first as root. sudo-prompt has its own marker
 * but only looks for it at the very start of stdout, and on Linux root's
 * ~/.bashrc runs before it (bash sources it when stdin is a socket, and
 * Node's stdio pipes are socketpairs): one `echo` there and sudo-prompt
 * reports a command that exited 3 as "User did not grant permission.".
 *
 * Not elevated, Linux: sudo-prompt replaces the message with
 * SUDO_PROMPT_NO_POLKIT_AGENT (stderr had "No authentication agent found") or
 * SUDO_PROMPT_PERMISSION_DENIED, keeping pkexec's exit code. pkexec's own
 * messages are never translated (it links no gettext), so matching is safe:
 *   126 "Request dismissed"  -> cancelled
 *   127 "Not authorized"     -> not-authorized
 *   anything else (no bus, no polkitd, not setuid) -> unavailable
 * Not elevated, macOS: no `code` file from the privileged script gives
 * PERMISSION_DENIED with no exit code, which a cancelled dialog produces.
 */
export function classifySudoPromptResult(
  result: SudoPromptResult,
  platform: NodeJS.Platform = process.platform,
  marker?: string,
): ElevationOutcome {
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
  if (message === SUDO_PROMPT_NO_POLKIT_AGENT) return { kind: 'no-agent' };
  if (message === SUDO_PROMPT_PERMISSION_DENIED) {
    if (platform === 'darwin') {
      return code === undefined ? { kind: 'cancelled' } : { kind: 'unavailable', detail: lastLine(stderr, message) };
    }
    if (code === 126 && /Request dismissed/.test(stderr)) return { kind: 'cancelled' };
    if (code === 127 && /Not authorized/.test(stderr)) return { kind: 'not-authorized' };
    return { kind: 'unavailable', detail: lastLine(stderr, signalled ? `pkexec was killed by ${String(error.signal)}` : message) };
  }
  if (message.startsWith('Command failed: ')) {
    // macOS reports the applet's own failure the same way; -128 is AppleScript's "User canceled".
    if (platform === 'darwin' && /\(-128\)|User cancell?ed/.test(message + stderr)) return { kind: 'cancelled' };
    if (code !== undefined || signalled) return { kind: 'failed', exitCode: code, stdout, stderr };
  }
  // Anything else never reached a prompt: pkexec missing, a bad name, fs errors.
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
  let command: string;
  try {
    command = argv.map(quoteArg).join(' ');
  } catch (error) {
    return refuse((error as Error).message);
  }
  const cwd = process.cwd();
  if (UNQUOTABLE_IN_DOUBLE_QUOTES.test(cwd)) {
    return refuse(`the working directory ${JSON.stringify(cwd)} contains \\, $ or \`, which the prompt tool cannot quote; start Berth from another directory`);
  }
  const marker = `berth-elevated-${randomBytes(16).toString('hex')}`;
  const script = `echo ${marker}; ${command}`;
  const sudoCommand = platform === 'linux' ? forDoubleQuotes(script) : script;
  return new Promise((resolve) => {
    sudoPromptExec(sudoCommand, { name }, (error, stdout, stderr) => {
      resolve(classifySudoPromptResult({ error, stdout, stderr }, platform, marker));
    });
  });
}

function firstLine(value: string): string {
  return value.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

/** One sentence for the app and the CLI: what happened and what to do next. */
export function describeOutcome(outcome: ElevationOutcome): string {
  switch (outcome.kind) {
    case 'approved':
      return 'You approved the request and the command ran with administrator rights; nothing more to do.';
    case 'failed': {
      const how = outcome.exitCode === undefined ? 'was stopped by a signal' : `failed with exit code ${outcome.exitCode}`;
      const why = firstLine(outcome.stderr);
      return `You approved the request, but the command ${how}${why ? ` (${why})` : ''}; try again, and report it if it keeps failing.`;
    }
    case 'cancelled':
      return 'The administrator prompt was cancelled, so nothing was changed; try again when you are ready.';
    case 'not-authorized':
      return 'Your account is not allowed to run this as administrator; ask an administrator to run it for you, or to set Berth up in user mode for your account (berth-helper install --user NAME, run as root).';
    case 'no-agent':
      return 'No password prompt could be shown because no polkit authentication agent is running (as over SSH or without a desktop session); run this from your desktop session, or as root with sudo.';
    case 'unavailable':
      return `Berth cannot ask for administrator rights here (${outcome.detail}); run this as root instead, for example with sudo.`;
  }
}
