import type { BackendState } from '../api/backend-api';
import { helperUpdateKey } from '../api/capabilities';

/**
 * The helper's state at a glance, and the one action that fixes it. One
 * mapping for the popover and Settings, so both always say the same thing.
 */

/** What a button does; every kind that needs root says so in its label. */
export type HelperActionKind = 'install' | 'update' | 'decline-update' | 'refresh';

export interface HelperAction {
  kind: HelperActionKind;
  label: string;
}

export type Tone = 'ok' | 'neutral' | 'warning' | 'error';

export interface HelperSummary {
  tone: Tone;
  title: string;
  detail: string;
  primary: HelperAction | null;
  secondary: HelperAction | null;
}

export const INSTALL_LABEL = 'Install helper (asks for your password)';
/**
 * The install on a machine where the helper serves other accounts: it enrols
 * this one, and the prompt wants an administrator (who may not be this user).
 */
export const ENROL_LABEL = 'Install helper (asks for an administrator’s password)';
/** What a not-enrolled account is told, in the popover, Settings and the consent screen. */
export const NOT_ENROLLED_DETAIL = 'Berth’s helper is installed on this machine, but not for your account.';
/** The install button once the screen has said that someone other than root can change the helper. */
export const INSTALL_ANYWAY_LABEL = 'Install anyway (asks for your password)';
/** The heading over capabilities.helper.installWarning. */
export const UNSAFE_LOCATION_TITLE = 'Berth is in a folder that is not root’s alone';
export const UPDATE_LABEL = 'Update helper (asks for your password)';
export const START_LABEL = 'Start helper (asks for your password)';
export const REINSTALL_LABEL = 'Reinstall helper (asks for your password)';
export const CHECK_AGAIN_LABEL = 'Check again';

/** Whether a helper is installed for this account (so Settings offers Reinstall and Uninstall). */
export function helperInstalled(state: BackendState): boolean {
  const s = state.capabilities.helper.state;
  return s !== 'not-installed' && s !== 'not-enrolled' && s !== 'user-mode';
}

/**
 * Show the consent screen: first run, not answered yet, and not a user-mode
 * machine (which never prompts). A helper that serves other accounts only is
 * a first run for this one: it learns what the helper does before it enrols.
 */
export function needsConsent(state: BackendState): boolean {
  const helper = state.capabilities.helper.state;
  return (
    state.settings.consent === 'undecided' &&
    state.capabilities.userMode === null &&
    (helper === 'not-installed' || helper === 'not-enrolled')
  );
}

/** The install button's label: an account joining an installed helper needs an administrator's password. */
export function installLabel(state: BackendState): string {
  return state.capabilities.helper.state === 'not-enrolled' ? ENROL_LABEL : INSTALL_LABEL;
}

/**
 * The card's words come from the backend's diagnosis (common/helper/diagnosis.ts):
 * its sentence, and its fix where no button here does it.
 */
export function summarizeHelper(state: BackendState): HelperSummary {
  const helper = state.capabilities.helper;
  const { diagnosis } = helper;
  const said = diagnosis.prompt === null && diagnosis.fix !== null ? `${diagnosis.sentence} ${diagnosis.fix}` : diagnosis.sentence;
  const refresh: HelperAction = { kind: 'refresh', label: CHECK_AGAIN_LABEL };
  const limited = state.settings.consent === 'limited';
  switch (diagnosis.condition) {
    case 'running':
      return { tone: 'ok', title: 'Helper running', detail: diagnosis.sentence, primary: null, secondary: null };
    case 'user-mode':
      return { tone: 'neutral', title: 'User mode', detail: diagnosis.sentence, primary: null, secondary: null };
    case 'not-installed':
      if (limited) {
        return {
          tone: 'neutral',
          title: 'Limited mode',
          detail: 'The helper is not installed: ports below 1024 work only where the system allows them, and CLI tools go in your own folder.',
          primary: { kind: 'install', label: INSTALL_LABEL },
          secondary: null,
        };
      }
      return { tone: 'warning', title: 'Helper not installed', detail: said, primary: { kind: 'install', label: INSTALL_LABEL }, secondary: null };
    case 'not-enrolled':
      return {
        tone: limited ? 'neutral' : 'warning',
        title: limited ? 'Limited mode' : 'Helper not set up for you',
        detail: NOT_ENROLLED_DETAIL,
        primary: { kind: 'install', label: ENROL_LABEL },
        secondary: null,
      };
    case 'not-running':
      return { tone: 'warning', title: 'Helper not running', detail: said, primary: { kind: 'install', label: START_LABEL }, secondary: refresh };
    case 'no-permission':
      return { tone: 'error', title: 'Helper refuses this account', detail: said, primary: { kind: 'install', label: REINSTALL_LABEL }, secondary: refresh };
    case 'impostor':
      // Installing would not help while the other program holds the socket: the fix is an administrator's.
      return { tone: 'error', title: 'Something else answers for the helper', detail: said, primary: refresh, secondary: null };
    case 'busy':
      return { tone: 'warning', title: 'Helper busy', detail: said, primary: refresh, secondary: null };
    case 'upgrading':
      return { tone: 'neutral', title: 'Helper updating', detail: said, primary: refresh, secondary: null };
    case 'needs-update': {
      // Asked once per bundled build: after "Not now", the update stays offered but the "Not now" goes away.
      const declined = state.settings.helperUpdateAskedFor === helperUpdateKey(helper);
      return {
        tone: 'warning',
        title: 'Helper update available',
        detail: said,
        primary: { kind: 'update', label: UPDATE_LABEL },
        secondary: declined ? null : { kind: 'decline-update', label: 'Not now' },
      };
    }
    case 'error':
      return { tone: 'error', title: 'Helper error', detail: said, primary: refresh, secondary: { kind: 'install', label: REINSTALL_LABEL } };
  }
}

/** What stops working in limited mode, for the consent screen's "Not now". */
export function limitedModeLosses(state: BackendState): string[] {
  const direct = state.capabilities.directLowPortBind;
  const ports =
    direct.anyAddress && direct.specificAddress
      ? null
      : direct.anyAddress
        ? 'Ports below 1024 on a specific address such as 127.0.0.1 (the system allows them only on all addresses).'
        : 'Ports below 1024, such as 80 and 443.';
  return [
    ...(ports ? [ports] : []),
    'The berth command in /usr/local/bin: it goes in ~/.berth/bin instead, which you add to your PATH.',
    'The localhost and berth.internal lines in /etc/hosts.',
    'The privileged trace in diagnostics bundles.',
  ];
}
