/**
 * Which view a window shows: Electron opens index.html#popover, #settings or
 * #consent; a browser tab may use the hash or ?view=. `?theme=dark|light`
 * overrides the system's color scheme (for screenshots). #add-port is the
 * popover with its add-port form open (the tray menu's "Add port…"): an
 * intent, which the page carries out once and then drops from the address.
 */

export const VIEWS = ['popover', 'settings', 'consent'] as const;
export type View = (typeof VIEWS)[number];
export type ThemeOverride = 'light' | 'dark' | null;
export type Intent = 'add-port' | null;

export interface Route {
  view: View;
  theme: ThemeOverride;
  intent: Intent;
}

const isView = (value: string): value is View => (VIEWS as readonly string[]).includes(value);

export function parseRoute(href: string): Route {
  const url = new URL(href);
  const fromHash = url.hash.replace(/^#\/?/, '');
  const fromQuery = url.searchParams.get('view') ?? '';
  const intent: Intent = fromHash === 'add-port' ? 'add-port' : null;
  const view: View = isView(fromHash) ? fromHash : isView(fromQuery) && intent === null ? fromQuery : 'popover';
  const themeParam = url.searchParams.get('theme');
  const theme: ThemeOverride = themeParam === 'dark' || themeParam === 'light' ? themeParam : null;
  return { view, theme, intent };
}

export const VIEW_TITLE: Record<View, string> = {
  popover: 'Berth',
  settings: 'Berth Settings',
  consent: 'Welcome to Berth',
};
