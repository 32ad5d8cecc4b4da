import { API_METHODS, type ApiMethod, type ApiParams, type BackendState } from '../../common/api/backend-api';
import { needsConsent, summarizeHelper } from '../../common/helper/summary';
import { routeText } from '../../common/ports/labels';
import { mappingStateLabel, policyView, type PolicyView } from '../../common/ports/waiting';
import type { MappingKey, MappingStatus } from '../../common/ports/mapping';
import { asSentence } from '../../common/sentence';
import type { CallReply } from './api/dispatch';

/**
 * The tray's native menu, its icon and its tooltip as a pure function of the
 * backend's state (the way Docker, OrbStack and Rancher show a status line,
 * the few things one acts on, and Quit). No Electron here: the Electron glue
 * (main/electron/tray.ts) turns the tree into a Menu and each action into a
 * backend call or a window, so all of it is tested under plain Node.
 */

/** What a menu item does: an id, and the arguments the id needs. */
export type TrayAction =
  | { id: 'open-berth' }
  | { id: 'add-port' }
  | { id: 'reveal-diagnostics' }
  | { id: 'install-helper' }
  | { id: 'check-again' }
  | { id: 'settings' }
  | { id: 'diagnose' }
  | { id: 'quit' }
  | { id: 'remove-port'; args: MappingKey };
export type TrayActionId = TrayAction['id'];

/** What the shell does itself, with no backend call: show a window, or the bundle in the file manager. */
export const SHELL_ACTIONS = ['popover', 'add-port', 'reveal-diagnostics'] as const;
export type ShellAction = (typeof SHELL_ACTIONS)[number];

/**
 * Each action id's one target: a backend API method (the same gate the
 * popover and the CLI go through) or a shell action.
 */
export const TRAY_ACTION_TARGETS = {
  'open-berth': { shell: 'popover' },
  'add-port': { shell: 'add-port' },
  'reveal-diagnostics': { shell: 'reveal-diagnostics' },
  'install-helper': { method: 'helper.install' },
  'check-again': { method: 'capabilities.refresh' },
  settings: { method: 'app.openSettings' },
  diagnose: { method: 'diagnose' },
  quit: { method: 'app.quit' },
  'remove-port': { method: 'ports.remove' },
} as const satisfies Record<TrayActionId, { method: ApiMethod } | { shell: ShellAction }>;

export type TrayTarget = { [M in ApiMethod]: { method: M; params: ApiParams<M> } }[ApiMethod] | { shell: ShellAction };

/** The call (method and params, checked by the backend's gate like any other) or the shell action behind an item. */
export function trayTarget(action: TrayAction): TrayTarget {
  const target = TRAY_ACTION_TARGETS[action.id];
  if ('shell' in target) return { shell: target.shell };
  if (action.id === 'remove-port') return { method: 'ports.remove', params: { address: action.args.address, port: action.args.port } };
  // Every other method the menu calls takes no params.
  return { method: target.method, params: {} } as TrayTarget;
}

export interface TrayMenuItem {
  type: 'normal' | 'separator' | 'submenu';
  label: string;
  enabled: boolean;
  /** Shown on hover where the platform has item tooltips (macOS); the label stays short. */
  toolTip?: string;
  action: TrayAction | null;
  submenu?: TrayMenuItem[];
}

/** How many ports the menu lists; the rest are "N more…", which opens the port panel. */
export const MAX_PORT_ROWS = 10;
/** A label longer than this is cut at a word, with "…" (the whole text is in its tooltip). */
export const MAX_LABEL = 64;

const SEPARATOR: TrayMenuItem = { type: 'separator', label: '', enabled: true, action: null };

function item(label: string, action: TrayAction | null, enabled = action !== null): TrayMenuItem {
  return { type: 'normal', label, enabled, action };
}

/** "The port needs the helper, and …" cut at a word to fit a menu. */
export function shorten(text: string, max = MAX_LABEL): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/, '')}…`;
}

/** "127.0.0.1:80 → localhost:8080 — Listening". */
export function portLabel(mapping: Pick<MappingStatus, 'spec' | 'state' | 'error'>, policy: PolicyView): string {
  return `${routeText(mapping.spec)} — ${mappingStateLabel(mapping, policy)}`;
}

/**
 * One port: its route and state, and a submenu with why it is not listening
 * (the cause only: a countdown would be stale in a menu) and Remove.
 */
function portItem(mapping: MappingStatus, policy: PolicyView): TrayMenuItem {
  const submenu: TrayMenuItem[] = [];
  if (mapping.error !== null && mapping.state !== 'listening') {
    const cause = asSentence(mapping.error.message);
    submenu.push({ ...item(shorten(cause), null), toolTip: cause }, SEPARATOR);
  }
  submenu.push(item('Remove', { id: 'remove-port', args: { address: mapping.spec.address, port: mapping.spec.port } }));
  return { type: 'submenu', label: portLabel(mapping, policy), enabled: true, action: null, submenu };
}

/** The helper's status line (the same words as the popover's card), and the one thing that fixes it. */
function helperItems(state: BackendState): TrayMenuItem[] {
  const summary = summarizeHelper(state);
  const status = { ...item(summary.title, null), toolTip: summary.detail };
  if (state.prompt !== null) return [status, item('Waiting for your password…', null)];
  // First run: the popover's consent screen says what the helper does before anything asks for a password.
  if (needsConsent(state)) return [status, item('Set up Berth…', { id: 'open-berth' })];
  const fix = summary.primary;
  if (fix === null || fix.kind === 'decline-update') return [status];
  if (fix.kind === 'refresh') return [status, item(fix.label, { id: 'check-again' })];
  // Someone other than root can change the helper: Settings shows why and asks before "Install anyway".
  if (state.capabilities.helper.installWarning !== null) return [status, item('Review helper install…', { id: 'settings' })];
  return [status, item(fix.label, { id: 'install-helper' })];
}

function portItems(state: BackendState): TrayMenuItem[] {
  const rows = state.ports.slice(0, MAX_PORT_ROWS).map((mapping) => portItem(mapping, policyView(state)));
  const more = state.ports.length - rows.length;
  return [
    ...(rows.length === 0 ? [item('No published ports', null)] : rows),
    ...(more > 0 ? [item(`${more} more…`, { id: 'open-berth' })] : []),
    item('Add port…', { id: 'add-port' }),
  ];
}

function diagnosticsItems(state: BackendState): TrayMenuItem[] {
  const d = state.diagnostics;
  if (d.state === 'running') {
    const percent = Math.round(d.progress * 100);
    return [{ ...item(`Diagnosing… ${percent}%`, null), ...(d.step !== null ? { toolTip: d.step } : {}) }];
  }
  const diagnose = item('Diagnose', { id: 'diagnose' });
  if (d.state === 'done' && d.path !== null) return [diagnose, { ...item('Show diagnostics bundle', { id: 'reveal-diagnostics' }), toolTip: d.path }];
  return [diagnose];
}

/** The whole menu: status, ports, the app's actions, Quit. */
export function trayMenu(state: BackendState): TrayMenuItem[] {
  return [
    ...helperItems(state),
    SEPARATOR,
    ...portItems(state),
    SEPARATOR,
    item('Open Berth…', { id: 'open-berth' }),
    item('Settings…', { id: 'settings' }),
    ...diagnosticsItems(state),
    SEPARATOR,
    item('Quit Berth', { id: 'quit' }),
  ];
}

/** A menu's identity: the shell rebuilds the native menu only when this changes. */
export function trayMenuKey(menu: TrayMenuItem[]): string {
  return JSON.stringify(menu);
}

/** The tray's state icons (scripts/tray-icons.mjs draws each shape). */
export const TRAY_ICONS = ['running', 'user-mode', 'error', 'attention', 'limited'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

/** The icon for the helper's state, from the same summary the status line reads. */
export function trayIconName(state: BackendState): TrayIcon {
  const helper = state.capabilities.helper.state;
  if (helper === 'running') return 'running';
  if (helper === 'user-mode') return 'user-mode';
  switch (summarizeHelper(state).tone) {
    case 'error':
      return 'error';
    case 'warning':
      return 'attention';
    default:
      return 'limited';
  }
}

export function trayToolTip(state: BackendState, version: string): string {
  return `Berth ${version} — ${summarizeHelper(state).title}`;
}

/**
 * What the user is told after a menu action, which has no window to show an
 * error in: a failed call's message, or a prompt that did not go through
 * (a cancelled prompt was the user's own choice: nothing to say). Null: the
 * menu and the icon show the outcome by themselves.
 */
export function trayReplyMessage(target: TrayTarget, reply: CallReply): string | null {
  if (!reply.ok) return asSentence(reply.error.message);
  if ('method' in target && target.method === 'helper.install') {
    const outcome = API_METHODS['helper.install'].result.safeParse(reply.result);
    if (outcome.success && outcome.data.kind !== 'approved' && outcome.data.kind !== 'cancelled') return asSentence(outcome.data.message);
  }
  return null;
}

/**
 * What a click on the icon does, as the peers do: on macOS the menu opens
 * (the port panel is one item away); on Windows a click opens the port panel
 * and a right-click the menu; Linux app indicators deliver no clicks, only the menu.
 */
export function clickOpensPopover(platform: NodeJS.Platform): boolean {
  return platform !== 'darwin';
}
