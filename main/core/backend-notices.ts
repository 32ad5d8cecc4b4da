import type { HelperStateName } from '../../common/api/capabilities';
import { explainOutcome, type ElevationOutcome } from '../install/elevate';
import type { NoticeContext, NoticeSpec } from './notices';
import type { ApplyReport } from './system-settings';

/**
 * Each situation the backend tells the user about, as a keyed notice with the
 * condition under which it is still true. One key per situation: the same
 * thing raised again replaces the notice, it does not add a second one.
 */

const helperIs =
  (...states: HelperStateName[]) =>
  (state: NoticeContext): boolean =>
    states.includes(state.capabilities.helper.state);
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

/**
 * A prompt that did not end in approval: what happened and what to do, with
 * pkexec's or the installer's own words as at most one line of detail. An
 * install that failed is true until the helper runs (an administrator may
 * install it meanwhile); an uninstall that failed, while the helper is still
 * installed. A "Try again" is offered only where trying again can work.
 */
export function promptNotice(kind: 'install' | 'uninstall', outcome: ElevationOutcome): NoticeSpec | undefined {
  if (outcome.kind === 'approved' || outcome.kind === 'unsafe-location') return undefined;
  const { text, detail } = explainOutcome(outcome);
  const retry = kind === 'install' && (outcome.kind === 'cancelled' || outcome.kind === 'failed');
  return {
    key: `${PROMPT_NOTICES}.${kind}`,
    level: 'warning',
    text,
    detail,
    fix: retry ? { label: 'Try again', method: 'helper.install' } : null,
    holds: kind === 'install' ? helperIsNot('running', 'user-mode') : helperIsNot('not-installed', 'not-enrolled'),
  };
}

/** This account's uninstall took only its enrolment: true while the helper is there for the others. */
export function stillServesOthers(): NoticeSpec {
  return {
    key: `${PROMPT_NOTICES}.uninstall`,
    level: 'info',
    text: 'The helper no longer serves your account; it stays installed for the other accounts on this computer.',
    holds: helperIs('not-enrolled'),
  };
}
