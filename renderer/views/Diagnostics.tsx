import { ActionErrorText } from '../components/ActionErrorText';
import { useBerth } from '../state/context';

/** The diagnostics run: progress while it gathers, then where the archive is. */
export function DiagnosticsStatus() {
  const diagnostics = useBerth((s) => s.backend?.diagnostics);
  const error = useBerth((s) => s.errors.diagnose);
  if (diagnostics === undefined) return null;
  const percent = Math.round(diagnostics.progress * 100);
  return (
    <div className="diagnostics" role="status">
      {diagnostics.state === 'running' && (
        <div className="card">
          <p className="diag-title">Gathering diagnostics… {percent}%</p>
          <progress className="progress" max={1} value={diagnostics.progress} aria-label="Diagnostics progress" />
          {diagnostics.step !== null && <p className="muted">{diagnostics.step}</p>}
        </div>
      )}
      {diagnostics.state === 'done' && diagnostics.path !== null && (
        <div className="card">
          <p className="diag-title">Diagnostics saved</p>
          <p className="path mono" tabIndex={0} aria-label={`Diagnostics file: ${diagnostics.path}`}>
            {diagnostics.path}
          </p>
        </div>
      )}
      {diagnostics.state === 'failed' && (
        <div className="card tone-error">
          <p className="diag-title error-text">Diagnostics failed</p>
          <p>{diagnostics.error ?? 'The bundle could not be written.'}</p>
        </div>
      )}
      <ActionErrorText error={error} />
    </div>
  );
}
