import { describe, expect, it } from 'vitest';
import { limitedState, runningState } from '../../common/api/state-fixtures';
import { EMPTY_DRAFT } from '../logic/port-form';
import {
  ADD_PORT_KEY,
  applySettings,
  applySnapshot,
  beginCall,
  clearError,
  editDraft,
  finishCall,
  initialUiState,
  markSubmitted,
  recordPrompt,
  resetDraft,
  setPortFormOpen,
  visibleFields,
} from './reducers';

describe('renderer reducers', () => {
  it('a snapshot replaces the mirrored state whole', () => {
    const first = applySnapshot(initialUiState(), runningState());
    const next = applySnapshot(first, limitedState());
    expect(next.backend).toEqual(limitedState());
    expect(first.backend).toEqual(runningState());
  });

  it('a call is pending until it finishes; a failure stays under its key until it runs again', () => {
    let s = beginCall(initialUiState(), 'helper.install');
    expect(s.pending).toEqual({ 'helper.install': true });
    s = finishCall(s, 'helper.install', { code: 'FAILED', message: 'no' });
    expect(s.pending).toEqual({});
    expect(s.errors['helper.install']).toEqual({ code: 'FAILED', message: 'no' });
    s = beginCall(s, 'helper.install');
    expect(s.errors).toEqual({});
    s = finishCall(s, 'helper.install');
    expect(s).toMatchObject({ pending: {}, errors: {} });
  });

  it('clearError leaves other errors alone', () => {
    let s = finishCall(beginCall(initialUiState(), 'a'), 'a', { code: 'BUSY', message: 'busy' });
    s = finishCall(beginCall(s, 'b'), 'b', { code: 'LOCKED', message: 'locked' });
    s = clearError(s, 'a');
    expect(Object.keys(s.errors)).toEqual(['b']);
    expect(clearError(s, 'missing')).toBe(s);
  });

  it('settings.set answers patch the mirror until the next snapshot', () => {
    const s = applySnapshot(initialUiState(), runningState());
    const settings = { ...runningState().settings, startAtLogin: true };
    expect(applySettings(s, settings).backend?.settings.startAtLogin).toBe(true);
    // Without a mirror there is nothing to patch.
    expect(applySettings(initialUiState(), settings).backend).toBeNull();
  });

  it('editing the draft marks the field and drops a stale server error', () => {
    let s = finishCall(beginCall(initialUiState(), ADD_PORT_KEY), ADD_PORT_KEY, { code: 'PORT_IN_USE', message: 'in use' });
    s = editDraft(s, 'port', '81');
    expect(s.portDraft).toEqual({ ...EMPTY_DRAFT, port: '81' });
    expect(s.errors[ADD_PORT_KEY]).toBeUndefined();
    expect(visibleFields(s.portTouched, s.portSubmitted)).toEqual(['port']);
    s = markSubmitted(s);
    expect(visibleFields(s.portTouched, s.portSubmitted)).toEqual(['address', 'port', 'targetHost', 'targetPort']);
  });

  it('closing the form forgets the draft; opening keeps it', () => {
    let s = setPortFormOpen(editDraft(initialUiState(), 'port', '80'), true);
    expect(s).toMatchObject({ portFormOpen: true, portDraft: { port: '80' } });
    s = setPortFormOpen(s, false);
    expect(s).toMatchObject({ portFormOpen: false, portDraft: EMPTY_DRAFT, portSubmitted: false });
    expect(resetDraft(markSubmitted(s), true)).toMatchObject({ portFormOpen: true, portSubmitted: false });
  });

  it('keeps a prompt that was not approved, and clears it when one is', () => {
    const cancelled = recordPrompt(initialUiState(), 'install', { kind: 'cancelled', message: 'You cancelled.' });
    expect(cancelled.promptResult).toEqual({ action: 'install', outcome: { kind: 'cancelled', message: 'You cancelled.' } });
    expect(recordPrompt(cancelled, 'install', { kind: 'approved', message: 'ok' }).promptResult).toBeNull();
    // "Not now" answers null: nothing to report.
    expect(recordPrompt(cancelled, 'install', null).promptResult).toBeNull();
  });
});
