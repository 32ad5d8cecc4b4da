import { z } from 'zod';

/**
 * The one diagnosis of the helper: what is true now, in one sentence, and
 * the one fix that works, for every surface that talks about the helper
 * (`berth helper status`, a port that failed for want of the helper, the
 * popover and Settings card, the port panel). Pure: main/core finds the
 * condition (helper-status.ts, installed-helper.ts) and the words come from
 * here only, so no surface can give different advice for the same machine.
 *
 * Internal codes (the condition, ApiError codes) stay in JSON and the API;
 * the words carry no code and no socket path.
 */

/** What is wrong with the helper, finer than the coarse state (HelperState) the tray and exit codes use. */
export const helperCondition = z.enum([
  'running',
  /** An administrator set the machine up without a helper (`install --user`). */
  'user-mode',
  'not-installed',
  /** Installed (its config is there), but nothing answers on its socket. */
  'not-running',
  /** Installed for other accounts of this machine, not this one: installing enrols it. */
  'not-enrolled',
  /** An older install's socket belongs to another account (0600): this account may not even connect. */
  'no-permission',
  /** Something that is not root answers on the helper's socket: Berth does not talk to it. */
  'impostor',
  /** The helper said BUSY, or hung up before answering (at its connection cap, or shutting down). */
  'busy',
  /** An install or update of the helper is under way right now (the installer's marker, common/install-marker.ts). */
  'upgrading',
  /** Older than this app, a different build of the same version, or a protocol this app cannot speak. */
  'needs-update',
  /** Anything else: a broken reply, a timeout, an unexpected error (its text is in `detail`). */
  'error',
]);
export type HelperCondition = z.infer<typeof helperCondition>;

export const helperDiagnosis = z.strictObject({
  condition: helperCondition,
  /** What is true now, one sentence. */
  sentence: z.string(),
  /** The one fix that works, one sentence that names the command or the app's button; null when nothing needs fixing. */
  fix: z.string().nullable(),
  /** The fix as a terminal command (for the CLI and a copy button); null when the fix is not a command. */
  command: z.string().nullable(),
  /** The install prompt is the fix: 'install' (install, enrol, start, reinstall) or 'update'; null when it is not. */
  prompt: z.enum(['install', 'update']).nullable(),
  /** The technical cause (an errno, the error's own text), for JSON and logs; never the status line. */
  detail: z.string().nullable(),
});
export type HelperDiagnosis = z.infer<typeof helperDiagnosis>;

/** What the condition alone does not say; each field matters to one condition only. */
export interface DiagnosisFacts {
  /** The installed helper's version, when it answered. */
  version?: string | null;
  /** The version this app brings. */
  bundledVersion?: string;
  /** needs-update: the versions match, the program's bytes do not (a rebuild). */
  sameVersionBuild?: boolean;
  /** needs-update: the helper refused this app's protocol versions (no version is known then). */
  protocolMismatch?: boolean;
  /** not-running: what runs the helper here. */
  serviceManager?: 'systemd' | 'launchd' | 'standalone';
  /** not-running: the root command that starts the installed helper, quoted for a shell; null when the app has none. */
  startCommand?: string | null;
  /** impostor: who answers on the socket. */
  impostorUid?: number;
  /** user-mode: the account an administrator set Berth up for. */
  userModeUser?: string;
  /** The technical cause, kept for JSON and logs. */
  detail?: string | null;
}

export const INSTALL_COMMAND = 'berth helper install';

const install = (what: string, button: string, whose: 'your' | "an administrator's"): string =>
  `${what}: choose "${button}" in Berth, or run "${INSTALL_COMMAND}" (it asks for ${whose} password).`;

function diagnosis(
  condition: HelperCondition,
  sentence: string,
  fix: string | null,
  facts: DiagnosisFacts,
  extra: { command?: string | null; prompt?: HelperDiagnosis['prompt'] } = {},
): HelperDiagnosis {
  return { condition, sentence, fix, command: extra.command ?? null, prompt: extra.prompt ?? null, detail: facts.detail ?? null };
}

export function diagnoseHelper(condition: HelperCondition, facts: DiagnosisFacts = {}): HelperDiagnosis {
  switch (condition) {
    case 'running':
      return diagnosis(condition, `The helper${facts.version ? `, version ${facts.version},` : ''} is running.`, null, facts);
    case 'user-mode':
      return diagnosis(
        condition,
        `An administrator set Berth up${facts.userModeUser ? ` for ${facts.userModeUser}` : ''} without a helper: ports below 1024 work only where the system allows them.`,
        'Nothing to install here; ask your administrator if you need more.',
        facts,
      );
    case 'not-installed':
      return diagnosis(condition, 'The helper is not installed.', install('Install it', 'Install helper', 'your'), facts, {
        command: INSTALL_COMMAND,
        prompt: 'install',
      });
    case 'not-running': {
      // Without the install's facts (a socket no config names) only this much is known.
      const why =
        facts.serviceManager === undefined
          ? 'The helper is not running.'
          : facts.serviceManager === 'standalone'
            ? 'The helper is installed but not running: this machine has no service manager, so nothing starts it at boot.'
            : `The helper is installed, but its service is not listening (${facts.serviceManager === 'launchd' ? 'launchd' : 'systemd'} normally keeps it).`;
      const command = facts.startCommand ?? null;
      const fix =
        command === null
          ? install('Start it by installing it again', 'Start helper', 'your')
          : `Start it: run "${command}", or choose "Start helper" in Berth (it asks for your password).`;
      return diagnosis(condition, why, fix, facts, { command: command ?? INSTALL_COMMAND, prompt: 'install' });
    }
    case 'not-enrolled':
      return diagnosis(
        condition,
        "Berth's helper is installed on this machine, but not for your account.",
        install('Add your account', 'Install helper', "an administrator's"),
        facts,
        { command: INSTALL_COMMAND, prompt: 'install' },
      );
    case 'no-permission':
      return diagnosis(
        condition,
        'The helper on this machine was set up by an older Berth for another account only, so this account cannot reach it.',
        install('Install it again to serve every account', 'Reinstall helper', "an administrator's"),
        facts,
        { command: INSTALL_COMMAND, prompt: 'install' },
      );
    case 'impostor':
      return diagnosis(
        condition,
        `A program that is not Berth's helper${facts.impostorUid !== undefined ? ` (it runs as uid ${facts.impostorUid}, not root)` : ''} answers where the helper should, so Berth does not use it.`,
        'An administrator should stop that program and then install the helper again; installing now would not help while it is there.',
        facts,
      );
    case 'busy':
      return diagnosis(condition, 'The helper is busy or shutting down, and did not take the request.', 'Try again in a moment.', facts);
    case 'upgrading':
      return diagnosis(condition, 'The helper is being installed or updated right now.', 'Wait until that finishes, then try again.', facts);
    case 'needs-update': {
      const sentence = facts.protocolMismatch
        ? 'The installed helper cannot talk to this version of Berth.'
        : facts.sameVersionBuild
          ? `The installed helper${facts.version ? ` ${facts.version}` : ''} is a different build from the one this Berth brings.`
          : `The helper is version ${facts.version ?? 'unknown'}; this Berth brings ${facts.bundledVersion ?? 'a newer one'}.`;
      return diagnosis(condition, sentence, install('Update it', 'Update helper', 'your'), facts, { command: INSTALL_COMMAND, prompt: 'update' });
    }
    case 'error':
      return diagnosis(
        condition,
        'The helper did not answer as it should.',
        install('If checking again does not help, install it again', 'Reinstall helper', 'your'),
        facts,
        { command: INSTALL_COMMAND, prompt: 'install' },
      );
  }
}

/** Words for a feature that needs the helper: "Port 80 needs the helper. <sentence> <fix>". */
export function needsHelper(what: string, diagnosis: Pick<HelperDiagnosis, 'sentence' | 'fix'>): string {
  return [`${what} needs the privileged helper.`, diagnosis.sentence, diagnosis.fix].filter((part) => part !== null).join(' ');
}
