import { useEffect, useState } from 'react';
import type { StoreApi } from 'zustand/vanilla';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { parseRoute, VIEW_TITLE, type Route, type ThemeOverride } from '../route';
import { StoreProvider, useBerth } from '../state/context';
import type { BerthStore } from '../state/store';
import { ConsentView } from './Consent';
import { FatalScreen } from './FatalScreen';
import { Popover } from './Popover';
import { SettingsView } from './Settings';

/** `?theme=` wins over the system's scheme; without it, CSS follows prefers-color-scheme. */
function applyTheme(theme: ThemeOverride): void {
  if (theme === null) delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

function useRoute(store: StoreApi<BerthStore>): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.href));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.href));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  useEffect(() => {
    if (route.intent !== 'add-port') return;
    store.getState().actions.setPortFormOpen(true);
    // Carried out once: the address goes back to the view, so the next "Add port…" is a change again.
    window.history.replaceState(null, '', `#${route.view}`);
    setRoute(parseRoute(window.location.href));
  }, [route, store]);
  return route;
}

function Shell({ route }: { route: Route }) {
  const ready = useBerth((s) => s.backend !== null);
  const connection = useBerth((s) => s.connection);
  const kind = useBerth((s) => s.kind);
  const ended = useBerth((s) => s.ended);
  if (ended) return <FatalScreen title="Berth has quit" message="You can close this window. Start Berth again to publish ports." tone="neutral" />;
  if (!ready) {
    if (connection.status === 'failed') return <FatalScreen title="Berth cannot connect" message={connection.detail ?? 'The connection to Berth failed.'} />;
    return (
      <main className="window loading" aria-busy="true">
        <p role="status">{connection.status === 'reconnecting' ? 'Reconnecting to Berth…' : 'Connecting to Berth…'}</p>
      </main>
    );
  }
  return (
    <div className={`view view-${route.view}`}>
      <div className="connection-slot" role="status">
        <ConnectionBanner />
      </div>
      {route.view === 'popover' && <Popover />}
      {route.view === 'settings' && <SettingsView browser={kind !== 'electron'} />}
      {route.view === 'consent' && <ConsentView />}
    </div>
  );
}

export function App({ store }: { store: StoreApi<BerthStore> }) {
  const route = useRoute(store);
  useEffect(() => store.getState().actions.start(), [store]);
  useEffect(() => applyTheme(route.theme), [route.theme]);
  useEffect(() => {
    document.title = VIEW_TITLE[route.view];
  }, [route.view]);
  return (
    <StoreProvider store={store}>
      <Shell route={route} />
    </StoreProvider>
  );
}
