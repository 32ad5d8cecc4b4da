import { describe, expect, it } from 'vitest';
import { firstRunState, helperWords, limitedState, runningState, troubleState, userModeState } from '../api/state-fixtures';
import { diagnoseHelper } from './diagnosis';
import {
  ENROL_LABEL,
  helperInstalled,
  INSTALL_LABEL,
  installLabel,
  limitedModeLosses,
  needsConsent,
  summarizeHelper,
  UPDATE_LABEL,
} from './summary';

describe('summarizeHelper', () => {
  it('a running helper needs no action', () => {
    const summary = summarizeHelper(runningState());
    expect(summary).toMatchObject({ tone: 'ok', title: 'Helper running', primary: null, secondary: null });
    expect(summary.detail).toContain('version 0.1.0');
  });

  it('limited mode offers the install, which says it asks for a password', () => {
    expect(summarizeHelper(limitedState())).toMatchObject({ title: 'Limited mode', primary: { kind: 'install', label: INSTALL_LABEL } });
  });

  it('user mode offers nothing to install', () => {
    const summary = summarizeHelper(userModeState());
    expect(summary).toMatchObject({ tone: 'neutral', title: 'User mode', primary: null, secondary: null });
    expect(summary.detail).toContain('ada');
  });

  it('an older helper offers the update and "Not now" once per bundled version', () => {
    const state = troubleState();
    expect(summarizeHelper(state)).toMatchObject({
      title: 'Helper update available',
      primary: { kind: 'update', label: UPDATE_LABEL },
      secondary: { kind: 'decline-update' },
    });
    state.settings.helperUpdateAskedFor = state.capabilities.helper.bundledVersion;
    expect(summarizeHelper(state).secondary).toBeNull();
    expect(summarizeHelper(state).primary?.kind).toBe('update');
  });

  it.each([
    ['not-running', 'Helper not running', 'install'],
    ['no-permission', 'Helper refuses this account', 'install'],
    ['error', 'Helper error', 'refresh'],
  ] as const)('%s: "%s" with one fix (%s), in the diagnosis\'s words', (condition, title, kind) => {
    const state = runningState();
    state.capabilities.helper = { ...state.capabilities.helper, state: condition, ...helperWords(condition) };
    const summary = summarizeHelper(state);
    // The install prompt is the fix: its button is there, so the card says what is true and leaves the fix to it.
    expect(summary).toMatchObject({ title, detail: diagnoseHelper(condition).sentence, primary: { kind } });
    // Whatever asks for a password says so on the button.
    for (const action of [summary.primary, summary.secondary]) {
      if (action?.kind === 'install') expect(action.label).toMatch(/\(asks for your password\)$/);
    }
  });

  it.each([
    ['impostor', 'Something else answers for the helper', 'error'],
    ['busy', 'Helper busy', 'warning'],
    ['upgrading', 'Helper updating', 'neutral'],
  ] as const)('%s: "%s", no install button (it would not help), and the fix in words', (condition, title, tone) => {
    const state = runningState();
    state.capabilities.helper = { ...state.capabilities.helper, state: 'error', ...helperWords(condition) };
    const said = diagnoseHelper(condition);
    expect(summarizeHelper(state)).toEqual({ tone, title, detail: `${said.sentence} ${said.fix}`, primary: { kind: 'refresh', label: 'Check again' }, secondary: null });
  });
});

describe('a helper installed for other accounts, not this one', () => {
  function notEnrolled(consent: 'undecided' | 'limited' | 'install' = 'undecided') {
    const state = firstRunState();
    state.settings.consent = consent;
    state.capabilities.helper = { ...state.capabilities.helper, state: 'not-enrolled', ...helperWords('not-enrolled') };
    return state;
  }

  it('says so, with the install (which enrols) asking for an administrator’s password', () => {
    expect(summarizeHelper(notEnrolled('install'))).toEqual({
      tone: 'warning',
      title: 'Helper not set up for you',
      detail: 'Berth’s helper is installed on this machine, but not for your account.',
      primary: { kind: 'install', label: 'Install helper (asks for an administrator’s password)' },
      secondary: null,
    });
    expect(installLabel(notEnrolled())).toBe(ENROL_LABEL);
    expect(installLabel(firstRunState())).toBe(INSTALL_LABEL);
  });

  it('in limited mode, stays calm but still offers the enrolment', () => {
    expect(summarizeHelper(notEnrolled('limited'))).toMatchObject({ tone: 'neutral', title: 'Limited mode', primary: { label: ENROL_LABEL } });
  });

  it('is a first run for this account (the consent screen), and offers no Uninstall: nothing is installed for it', () => {
    expect(needsConsent(notEnrolled())).toBe(true);
    expect(needsConsent(notEnrolled('limited'))).toBe(false);
    expect(helperInstalled(notEnrolled())).toBe(false);
  });
});

describe('needsConsent', () => {
  it('asks on first run only', () => {
    expect(needsConsent(firstRunState())).toBe(true);
    expect(needsConsent(limitedState())).toBe(false);
    expect(needsConsent(runningState())).toBe(false);
  });

  it('never asks on a user-mode machine, even undecided', () => {
    const state = userModeState();
    expect(state.settings.consent).toBe('undecided');
    expect(needsConsent(state)).toBe(false);
  });

  it('does not ask when an admin already installed the helper', () => {
    const state = runningState();
    state.settings.consent = 'undecided';
    expect(needsConsent(state)).toBe(false);
  });
});

describe('helperInstalled and limitedModeLosses', () => {
  it('tells installed from not installed', () => {
    expect(helperInstalled(runningState())).toBe(true);
    expect(helperInstalled(troubleState())).toBe(true);
    expect(helperInstalled(firstRunState())).toBe(false);
    expect(helperInstalled(userModeState())).toBe(false);
  });

  it('lists low ports only when the system forbids them', () => {
    const state = firstRunState();
    expect(limitedModeLosses(state)[0]).toMatch(/^Ports below 1024/);
    state.capabilities.directLowPortBind = { anyAddress: true, specificAddress: false, detail: 'macOS' };
    expect(limitedModeLosses(state)[0]).toMatch(/specific address/);
    state.capabilities.directLowPortBind = { anyAddress: true, specificAddress: true, detail: 'sysctl 0' };
    expect(limitedModeLosses(state).some((l) => l.includes('1024'))).toBe(false);
  });
});
