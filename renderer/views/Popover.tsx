import { ActionErrorText } from '../components/ActionErrorText';
import { GearIcon, PowerIcon, PulseIcon } from '../components/icons';
import { Notices } from '../components/Notices';
import { PromptStatus } from '../components/PromptStatus';
import { needsConsent } from '../../common/helper/summary';
import { useOpenSettings } from '../navigation';
import { useActions, useBerth } from '../state/context';
import { Consent } from './Consent';
import { DiagnosticsStatus } from './Diagnostics';
import { HelperCard } from './HelperCard';
import { PortsPanel } from './PortsPanel';

/** The tray popover: helper state and its fix, published ports, and the app's few actions. */
export function Popover() {
  const backend = useBerth((s) => s.backend);
  const diagnosing = useBerth((s) => s.pending.diagnose === true || s.backend?.diagnostics.state === 'running');
  const quitting = useBerth((s) => s.pending['app.quit'] === true);
  const quitError = useBerth((s) => s.errors['app.quit']);
  const settingsError = useBerth((s) => s.errors['app.openSettings']);
  const { diagnose, quit } = useActions();
  const openSettings = useOpenSettings();
  if (backend === null) return null;
  const firstRun = needsConsent(backend);
  return (
    <main className="popover">
      <header className="popover-header">
        <h1 className="app-name">Berth</h1>
      </header>
      <div className="popover-body">
        <Notices />
        {firstRun ? (
          <Consent headingLevel={2} />
        ) : (
          <>
            <PromptStatus />
            <HelperCard />
            <PortsPanel />
          </>
        )}
        <DiagnosticsStatus />
        <ActionErrorText error={settingsError} />
        <ActionErrorText error={quitError} />
      </div>
      <footer className="popover-footer">
        <button type="button" className="button ghost" onClick={() => void openSettings()}>
          <GearIcon /> Settings…
        </button>
        <button type="button" className="button ghost" disabled={diagnosing} onClick={() => void diagnose()}>
          <PulseIcon /> Diagnose
        </button>
        <button type="button" className="button ghost" disabled={quitting} onClick={() => void quit()}>
          <PowerIcon /> Quit Berth
        </button>
      </footer>
    </main>
  );
}
