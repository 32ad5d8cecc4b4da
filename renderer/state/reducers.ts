import type { ApiErrorCode, BackendState, PromptOutcome, SettingChange } from '../../common/api/backend-api';
import type { Settings } from '../../common/settings/schema';
import type { Connection } from '../bridge/types';
import { EMPTY_DRAFT, PORT_FIELDS, type PortDraft, type PortField } from '../logic/port-form';

/**
 * The renderer's state: a mirror of the backend's (replaced whole on every
 * snapshot; the backend is the single source of truth) plus what only this
 * window knows: calls in flight, their errors, form drafts. Pure functions, so
 * each transition is tested without React or a transport.
 */

export interface ActionError {
  code: ApiErrorCode;
  message: string;
}

export interface PromptResult {
  action: 'install' | 'uninstall';
  outcome: PromptOutcome;
}

export interface AuditView {
  lines: string[];
  error: string | null;
  loaded: boolean;
}

export interface UiState {
  backend: BackendState | null;
  connection: Connection;
  /** Calls in flight, by action key (e.g. "helper.install", "ports.remove:127.0.0.1:80"). */
  pending: Readonly<Record<string, true>>;
  /** The last failure of each action, by the same key; cleared when it runs again. */
  errors: Readonly<Record<string, ActionError>>;
  /**
   * Settings the user just changed, shown as chosen while the backend applies them: a radio or
   * switch that snapped back until the answer came would look like the click did nothing.
   */
  requestedSettings: Readonly<Partial<Record<SettingChange['key'], SettingChange['value']>>>;
  portDraft: PortDraft;
  /** Fields the user has typed in: their errors show as they type. */
  portTouched: Readonly<Record<PortField, boolean>>;
  /** After a submit attempt every field's error shows. */
  portSubmitted: boolean;
  portFormOpen: boolean;
  /** A prompt that did not end in "approved": shown until dismissed, never retried on its own. */
  promptResult: PromptResult | null;
  audit: AuditView;
  /** The app quit at the user's request: the page says so instead of "reconnecting" forever. */
  ended: boolean;
}

const UNTOUCHED: Record<PortField, boolean> = { address: false, port: false, targetHost: false, targetPort: false };

export function initialUiState(): UiState {
  return {
    backend: null,
    connection: { status: 'connecting', detail: null },
    pending: {},
    errors: {},
    requestedSettings: {},
    portDraft: { ...EMPTY_DRAFT },
    portTouched: { ...UNTOUCHED },
    portSubmitted: false,
    portFormOpen: false,
    promptResult: null,
    audit: { lines: [], error: null, loaded: false },
    ended: false,
  };
}

export function applySnapshot(state: UiState, snapshot: BackendState): UiState {
  return { ...state, backend: snapshot };
}

export function setConnection(state: UiState, connection: Connection): UiState {
  return { ...state, connection };
}

/** A copy of a record without one key. */
function without<V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
}

export function beginCall(state: UiState, key: string): UiState {
  return { ...state, pending: { ...state.pending, [key]: true }, errors: without(state.errors, key) };
}

export function finishCall(state: UiState, key: string, error?: ActionError): UiState {
  const errors = error === undefined ? state.errors : { ...state.errors, [key]: error };
  return { ...state, pending: without(state.pending, key), errors };
}

export function clearError(state: UiState, key: string): UiState {
  if (state.errors[key] === undefined) return state;
  return { ...state, errors: without(state.errors, key) };
}

export function requestSetting(state: UiState, change: SettingChange): UiState {
  return { ...state, requestedSettings: { ...state.requestedSettings, [change.key]: change.value } };
}

/** The change was applied or refused: from now on the backend's value shows (a refusal reverts it). */
export function settleSetting(state: UiState, key: SettingChange['key']): UiState {
  return { ...state, requestedSettings: without(state.requestedSettings, key) };
}

/** What a setting's control shows: the value being applied, else the backend's. */
export function shownSetting<K extends SettingChange['key']>(state: UiState, key: K): Settings[K] | undefined {
  const requested = state.requestedSettings[key];
  if (requested !== undefined) return requested as Settings[K];
  return state.backend?.settings[key];
}

/** The backend's answer to settings.set: its settings right now, until the next snapshot says more. */
export function applySettings(state: UiState, settings: Settings): UiState {
  if (state.backend === null) return state;
  return { ...state, backend: { ...state.backend, settings } };
}

export const ADD_PORT_KEY = 'ports.add';

export function editDraft(state: UiState, field: PortField, value: string): UiState {
  // A server error was about what was sent; once the user edits, it no longer describes the form.
  const cleared = clearError(state, ADD_PORT_KEY);
  return { ...cleared, portDraft: { ...state.portDraft, [field]: value }, portTouched: { ...state.portTouched, [field]: true } };
}

export function markSubmitted(state: UiState): UiState {
  return { ...state, portSubmitted: true };
}

export function resetDraft(state: UiState, open = false): UiState {
  return { ...clearError(state, ADD_PORT_KEY), portDraft: { ...EMPTY_DRAFT }, portTouched: { ...UNTOUCHED }, portSubmitted: false, portFormOpen: open };
}

export function setPortFormOpen(state: UiState, open: boolean): UiState {
  return open ? { ...state, portFormOpen: true } : resetDraft(state, false);
}

/** Which fields show their error now: typed in, or after a submit attempt. */
export function visibleFields(touched: Readonly<Record<PortField, boolean>>, submitted: boolean): PortField[] {
  return PORT_FIELDS.filter((f) => submitted || touched[f]);
}

/** An approved prompt clears an earlier failure; any other outcome is kept for the user to read. */
export function recordPrompt(state: UiState, action: PromptResult['action'], outcome: PromptOutcome | null): UiState {
  if (outcome === null || outcome.kind === 'approved') return { ...state, promptResult: null };
  return { ...state, promptResult: { action, outcome } };
}

export function dismissPrompt(state: UiState): UiState {
  return { ...state, promptResult: null };
}

export function setAudit(state: UiState, audit: AuditView): UiState {
  return { ...state, audit };
}
