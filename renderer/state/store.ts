import { createStore, type StoreApi } from 'zustand/vanilla';
import type { SettingChange } from '../../common/api/backend-api';
import { mappingId, protocolOf, withProtocol, type MappingKey } from '../../common/ports/mapping';
import type { RendererApi } from '../bridge/types';
import { toApiError } from '../bridge/validate';
import { checkDraft, type PortField } from '../logic/port-form';
import {
  ADD_PORT_KEY,
  applySettings,
  requestSetting,
  settleSetting,
  applySnapshot,
  beginCall,
  clearError,
  dismissPrompt,
  editDraft,
  finishCall,
  initialUiState,
  markSubmitted,
  recordPrompt,
  resetDraft,
  setAudit,
  setConnection,
  setPortFormOpen,
  type UiState,
} from './reducers';

/** Every command goes to the backend; the store only mirrors what comes back. */
/** An elevated helper command's confirmation (common/api/backend-api: allowUnsafeLocation). */
export interface ElevatedOptions {
  allowUnsafeLocation?: boolean;
}

export interface Actions {
  /** Follows the backend's state and the connection; returns the stop. */
  start(): () => void;
  /** `allowUnsafeLocation`: the user chose to go on after capabilities.helper.installWarning. */
  decideConsent(choice: 'install' | 'limited', options?: ElevatedOptions): Promise<void>;
  installHelper(options?: ElevatedOptions): Promise<void>;
  uninstallHelper(options?: ElevatedOptions): Promise<boolean>;
  declineUpdate(): Promise<void>;
  refreshCapabilities(): Promise<void>;
  setSetting(change: SettingChange): Promise<void>;
  dismissNotice(key: string): Promise<void>;
  dismissPrompt(): void;
  editPortField(field: PortField, value: string): void;
  setPortFormOpen(open: boolean): void;
  /** Validates the draft; sends it only when valid. True when the port was published. */
  addPort(): Promise<boolean>;
  removePort(key: MappingKey): Promise<void>;
  diagnose(): Promise<void>;
  loadAudit(): Promise<void>;
  quit(): Promise<void>;
  /** True when a Settings window was opened by the app; false: show Settings in this page. */
  openSettings(): Promise<boolean>;
  clearError(key: string): void;
}

export type BerthStore = UiState & { actions: Actions; kind: RendererApi['kind'] };

export const removeKey = (key: MappingKey): string => `ports.remove:${mappingId(key)}`;
export const settingKey = (key: SettingChange['key']): string => `settings.set:${key}`;
export const noticeKey = (key: string): string => `notices.dismiss:${key}`;

export function createBerthStore(api: RendererApi): StoreApi<BerthStore> {
  return createStore<BerthStore>()((set, get) => {
    const update = (fn: (state: UiState) => UiState): void => set((s) => fn(s));

    /**
     * One call under an action key: a second click while it runs does nothing,
     * and a failure is kept under the key for the control that made it.
     */
    async function run<T>(key: string, call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
      if (get().pending[key]) return { ok: false };
      update((s) => beginCall(s, key));
      try {
        const value = await call();
        update((s) => finishCall(s, key));
        return { ok: true, value };
      } catch (error) {
        const { code, message } = toApiError(error);
        update((s) => finishCall(s, key, { code, message }));
        return { ok: false };
      }
    }

    async function prompt(action: 'install' | 'uninstall', options: ElevatedOptions = {}): Promise<boolean> {
      const method = action === 'install' ? 'helper.install' : 'helper.uninstall';
      const result = await run(method, () => api.call(method, options));
      if (result.ok) update((s) => recordPrompt(s, action, result.value));
      return result.ok && result.value.kind === 'approved';
    }

    const actions: Actions = {
      start() {
        const stopState = api.subscribe((snapshot) => update((s) => applySnapshot(s, snapshot)));
        const stopConnection = api.onConnection((connection) => update((s) => setConnection(s, connection)));
        return () => {
          stopState();
          stopConnection();
        };
      },
      async decideConsent(choice, options = {}) {
        const result = await run('consent.decide', () => api.call('consent.decide', { choice, ...options }));
        // A cancelled or refused prompt lands in limited mode (the backend records it); we only tell the user why.
        if (result.ok) update((s) => recordPrompt(s, 'install', result.value));
      },
      async installHelper(options) {
        await prompt('install', options);
      },
      uninstallHelper: (options) => prompt('uninstall', options),
      async declineUpdate() {
        await run('helper.declineUpdate', () => api.call('helper.declineUpdate', {}));
      },
      async refreshCapabilities() {
        await run('capabilities.refresh', () => api.call('capabilities.refresh', {}));
      },
      async setSetting(change) {
        if (get().pending[settingKey(change.key)]) return;
        update((s) => requestSetting(s, change));
        const result = await run(settingKey(change.key), () => api.call('settings.set', change));
        update((s) => settleSetting(result.ok ? applySettings(s, result.value) : s, change.key));
      },
      async dismissNotice(key) {
        await run(noticeKey(key), () => api.call('notices.dismiss', { key }));
      },
      dismissPrompt: () => update(dismissPrompt),
      editPortField: (field, value) => update((s) => editDraft(s, field, value)),
      setPortFormOpen: (open) => update((s) => setPortFormOpen(s, open)),
      async addPort() {
        const state = get();
        const check = checkDraft(state.portDraft, state.backend?.ports ?? []);
        update(markSubmitted);
        if (check.spec === null) return false;
        const spec = check.spec;
        const result = await run(ADD_PORT_KEY, () => api.call('ports.add', spec));
        if (result.ok) update((s) => resetDraft(s, false));
        return result.ok;
      },
      async removePort(key) {
        // Only the key (a whole spec may be passed): its address, port and protocol.
        await run(removeKey(key), () => api.call('ports.remove', withProtocol<MappingKey>({ address: key.address, port: key.port }, protocolOf(key))));
      },
      async diagnose() {
        await run('diagnose', () => api.call('diagnose', {}));
      },
      async loadAudit() {
        const result = await run('audit.tail', () => api.call('audit.tail', { lines: 100 }));
        if (result.ok) update((s) => setAudit(s, { lines: result.value.lines, error: result.value.error, loaded: true }));
      },
      async quit() {
        const result = await run('app.quit', () => api.call('app.quit', {}));
        if (result.ok) set({ ended: true });
      },
      async openSettings() {
        // Only Electron has other windows; a browser tab shows Settings itself.
        if (api.kind !== 'electron') return false;
        const result = await run('app.openSettings', () => api.call('app.openSettings', {}));
        return result.ok && result.value.opened;
      },
      clearError: (key) => update((s) => clearError(s, key)),
    };

    return { ...initialUiState(), actions, kind: api.kind };
  });
}
