import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connectTransport } from './bridge';
import { createBerthStore } from './state/store';
import { App } from './views/App';
import { FatalScreen } from './views/FatalScreen';
import './styles/app.css';

// The app entry: pick the transport (Electron's preload, or the browser
// bridge), make the one store, and render the view the URL names.
const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root');
const root = createRoot(container);
const transport = connectTransport(window);
if (transport.ok) {
  const store = createBerthStore(transport.api);
  root.render(
    <StrictMode>
      <App store={store} />
    </StrictMode>,
  );
} else {
  root.render(<FatalScreen title="Berth cannot connect" message={transport.message} />);
}
