/**
 * Which view a window shows: Electron opens index.html#popover, #settings or
 * #consent; a browser tab may use the hash or ?view=. `?theme=dark|light`
 * overrides the system's color scheme (for screenshots).
 */

export const VIEWS = ['popover', 'settings', 'consent'] as const;
export type View = (typeof VIEWS)[number];
export type ThemeOverride = 'light' | 'dark' | null;

export interface Route {
  view: View;
  theme: ThemeOverride;
}

const isView = (value: string): value is View => (VIEWS as readonly string[]).includes(value);

export function parseRoute(href: string): Route {
  const url = new URL(href);
  const fromHash = url.hash.replace(/^#\/?/, '');
  const fromQuery = url.searchParams.get('view') ?? '';
  const view: View = isView(fromHash) ? fromHash : isView(fromQuery) ? fromQuery : 'popover';
  const themeParam = url.searchParams.get('theme');
  const theme: ThemeOverride = themeParam === 'dark' || themeParam === 'light' ? themeParam : null;
  return { view, theme };
}

export const VIEW_TITLE: Record<View, string> = {
  popover: 'Berth',
  settings: 'Berth Settings',
  consent: 'Welcome to Berth',
};
