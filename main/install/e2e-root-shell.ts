/**
 * TEST BUILDS ONLY: the macOS end-to-end suite's stand-in for the password
 * prompt. A CI runner has no one to type a password into osascript's
 * dialog, but its user has passwordless sudo, so a build made with
 * BERTH_E2E_ROOT_SHELL=1 (scripts/build.mjs; e2e/run-macos.sh) runs the very
 * command the prompt would run through `sudo -n` instead, and the launchd
 * install path runs for real.
 *
 * Every other build has the flag false: elevate.ts's one call here sits in a
 * branch esbuild drops, and with it this module. The marker lets
 * scripts/after-pack.cjs refuse any package whose files carry this code.
 */

/** Also in scripts/after-pack.cjs (the test in e2e-root-shell.test.ts keeps them equal). */
export const E2E_ROOT_SHELL_MARKER = 'berth-e2e-root-shell: a test build, never a release';

/**
 * The argv that runs `argv` as root without a prompt: `sudo -n` fails rather
 * than ask. The marker doubles as sudo's password prompt text, which -n never
 * shows; it keeps the marker in every bundle that keeps this function.
 */
export function rootShellArgv(argv: readonly string[]): string[] {
  return ['/usr/bin/sudo', '-n', '-p', E2E_ROOT_SHELL_MARKER, '--', ...argv];
}
