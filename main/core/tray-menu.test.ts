import { describe, expect, it } from 'vitest';
import { API_METHODS, isApiMethod, type BackendState } from '../../common/api/backend-api';
import { helperState, type HelperStateName } from '../../common/api/capabilities';
import { FIXTURES, helperWords, runningState, troubleState } from '../../common/api/state-fixtures';
import {
  CHECK_AGAIN_LABEL,
  ENROL_LABEL,
  INSTALL_LABEL,
  REINSTALL_LABEL,
  START_LABEL,
  summarizeHelper,
  UPDATE_LABEL,
} from '../../common/helper/summary';
import type { MappingStatus } from '../../common/ports/mapping';
import {
  clickOpensPopover,
  MAX_LABEL,
  MAX_PORT_ROWS,
  SHELL_ACTIONS,
  shorten,
  TRAY_ACTION_TARGETS,
  trayIconName,
  trayMenu,
  trayMenuKey,
  trayReplyMessage,
  trayTarget,
  trayToolTip,
  type TrayAction,
  type TrayIcon,
  type TrayActionId,
  type TrayMenuItem,
} from './tray-menu';

/** "label" for an enabled item, "(label)" for a disabled one, "---" for a separator; a submenu's items indented under it. */
function outline(items: TrayMenuItem[], indent = ''): string[] {
  return items.flatMap((item) => {
    if (item.type === 'separator') return [`${indent}---`];
    const line = `${indent}${item.enabled ? item.label : `(${item.label})`}`;
    return [line, ...(item.submenu !== undefined ? outline(item.submenu, `${indent}  `) : [])];
  });
}

function find(items: TrayMenuItem[], label: string): TrayMenuItem {
  const found = items.find((item) => item.label === label);
  if (found === undefined) throw new Error(`no "${label}" in ${JSON.stringify(outline(items))}`);
  return found;
}

/** Every action anywhere in a menu, submenus included. */
function actions(items: TrayMenuItem[]): TrayAction[] {
  return items.flatMap((item) => [...(item.action !== null ? [item.action] : []), ...actions(item.submenu ?? [])]);
}

/** A state with the helper in `helper`, the rest as in the running fixture. */
function withHelper(helper: HelperStateName, consent: BackendState['settings']['consent'] = 'install'): BackendState {
  const state = runningState();
  // The diagnosis as the backend would give it for that state (its words are the summary's).
  state.capabilities.helper = { ...state.capabilities.helper, state: helper, ...helperWords(helper) };
  if (helper === 'user-mode') state.capabilities.userMode = { user: 'ada', uid: 1000, limits: [] };
  state.settings = { ...state.settings, consent };
  return state;
}

function port(address: string, portNumber: number, extra: Partial<MappingStatus> = {}): MappingStatus {
  return { ...runningState().ports[0]!, id: `${address}:${portNumber}`, spec: { address, port: portNumber, target: { host: 'localhost', port: 3000 } }, via: 'direct', ...extra };
}

describe('the tray menu', () => {
  it('reads, with the helper running and two ports: status, ports, add, the app actions, Quit', () => {
    expect(outline(trayMenu(runningState()))).toEqual([
      '(Helper running)',
      '---',
      '127.0.0.1:80 → localhost:8080 — Listening',
      '  Remove',
      '0.0.0.0:5173 → localhost:5173 — Listening',
      '  Remove',
      'Add port…',
      '---',
      'Open Berth…',
      'Settings…',
      'Diagnose',
      '---',
      'Quit Berth',
    ]);
  });

  it('says what the popover says about the helper: its status line is summarizeHelper’s title, its detail the tooltip', () => {
    for (const fixture of Object.values(FIXTURES)) {
      const state = fixture();
      const [status] = trayMenu(state);
      const summary = summarizeHelper(state);
      expect(status).toEqual({ type: 'normal', label: summary.title, enabled: false, action: null, toolTip: summary.detail });
      expect(trayToolTip(state, '1.2.3')).toBe(`Berth 1.2.3 — ${summary.title}`);
    }
  });

  // The item under the status line: the one fix the popover's card offers first, or nothing when all is well.
  const FIX: Record<HelperStateName, [label: string, action: TrayActionId] | null> = {
    running: null,
    'user-mode': null,
    'not-installed': [INSTALL_LABEL, 'install-helper'],
    'not-running': [START_LABEL, 'install-helper'],
    'no-permission': [REINSTALL_LABEL, 'install-helper'],
    'not-enrolled': [ENROL_LABEL, 'install-helper'],
    'needs-update': [UPDATE_LABEL, 'install-helper'],
    error: [CHECK_AGAIN_LABEL, 'check-again'],
  };

  it.each(helperState.options)('helper %s: the status line, then its fix', (helper) => {
    const menu = trayMenu(withHelper(helper));
    expect(menu[0]!.enabled).toBe(false);
    const fix = FIX[helper];
    if (fix === null) expect(menu[1]!.type).toBe('separator');
    else expect(menu[1]).toEqual({ type: 'normal', label: fix[0], enabled: true, action: { id: fix[1] } });
  });

  it('first run (not answered yet): "Set up Berth…" opens the popover, whose consent screen explains before any password prompt', () => {
    for (const state of [FIXTURES['first-run'](), FIXTURES['not-enrolled']()]) {
      expect(trayMenu(state)[1]).toEqual({ type: 'normal', label: 'Set up Berth…', enabled: true, action: { id: 'open-berth' } });
    }
  });

  it('limited mode offers the install; user mode offers nothing to install and still lists its port', () => {
    expect(outline(trayMenu(FIXTURES.limited())).slice(0, 2)).toEqual(['(Limited mode)', INSTALL_LABEL]);
    expect(outline(trayMenu(FIXTURES['user-mode']()))).toEqual([
      '(User mode)',
      '---',
      '127.0.0.1:8443 → localhost:443 — Listening',
      '  Remove',
      'Add port…',
      '---',
      'Open Berth…',
      'Settings…',
      'Diagnose',
      '---',
      'Quit Berth',
    ]);
  });

  it('while a password prompt is open, says so instead of offering another', () => {
    const state = withHelper('not-installed');
    state.prompt = 'install';
    expect(outline(trayMenu(state)).slice(0, 3)).toEqual(['(Helper not installed)', '(Waiting for your password…)', '---']);
  });

  it('sends an install from an unsafe location to Settings, which shows why before "Install anyway"', () => {
    const state = withHelper('needs-update');
    state.capabilities.helper.installWarning = 'Berth is in /home/ada/Apps, which ada can change.';
    expect(trayMenu(state)[1]).toEqual({ type: 'normal', label: 'Review helper install…', enabled: true, action: { id: 'settings' } });
  });

  it('shows each port state in words, and a port that is not listening says why in its submenu', () => {
    const state = troubleState();
    state.ports.unshift(port('::1', 8080, { state: 'starting' }));
    const lines = outline(trayMenu(state));
    expect(lines.slice(lines.indexOf('---') + 1, lines.indexOf('Add port…'))).toEqual([
      '[::1]:8080 → localhost:3000 — Starting',
      '  Remove',
      '127.0.0.1:443 → localhost:8443 — Blocked by Example Corp',
      '  (Port 443 needs the privileged helper, and privileged port…)',
      '  ---',
      '  Remove',
      '192.168.1.20:8080 → localhost:8080 — Waiting',
      '  (192.168.1.20 is not an address of this machine.)',
      '  ---',
      '  Remove',
      // The popover's word for a port the policy refuses: nothing here changes it.
      '127.0.0.1:3000 → localhost:3001 — Blocked by Example Corp',
      '  (127.0.0.1:3000 is not allowed by Example Corp policy v3: port…)',
      '  ---',
      '  Remove',
    ]);
    // The whole cause is the tooltip; the label is cut at a word.
    const waiting = find(trayMenu(state), '127.0.0.1:443 → localhost:8443 — Blocked by Example Corp').submenu![0]!;
    expect(waiting.toolTip).toBe(
      'Port 443 needs the privileged helper, and privileged port mapping is turned off by Example Corp policy v3: choose a port from 1024 up.',
    );
    expect(find(trayMenu(state), '127.0.0.1:3000 → localhost:3001 — Blocked by Example Corp').submenu!.at(-1)!.action).toEqual({
      id: 'remove-port',
      args: { address: '127.0.0.1', port: 3000 },
    });
  });

  it('lists no more than ten ports; "N more…" opens the port panel', () => {
    const state = runningState();
    state.ports = Array.from({ length: 25 }, (_, i) => port('127.0.0.1', 3000 + i));
    const menu = trayMenu(state);
    const rows = menu.filter((item) => item.type === 'submenu');
    expect(rows).toHaveLength(MAX_PORT_ROWS);
    expect(rows.map((r) => r.label).at(-1)).toBe('127.0.0.1:3009 → localhost:3000 — Listening');
    expect(find(menu, '15 more…')).toEqual({ type: 'normal', label: '15 more…', enabled: true, action: { id: 'open-berth' } });
    state.ports = state.ports.slice(0, MAX_PORT_ROWS);
    expect(outline(trayMenu(state)).some((line) => line.endsWith('more…'))).toBe(false);
  });

  it('with no ports: says so, and Add port… opens the popover on its form', () => {
    const state = runningState();
    state.ports = [];
    const lines = outline(trayMenu(state));
    expect(lines.slice(1, 4)).toEqual(['---', '(No published ports)', 'Add port…']);
    expect(find(trayMenu(state), 'Add port…').action).toEqual({ id: 'add-port' });
  });

  it('while diagnostics run: "Diagnose" becomes its progress, disabled; once done, the bundle can be shown', () => {
    const running = troubleState();
    const menu = trayMenu(running);
    expect(find(menu, 'Diagnosing… 60%')).toEqual({ type: 'normal', label: 'Diagnosing… 60%', enabled: false, action: null, toolTip: 'privileged trace (3 of 5 s)' });
    expect(outline(menu)).not.toContain('Diagnose');
    const done = runningState();
    done.diagnostics = { state: 'done', step: null, progress: 1, path: '/home/ada/berth-diagnostics.tar.gz', error: null };
    expect(outline(trayMenu(done)).slice(-5)).toEqual(['Settings…', 'Diagnose', 'Show diagnostics bundle', '---', 'Quit Berth']);
    expect(find(trayMenu(done), 'Show diagnostics bundle').action).toEqual({ id: 'reveal-diagnostics' });
    const failed = runningState();
    failed.diagnostics = { state: 'failed', step: null, progress: 0.3, path: null, error: 'disk full' };
    expect(find(trayMenu(failed), 'Diagnose').enabled).toBe(true);
  });

  it('keeps its key while only traffic changes (no rebuild), and changes it when a port changes state', () => {
    const before = runningState();
    const traffic = runningState();
    traffic.ports[0]!.connections = { active: 9, total: 999, failed: 3 };
    traffic.ports[0]!.bytes = { in: 1, out: 2 };
    expect(trayMenuKey(trayMenu(traffic))).toBe(trayMenuKey(trayMenu(before)));
    const waiting = runningState();
    waiting.ports[0]!.state = 'waiting';
    expect(trayMenuKey(trayMenu(waiting))).not.toBe(trayMenuKey(trayMenu(before)));
  });

  it('keeps every label short', () => {
    const state = troubleState();
    state.capabilities.helper.message = 'x'.repeat(300);
    for (const fixture of [...Object.values(FIXTURES).map((f) => f()), state]) {
      const labels = outline(trayMenu(fixture)).map((line) => line.trim().replace(/^\((.*)\)$/, '$1'));
      // A port's route is as long as its addresses; everything else fits MAX_LABEL.
      for (const label of labels.filter((l) => !l.includes(' → '))) expect(label.length).toBeLessThanOrEqual(MAX_LABEL);
    }
    expect(shorten('short')).toBe('short');
    expect(shorten(`${'word '.repeat(30)}end`)).toBe(`${'word '.repeat(11)}word…`);
    expect(shorten('y'.repeat(100))).toBe(`${'y'.repeat(MAX_LABEL - 1)}…`);
  });
});

describe('the tray menu’s actions', () => {
  it('each id maps to a backend API method, or to a window/shell action the Electron glue implements', () => {
    for (const [id, target] of Object.entries(TRAY_ACTION_TARGETS)) {
      if ('method' in target) expect([id, isApiMethod(target.method)]).toEqual([id, true]);
      else expect([id, (SHELL_ACTIONS as readonly string[]).includes(target.shell)]).toEqual([id, true]);
    }
    expect(Object.keys(TRAY_ACTION_TARGETS).sort()).toEqual(
      ['add-port', 'check-again', 'diagnose', 'install-helper', 'open-berth', 'quit', 'remove-port', 'reveal-diagnostics', 'settings'].sort(),
    );
  });

  it('every action any menu offers becomes a call whose params the backend’s schema accepts', () => {
    const states = [...Object.values(FIXTURES).map((f) => f()), ...helperState.options.map((h) => withHelper(h))];
    const done = runningState();
    done.diagnostics = { state: 'done', step: null, progress: 1, path: '/tmp/b.tar.gz', error: null };
    states.push(done);
    const seen = new Set<TrayActionId>();
    for (const state of states) {
      for (const action of actions(trayMenu(state))) {
        seen.add(action.id);
        const target = trayTarget(action);
        if ('method' in target) {
          const parsed = API_METHODS[target.method].params.safeParse(target.params);
          expect([action.id, parsed.success]).toEqual([action.id, true]);
        } else expect(SHELL_ACTIONS).toContain(target.shell);
      }
    }
    // The fixtures reach every action, so none is untested.
    expect([...seen].sort()).toEqual(Object.keys(TRAY_ACTION_TARGETS).sort());
  });

  it('maps the actions to what they do', () => {
    expect(trayTarget({ id: 'quit' })).toEqual({ method: 'app.quit', params: {} });
    expect(trayTarget({ id: 'settings' })).toEqual({ method: 'app.openSettings', params: {} });
    expect(trayTarget({ id: 'diagnose' })).toEqual({ method: 'diagnose', params: {} });
    expect(trayTarget({ id: 'install-helper' })).toEqual({ method: 'helper.install', params: {} });
    expect(trayTarget({ id: 'check-again' })).toEqual({ method: 'capabilities.refresh', params: {} });
    expect(trayTarget({ id: 'remove-port', args: { address: '::1', port: 80 } })).toEqual({ method: 'ports.remove', params: { address: '::1', port: 80 } });
    expect(trayTarget({ id: 'add-port' })).toEqual({ shell: 'add-port' });
    expect(trayTarget({ id: 'open-berth' })).toEqual({ shell: 'popover' });
  });

  it('tells the user what went wrong after a menu action, and nothing after success or their own cancel', () => {
    const install = trayTarget({ id: 'install-helper' });
    const remove = trayTarget({ id: 'remove-port', args: { address: '127.0.0.1', port: 80 } });
    expect(trayReplyMessage(remove, { ok: false, error: { code: 'NOT_FOUND', message: 'nothing is published on 127.0.0.1:80' } })).toBe(
      'Nothing is published on 127.0.0.1:80.',
    );
    expect(trayReplyMessage(remove, { ok: true, result: { removed: true } })).toBeNull();
    expect(trayReplyMessage(install, { ok: true, result: { kind: 'not-authorized', message: 'the system refused the request' } })).toBe(
      'The system refused the request.',
    );
    expect(trayReplyMessage(install, { ok: true, result: { kind: 'cancelled', message: 'the prompt was cancelled' } })).toBeNull();
    expect(trayReplyMessage(install, { ok: true, result: { kind: 'approved', message: 'installed' } })).toBeNull();
  });
});

describe('the tray icon', () => {
  it('has one shape per kind of helper state, from the same summary as the status line', () => {
    const expected: Record<HelperStateName, TrayIcon> = {
      running: 'running',
      'user-mode': 'user-mode',
      'not-installed': 'attention',
      'not-running': 'attention',
      'needs-update': 'attention',
      'not-enrolled': 'attention',
      'no-permission': 'error',
      error: 'error',
    };
    for (const helper of helperState.options) expect([helper, trayIconName(withHelper(helper))]).toEqual([helper, expected[helper]]);
    // "Not now": limited, not a warning.
    expect(trayIconName(FIXTURES.limited())).toBe('limited');
    expect(trayIconName(withHelper('not-enrolled', 'limited'))).toBe('limited');
  });

  it('opens the menu on a click on macOS, the port panel elsewhere (Linux indicators only have the menu)', () => {
    expect(clickOpensPopover('darwin')).toBe(false);
    expect(clickOpensPopover('linux')).toBe(true);
    expect(clickOpensPopover('win32')).toBe(true);
  });
});
