import type { HelperStateName } from '../../common/api/capabilities';
import { explainOutcome, type ElevationOutcome } from '../install/elevate';
import type { NoticeContext, NoticeSpec } from './notices';
import type { ApplyReport } from './system-settings';

/**
 * Each situation the backend tells the user about, as a keyed notice with the
 * condition under which it is still true. One key per situation: the same
 * thing raised again replaces the notice, it does not add a second one.
 */

const helperIsNot =
  (...states: HelperStateName[]) =>
  (state: NoticeContext): boolean =>
    !states.includes(state.capabilities.helper.state);

/** A file Berth could not read at start (kept aside, defaults used): true until the user has read it. */
export function fileRecovered(file: 'settings' | 'mappings', text: string): NoticeSpec {
  return { key: `file.${file}`, level: 'warning', text };
}

/** Every notice about these settings, from their last application: an earlier report of them is no longer news. */
export function settingKeys(keys: readonly string[]): string[] {
  return keys.map((key) => `setting.${key}`);
}

/**
 * What applying settings could not do, one notice per setting: a refused CLI
 * location (the reason, an error) wins over that setting's smaller problems.
 * A problem that only waits for the helper goes once the helper runs.
 */
export function settingNotices(report: ApplyReport): NoticeSpec[] {
  const notices = new Map<string, NoticeSpec>();
  for (const problem of report.problems) {
    const key = `setting.${problem.setting}`;
    notices.set(
      key,
      problem.needsHelper === true
        ? { key, level: 'warning', text: problem.text, holds: helperIsNot('running', 'needs-update') }
        : { key, level: 'warning', text: problem.text, detail: problem.detail ?? null, fix: { label: 'Open Settings', method: 'app.openSettings' } },
    );
  }
  if (report.refused !== undefined) {
    notices.set('setting.cliToolsLocation', { key: 'setting.cliToolsLocation', level: 'error', text: report.refused.reason });
  }
  return [...notices.values()];
}

/** The notices about the helper's prompts: a new prompt's outcome replaces the last one's. */
export const PROMPT_NOTICES = 'helper';

type HelperNow = Pick<NoticeContext['capabilities']['helper'], 'state' | 'version'>;

/**
 * True while the helper is as the prompt left it: any change (an
 * administrator installed it meanwhile, it was updated, set up in user mode,
 * removed) makes what the prompt's outcome said old news.
 */
const helperUnchanged = (after: HelperNow) => (state: NoticeContext): boolean =>
  state.capabilities.helper.state === after.state && state.capabilities.helper.version === after.version;

/**
 * What a prompt came to, for the user: a refusal or failure says what
 * happened and what to do, with pkexec's or the installer's own words as at
 * most one line of detail, and offers "Try again" only where trying again
 * can work; an uninstall that took only this account's enrolment says the
 * helper stays for the others. Each is true while the helper stays as the
 * prompt left it (`after`: its state once the prompt was over).
 */
export function promptNotice(kind: 'install' | 'uninstall', outcome: ElevationOutcome, after: HelperNow): NoticeSpec | undefined {
  const key = `${PROMPT_NOTICES}.${kind}`;
  const holds = helperUnchanged(after);
  if (outcome.kind === 'approved') {
    if (kind === 'install' || after.state !== 'not-enrolled') return undefined;
    const text = 'The helper no longer serves your account; it stays installed for the other accounts on this computer.';
    return { key, level: 'info', text, holds };
  }
  // Not asked at all: the reply says why, and the screens show the unsafe location.
  if (outcome.kind === 'unsafe-location') return undefined;
  const { text, detail } = explainOutcome(outcome);
  const retry = kind === 'install' && (outcome.kind === 'cancelled' || outcome.kind === 'failed');
  return { key, level: 'warning', text, detail, fix: retry ? { label: 'Try again', method: 'helper.install' } : null, holds };
}
