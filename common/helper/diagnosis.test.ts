import { describe, expect, it } from 'vitest';
import { diagnoseHelper, helperCondition, helperDiagnosis, INSTALL_COMMAND, needsHelper, type HelperCondition } from './diagnosis';

/** What no sentence a user reads may hold: internal codes, socket paths, errnos. */
const CODE_OR_PATH = /HELPER_NEEDED|HELPER_UNAVAILABLE|PORT_IN_USE|UNAUTHORIZED|BUSY|ECONNREFUSED|ENOENT|EACCES|\.sock\b|\/run\/|not-installed|not-running|needs-update/;

describe('diagnoseHelper', () => {
  it.each(helperCondition.options)('%s: one sentence that holds no code or socket path, and a fix that fits the schema', (condition) => {
    const d = diagnoseHelper(condition, { version: '0.0.9', bundledVersion: '0.1.0', detail: 'connect ENOENT /run/berth/helper.sock' });
    expect(helperDiagnosis.parse(d)).toEqual(d);
    expect(d.condition).toBe(condition);
    expect(d.sentence).toMatch(/^[A-Z].*\.$/);
    expect(d.sentence).not.toMatch(CODE_OR_PATH);
    if (d.fix !== null) {
      expect(d.fix).toMatch(/^[A-Z].*\.$/);
      expect(d.fix).not.toMatch(CODE_OR_PATH);
    }
    // The technical cause is kept, apart from the words.
    expect(d.detail).toBe('connect ENOENT /run/berth/helper.sock');
  });

  it.each<[HelperCondition, string, 'install' | 'update' | null]>([
    ['not-installed', 'The helper is not installed.', 'install'],
    ['not-enrolled', "Berth's helper is installed on this machine, but not for your account.", 'install'],
    ['no-permission', 'The helper on this machine was set up by an older Berth for another account only, so this account cannot reach it.', 'install'],
    ['needs-update', 'The helper is version 0.0.9; this Berth brings 0.1.0.', 'update'],
    ['error', 'The helper did not answer as it should.', 'install'],
  ])('%s: the install prompt is the fix, and the command is berth helper install', (condition, sentence, prompt) => {
    const d = diagnoseHelper(condition, { version: '0.0.9', bundledVersion: '0.1.0' });
    expect(d).toMatchObject({ sentence, prompt, command: INSTALL_COMMAND });
    expect(d.fix).toContain(`"${INSTALL_COMMAND}"`);
  });

  it('an account joining an installed helper is told whose password it takes', () => {
    expect(diagnoseHelper('not-enrolled').fix).toBe(
      'Add your account: choose "Install helper" in Berth, or run "berth helper install" (it asks for an administrator\'s password).',
    );
  });

  it.each<[HelperCondition, string, string]>([
    ['impostor', "A program that is not Berth's helper (it runs as uid 1001, not root) answers where the helper should, so Berth does not use it.", 'An administrator should stop that program'],
    ['busy', 'The helper is busy or shutting down, and did not take the request.', 'Try again in a moment.'],
    ['upgrading', 'The helper is being installed or updated right now.', 'Wait until that finishes, then try again.'],
  ])('%s: "install it" would be wrong advice, so the prompt is not the fix', (condition, sentence, fix) => {
    const d = diagnoseHelper(condition, { impostorUid: 1001 });
    expect(d).toMatchObject({ sentence, prompt: null, command: null });
    expect(d.fix).toContain(fix);
  });

  it('not running: the command that starts it, by service manager; installing again when the app has none', () => {
    const start = "sudo '/opt/My Berth/resources/helper/berth-helper' start";
    const standalone = diagnoseHelper('not-running', { serviceManager: 'standalone', startCommand: start });
    expect(standalone).toMatchObject({
      sentence: 'The helper is installed but not running: this machine has no service manager, so nothing starts it at boot.',
      fix: `Start it: run "${start}", or choose "Start helper" in Berth (it asks for your password).`,
      command: start,
      prompt: 'install',
    });
    expect(diagnoseHelper('not-running', { serviceManager: 'systemd', startCommand: start }).sentence).toBe(
      'The helper is installed, but its service is not listening (systemd normally keeps it).',
    );
    expect(diagnoseHelper('not-running', { serviceManager: 'launchd', startCommand: null })).toMatchObject({
      sentence: 'The helper is installed, but its service is not listening (launchd normally keeps it).',
      command: INSTALL_COMMAND,
    });
  });

  it('needs update: a rebuild of the same version, and a protocol this app cannot speak, are said as such', () => {
    expect(diagnoseHelper('needs-update', { version: '0.1.0', bundledVersion: '0.1.0', sameVersionBuild: true }).sentence).toBe(
      'The installed helper 0.1.0 is a different build from the one this Berth brings.',
    );
    expect(diagnoseHelper('needs-update', { protocolMismatch: true }).sentence).toBe('The installed helper cannot talk to this version of Berth.');
  });

  it('running and user mode need no prompt', () => {
    expect(diagnoseHelper('running', { version: '0.1.0' })).toMatchObject({ sentence: 'The helper, version 0.1.0, is running.', fix: null, prompt: null });
    expect(diagnoseHelper('user-mode', { userModeUser: 'ada' })).toMatchObject({
      sentence: 'An administrator set Berth up for ada without a helper: ports below 1024 work only where the system allows them.',
      prompt: null,
    });
  });

  it('needsHelper puts what needs it first, then the sentence and the fix', () => {
    expect(needsHelper('Port 80', diagnoseHelper('busy'))).toBe(
      'Port 80 needs the privileged helper. The helper is busy or shutting down, and did not take the request. Try again in a moment.',
    );
    expect(needsHelper('Port 80', diagnoseHelper('running'))).toBe('Port 80 needs the privileged helper. The helper is running.');
  });
});
