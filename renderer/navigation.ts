import type { View } from './route';
import { useActions } from './state/context';

/** Shows another view in this window (a browser tab, or the preview). */
export function showView(view: View): void {
  window.location.hash = view;
}

/** Settings: its own window in Electron; in a browser tab, this page switches to it. */
export function useOpenSettings(): () => Promise<void> {
  const { openSettings } = useActions();
  return async () => {
    if (!(await openSettings())) showView('settings');
  };
}
