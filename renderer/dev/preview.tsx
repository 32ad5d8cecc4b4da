import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { PromptOutcome } from '../../common/api/backend-api';
import { promptOutcome } from '../../common/api/backend-api';
import { createBerthStore } from '../state/store';
import { App } from '../views/App';
import { FIXTURES, type FixtureName } from '../../common/api/state-fixtures';
import { createStaticApi } from './static-api';
import '../styles/app.css';

/**
 * Dev-only preview: renders the app's real views over a fixture snapshot with
 * the in-page static API, so the UI can be looked at (and screenshotted)
 * without a backend. Query: ?fixture=running|first-run|not-enrolled|limited|user-mode|locked|trouble
 * &prompt=install|uninstall (a pending OS prompt) &outcome=cancelled|… (how prompts end)
 * &theme=light|dark, and #popover / #settings / #consent for the view.
 */
const params = new URLSearchParams(window.location.search);
const name = params.get('fixture') ?? 'running';
const fixture = name in FIXTURES ? FIXTURES[name as FixtureName]() : FIXTURES.running();
const prompt = params.get('prompt');
if (prompt === 'install' || prompt === 'uninstall') fixture.prompt = prompt;
const outcome = promptOutcome.shape.kind.safeParse(params.get('outcome'));
const promptKind: PromptOutcome['kind'] = outcome.success ? outcome.data : 'approved';

const store = createBerthStore(createStaticApi(fixture, { promptOutcome: promptKind }));
if (params.get('form') === 'open') {
  store.getState().actions.setPortFormOpen(true);
  for (const [field, key] of [['address', 'address'], ['port', 'port'], ['targetHost', 'host'], ['targetPort', 'tport']] as const) {
    const value = params.get(key);
    if (value !== null) store.getState().actions.editPortField(field, value);
  }
}
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App store={store} />
  </StrictMode>,
);
