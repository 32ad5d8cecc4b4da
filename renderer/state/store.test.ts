import { describe, expect, it } from 'vitest';
import type { ApiMethod } from '../../common/api/backend-api';
import type { PromptOutcome } from '../../common/api/backend-api';
import type { RendererApi } from '../bridge/types';
import { firstRunState, limitedState, lockedPolicyState, runningState } from '../../common/api/state-fixtures';
import { createStaticApi } from '../dev/static-api';
import { ADD_PORT_KEY, shownSetting } from './reducers';
import { createBerthStore, removeKey, settingKey } from './store';

/** The store over the in-page API (the preview's), with every call it makes recorded. */
function setup(state = runningState(), promptOutcome: PromptOutcome['kind'] = 'approved') {
  const api = createStaticApi(state, { promptOutcome });
  const calls: ApiMethod[] = [];
  const recorded: RendererApi = {
    ...api,
    call: (method, params) => {
      calls.push(method);
      return api.call(method, params);
    },
  };
  const store = createBerthStore(recorded);
  const stop = store.getState().actions.start();
  return { store, api, calls, stop, actions: store.getState().actions };
}

describe('renderer store', () => {
  it('mirrors every snapshot and the connection', () => {
    const { store, api, stop } = setup();
    expect(store.getState().backend).toEqual(api.current());
    expect(store.getState().connection.status).toBe('open');
    stop();
  });

  it('consent → install (approved): the helper runs and nothing is left to report', async () => {
    const { store, actions } = setup(firstRunState());
    await actions.decideConsent('install');
    const s = store.getState();
    expect(s.backend?.capabilities.helper.state).toBe('running');
    expect(s.backend?.settings.consent).toBe('install');
    expect(s).toMatchObject({ promptResult: null, pending: {}, errors: {} });
  });

  it('consent → install, prompt cancelled: limited mode with the message, and no second prompt', async () => {
    const { store, actions, calls } = setup(firstRunState(), 'cancelled');
    await actions.decideConsent('install');
    const s = store.getState();
    expect(s.backend?.settings.consent).toBe('limited');
    expect(s.backend?.prompt).toBeNull();
    expect(s.promptResult).toEqual({ action: 'install', outcome: { kind: 'cancelled', message: 'You cancelled the password prompt.' } });
    expect(calls.filter((m) => m === 'consent.decide' || m === 'helper.install')).toEqual(['consent.decide']);
    actions.dismissPrompt();
    expect(store.getState().promptResult).toBeNull();
  });

  it('consent → install from a folder someone other than root can change: no prompt, the question stays open, until "Install anyway"', async () => {
    const warning = 'The helper Berth would install can be changed without an administrator password (/home/ada/Berth is owned by you).';
    const state = firstRunState();
    state.capabilities.helper.installWarning = warning;
    const { store, actions } = setup(state);
    await actions.decideConsent('install');
    expect(store.getState().backend?.settings.consent).toBe(state.settings.consent);
    expect(store.getState().backend?.capabilities.helper.state).toBe(state.capabilities.helper.state);
    expect(store.getState().promptResult).toEqual({ action: 'install', outcome: { kind: 'unsafe-location', message: warning } });
    await actions.decideConsent('install', { allowUnsafeLocation: true });
    expect(store.getState().backend?.capabilities.helper.state).toBe('running');
    expect(store.getState().backend?.settings.consent).toBe('install');
  });

  it('consent → "Not now": limited mode, no prompt, nothing to report', async () => {
    const { store, actions } = setup(firstRunState());
    await actions.decideConsent('limited');
    expect(store.getState().backend?.settings.consent).toBe('limited');
    expect(store.getState().promptResult).toBeNull();
  });

  it('an invalid draft is never sent; every field error shows', async () => {
    const { store, actions, calls } = setup();
    actions.setPortFormOpen(true);
    actions.editPortField('address', 'localhost');
    expect(await actions.addPort()).toBe(false);
    expect(calls).not.toContain('ports.add');
    expect(store.getState()).toMatchObject({ portSubmitted: true, portFormOpen: true, portDraft: { address: 'localhost' } });
  });

  it('a duplicate is caught before sending', async () => {
    const { actions, calls } = setup();
    actions.editPortField('port', '80');
    actions.editPortField('targetPort', '8080');
    expect(await actions.addPort()).toBe(false);
    expect(calls).not.toContain('ports.add');
  });

  it('a valid draft is published, then the form closes empty', async () => {
    const { store, actions } = setup();
    actions.setPortFormOpen(true);
    actions.editPortField('port', '8081');
    actions.editPortField('targetPort', '3000');
    expect(await actions.addPort()).toBe(true);
    const s = store.getState();
    expect(s.backend?.ports.map((p) => p.id)).toContain('127.0.0.1:8081');
    expect(s).toMatchObject({ portFormOpen: false, portDraft: { port: '' }, portSubmitted: false });
  });

  it('a server refusal stays by the form with its code, until the user edits', async () => {
    const { store, actions } = setup(limitedState());
    actions.editPortField('port', '80');
    actions.editPortField('targetPort', '8080');
    expect(await actions.addPort()).toBe(false);
    expect(store.getState().errors[ADD_PORT_KEY]).toEqual({ code: 'HELPER_NEEDED', message: 'Port 80 needs the helper with privileged port mapping on.' });
    expect(store.getState().portDraft.port).toBe('80');
    actions.editPortField('port', '8080');
    expect(store.getState().errors[ADD_PORT_KEY]).toBeUndefined();
  });

  it('a locked setting answers LOCKED and nothing changes', async () => {
    const { store, actions } = setup(lockedPolicyState());
    const before = store.getState().backend?.settings;
    await actions.setSetting({ key: 'privilegedPortMapping', value: true });
    expect(store.getState().errors[settingKey('privilegedPortMapping')]?.code).toBe('LOCKED');
    expect(store.getState().backend?.settings).toEqual(before);
  });

  it('a setting change lands in the mirror', async () => {
    const { store, actions } = setup();
    await actions.setSetting({ key: 'startAtLogin', value: true });
    expect(store.getState().backend?.settings.startAtLogin).toBe(true);
    expect(store.getState().pending).toEqual({});
  });

  it('a changed setting shows as chosen while it is applied; a refusal puts the backend value back', async () => {
    const { store: running, actions: runningActions } = setup();
    expect(running.getState().backend?.settings.cliToolsLocation).toBe('system');
    const applied = runningActions.setSetting({ key: 'cliToolsLocation', value: 'user' });
    expect(shownSetting(running.getState(), 'cliToolsLocation')).toBe('user');
    await applied;
    expect(running.getState().backend?.settings.cliToolsLocation).toBe('user');
    expect(running.getState().requestedSettings).toEqual({});

    const { store, actions } = setup(lockedPolicyState());
    const backendValue = store.getState().backend?.settings.privilegedPortMapping;
    const refused = actions.setSetting({ key: 'privilegedPortMapping', value: !backendValue });
    expect(shownSetting(store.getState(), 'privilegedPortMapping')).toBe(!backendValue);
    await refused;
    expect(shownSetting(store.getState(), 'privilegedPortMapping')).toBe(backendValue);
    expect(store.getState().errors[settingKey('privilegedPortMapping')]?.code).toBe('LOCKED');
  });

  it('removes a port; removing it again reports NOT_FOUND under that port', async () => {
    const { store, actions } = setup();
    const key = { address: '127.0.0.1', port: 80 };
    await actions.removePort(key);
    expect(store.getState().backend?.ports.map((p) => p.id)).toEqual(['0.0.0.0:5173']);
    await actions.removePort(key);
    expect(store.getState().errors[removeKey(key)]?.code).toBe('NOT_FOUND');
  });

  it('a second click while a call runs does not send it twice', async () => {
    const { actions, calls } = setup();
    await Promise.all([actions.diagnose(), actions.diagnose()]);
    expect(calls.filter((m) => m === 'diagnose')).toHaveLength(1);
  });

  it('loads the audit log, dismisses notices, declines an update', async () => {
    const state = lockedPolicyState();
    state.capabilities.helper = { ...state.capabilities.helper, state: 'needs-update', bundledVersion: '0.2.0' };
    const { store, actions } = setup(state);
    await actions.loadAudit();
    expect(store.getState().audit).toMatchObject({ loaded: true, error: null });
    expect(store.getState().audit.lines.length).toBeGreaterThan(0);
    await actions.dismissNotice('policy');
    expect(store.getState().backend?.notices).toEqual([]);
    await actions.declineUpdate();
    expect(store.getState().backend?.settings.helperUpdateAskedFor).toBe('0.2.0');
  });

  it('after Quit, the page knows the app ended (and does not wait for it)', async () => {
    const { store, actions, calls } = setup();
    expect(store.getState().ended).toBe(false);
    await actions.quit();
    expect(calls).toContain('app.quit');
    expect(store.getState().ended).toBe(true);
  });

  it('outside Electron, Settings opens in this page without a call', async () => {
    const { actions, calls } = setup();
    expect(await actions.openSettings()).toBe(false);
    expect(calls).not.toContain('app.openSettings');
  });

  it('a call the API refuses by schema reports INVALID', async () => {
    const { store, actions } = setup();
    // An id longer than the schema allows: the API's own gate refuses it.
    await actions.dismissNotice('x'.repeat(101));
    expect(store.getState().errors[`notices.dismiss:${'x'.repeat(101)}`]?.code).toBe('INVALID');
  });
});
